"""The documented cron line and systemd units are valid and run the real command."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from leadpersona.entrypoints.cli.main import app

DOCS = Path(__file__).resolve().parents[2] / "docs" / "scheduling"


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((DOCS / name).read_text())
    return parser


def _documented_command(command: str) -> list[str]:
    words = shlex.split(command)
    start = next(i for i, word in enumerate(words) if word.endswith("/bin/leadpersona"))
    end = next((i for i in range(start, len(words)) if words[i] in {">>", ">", "&&", ";"}), None)
    return words[start + 1 : end]


def test_the_service_runs_leadpersona_run_once() -> None:
    service = _unit("leadpersona-run.service")
    assert service["Service"]["Type"] == "oneshot"
    arguments = _documented_command(service["Service"]["ExecStart"])
    assert arguments == ["run"]
    assert CliRunner().invoke(app, [*arguments, "--help"]).exit_code == 0


def test_the_timer_fires_the_service_daily() -> None:
    timer = _unit("leadpersona-run.timer")
    assert timer["Timer"]["Unit"] == "leadpersona-run.service"
    assert timer["Install"]["WantedBy"] == "timers.target"
    calendar = timer["Timer"]["OnCalendar"]
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    checked = subprocess.run(
        ["systemd-analyze", "calendar", calendar], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr
    assert "Normalized form: *-*-* 03:15:00" in checked.stdout


def test_the_crontab_line_is_daily_and_runs_leadpersona_run() -> None:
    lines = [
        line
        for line in (DOCS / "crontab").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert len(lines) == 1
    minute, hour, day, month, weekday, command = lines[0].split(maxsplit=5)
    assert 0 <= int(minute) < 60 and 0 <= int(hour) < 24
    assert (day, month, weekday) == ("*", "*", "*")
    assert _documented_command(command) == ["run"]
