"""The CLI skeleton: version, help, init, configuration errors."""

from __future__ import annotations

import gc
import json
import warnings

import pytest
from typer.testing import CliRunner

from leadpersona import __version__
from leadpersona.config import Settings
from leadpersona.entrypoints.cli.main import app

runner = CliRunner()


def test_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"leadpersona {__version__}"


def test_every_command_has_help() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("init", "demo"):
        assert name in result.stdout
        sub = runner.invoke(app, [name, "--help"])
        assert sub.exit_code == 0
        assert len(sub.stdout.strip()) > 0


def test_init_is_idempotent(settings_env: Settings) -> None:
    first = runner.invoke(app, ["init", "--json"])
    assert first.exit_code == 0, first.stderr
    second = runner.invoke(app, ["init", "--json"])
    assert second.exit_code == 0, second.stderr
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert one == two
    names = {c["name"]: c for c in one["collections"]}
    assert "email" in names["leads"]["indexes"]
    assert settings_env.mapping_csv_path.exists()


def test_invalid_configuration_is_one_line_and_non_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADPERSONA_LINKEDIN_RATE_LIMIT", "-3")
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: invalid configuration: LEADPERSONA_LINKEDIN_RATE_LIMIT")


def test_unreachable_database_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "LEADPERSONA_MONGODB_URI", "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300"
    )
    result = runner.invoke(app, ["init"])
    # PyMongo's async monitor leaves the socket of a refused connection for the garbage
    # collector (mongodb/mongo-python-driver PYTHON-3923): collect it here, where it is
    # expected, rather than let its ResourceWarning fail whichever test runs next.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: cannot reach MongoDB at mongodb://127.0.0.1:1")
