"""The ``leads`` commands end to end: JSON output, exit codes, a killed import resumed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient
from typer.testing import CliRunner

from leadpersona.config import Settings
from leadpersona.entrypoints.cli.main import app
from tests.conftest import REPO

runner = CliRunner()
# Every test here runs against the test server, in a fresh database and data directory.
pytestmark = pytest.mark.usefixtures("settings_env")

CSV = (
    "First Name;Last Name;Email;Photo URL;Status\n"
    "Ada;Lovelace;ada@example.com;https://img.example.com/a.jpg;1\n"
    "Bob;Smith;bob@example.com;;\n"
    "Bad;Row;not-an-email;nope;x\n"
    "Ada;Again;ada@EXAMPLE.com;;\n"
)


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def one_json(result: Any) -> Any:
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def one_error_line(result: Any, code: int) -> str:
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "Traceback" not in result.stderr
    return str(lines[0])


def test_leads_commands_have_help() -> None:
    result = invoke("leads", "--help")
    assert result.exit_code == 0
    for name in ("import", "quarantine", "seed", "list"):
        assert name in result.stdout
        assert invoke("leads", name, "--help").exit_code == 0


def test_import_then_quarantine_then_reimport(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(CSV, encoding="utf-8")

    forecast = one_json(invoke("leads", "import", str(path), "--dry-run", "--json"))
    assert (forecast["dry_run"], forecast["inserted"], forecast["quarantined"]) == (True, 2, 2)

    report = one_json(invoke("leads", "import", str(path), "--json", "--batch-size", "2"))
    assert report["read"] == 4
    assert report["inserted"] == 2
    assert report["duplicates_in_file"] == 1
    assert report["quarantined"] == 2
    assert report["by_reason"] == {
        "duplicate_in_file": 1,
        "email_invalid": 1,
        "photo_url_invalid": 1,
        "status_not_integer": 1,
    }
    assert report["delimiter"] == ";"
    assert report["already_imported"] is False

    listing = one_json(invoke("leads", "quarantine", "--json"))
    assert listing["count"] == 2
    assert listing["by_reason"] == report["by_reason"]
    rows = {entry["row"]: entry for entry in listing["entries"]}
    assert set(rows) == {3, 4}
    assert rows[3]["raw"]["Email"] == "not-an-email"
    assert [r["code"] for r in rows[3]["reasons"]] == [
        "email_invalid",
        "status_not_integer",
        "photo_url_invalid",
    ]
    assert rows[3]["file"] == "leads.csv"
    limited = one_json(invoke("leads", "quarantine", "--json", "--limit", "1"))
    assert (limited["count"], len(limited["entries"])) == (2, 1)
    mine = one_json(invoke("leads", "quarantine", "--json", "--import", report["sha256"]))
    assert mine["count"] == 2
    other = one_json(invoke("leads", "quarantine", "--json", "--import", "0" * 64))
    assert (other["count"], other["entries"]) == (0, [])

    again = one_json(invoke("leads", "import", str(path), "--json"))
    assert again["already_imported"] is True
    assert again["inserted"] == 0
    human = invoke("leads", "import", str(path))
    assert human.exit_code == 0
    assert "already imported" in human.stdout

    listed = one_json(invoke("leads", "list", "--json", "--limit", "5"))
    assert listed["count"] == 2
    assert sorted(lead["email"] for lead in listed["leads"]) == [
        "ada@example.com",
        "bob@example.com",
    ]


def test_human_import_output(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv"
    path.write_text(CSV, encoding="utf-8")
    result = invoke("leads", "import", str(path))
    assert result.exit_code == 0, result.stderr
    for text in ("inserted", "quarantined", "status_not_integer", "leadpersona leads quarantine"):
        assert text in result.stdout
    table = invoke("leads", "quarantine")
    assert table.exit_code == 0
    assert "email_invalid" in table.stdout
    assert "quarantine: 2 rows" in table.stdout


def test_unusable_files_exit_2_with_one_line(tmp_path: Path) -> None:
    line = one_error_line(invoke("leads", "import", str(tmp_path / "missing.csv")), 2)
    assert line.startswith("error: cannot read") and "no such file" in line

    no_email = tmp_path / "no_email.csv"
    no_email.write_text("first_name,mail\nAda,ada@example.com\n")
    line = one_error_line(invoke("leads", "import", str(no_email), "--json"), 2)
    assert "no email column in the header (found 'first_name', 'mail')" in line

    latin = tmp_path / "latin.csv"
    latin.write_bytes("email,first_name\nzoe@example.com,Zoë\n".encode("latin-1"))
    line = one_error_line(invoke("leads", "import", str(latin)), 2)
    assert "is not UTF-8 text" in line

    listing = one_json(invoke("leads", "list", "--json"))
    assert listing["count"] == 0
    assert one_json(invoke("leads", "quarantine", "--json"))["count"] == 0

    bad_batch = invoke("leads", "import", str(latin), "--batch-size", "0")
    assert bad_batch.exit_code == 2


def test_seed_is_idempotent() -> None:
    first = one_json(invoke("leads", "seed", "--count", "25", "--json"))
    assert (first["inserted"], first["existing"]) == (25, 0)
    again = one_json(invoke("leads", "seed", "--count", "25", "--json"))
    assert (again["inserted"], again["existing"]) == (0, 25)
    more = invoke("leads", "seed", "--count", "30")
    assert more.exit_code == 0
    assert "5 leads added, 25 already there" in more.stdout
    listing = one_json(invoke("leads", "list", "--json", "--limit", "0"))
    assert (listing["count"], listing["leads"]) == (30, [])
    assert invoke("leads", "seed", "--count", "0").exit_code == 2


def test_a_killed_import_is_completed_by_running_it_again(
    settings_env: Settings, tmp_path: Path, mongo_uri: str
) -> None:
    # 3000 rows: every 10th has a bad email (300), emails repeat after 2000 rows (900 of the
    # last 1000 are duplicates), the other 1800 are new leads.
    path = tmp_path / "big.csv"
    lines = ["first_name,email"]
    for i in range(3000):
        email = f"bad{i}" if i % 10 == 0 else f"k{i % 2000}@example.com"
        lines.append(f"N{i},{email}")
    path.write_text("\n".join(lines) + "\n")

    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    process = subprocess.Popen(
        [sys.executable, "-m", "leadpersona", "leads", "import", str(path), "--batch-size", "5"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri)
    imports = client[settings_env.mongodb_db]["imports"]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            record = imports.find_one({})
            if record is not None and record["rows_done"] >= 5:
                break
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=20)
        record = imports.find_one({})
        assert record is not None
        assert record["status"] == "running"
        assert 5 <= record["rows_done"] < 3000
        partial = client[settings_env.mongodb_db]["leads"].count_documents({})
        assert partial < 1800

        report = one_json(invoke("leads", "import", str(path), "--json"))
        assert report["resumed_from_row"] >= 5
        assert report["read"] == 3000
        assert report["inserted"] == 1800
        assert report["duplicates_in_file"] == 900
        assert report["quarantined"] == 1200
        assert report["by_reason"] == {"duplicate_in_file": 900, "email_invalid": 300}
        database = client[settings_env.mongodb_db]
        assert database["leads"].count_documents({}) == 1800
        assert len(database["leads"].distinct("email")) == 1800
        assert database["quarantine"].count_documents({}) == 1200
        final = imports.find_one({})
        assert final is not None
        assert final["status"] == "complete"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        client.close()


def test_init_creates_the_import_collections_and_the_email_keys() -> None:
    report = one_json(invoke("init", "--json"))
    collections = {info["name"]: info for info in report["collections"]}
    assert {"leads", "imports", "quarantine", "lead_emails"} <= set(collections)
    assert "email" in collections["leads"]["indexes"]
    assert report["shared_emails"] == {"emails": 0, "leads": 0, "examples": []}
    assert "import_row" in collections["quarantine"]["indexes"]
    assert one_json(invoke("init", "--json")) == report


def test_user_text_is_printed_literally(tmp_path: Path) -> None:
    """File headers, names and raw values are shown as written: no markup, no emoji codes."""
    line = one_error_line(invoke("leads", "import", "/etc/passwd"), 2)
    assert "root:x:0:0:" in line
    assert "❌" not in line

    path = tmp_path / "[b]odd:x:.csv"
    path.write_text(
        "first_name,last_name,email,status\n[b]Ada[/b],:x:,ada@example.com,1\n[i]Bo,Y,bad,1\n",
        encoding="utf-8",
    )
    imported = invoke("leads", "import", str(path))
    assert imported.exit_code == 0, imported.stderr
    listing = invoke("leads", "list")
    assert listing.exit_code == 0
    assert "[b]Ada[/b]" in listing.stdout
    assert ":x:" in listing.stdout
    assert "\\[" not in listing.stdout
    quarantine = invoke("leads", "quarantine")
    assert "[b]odd:x:.csv" in quarantine.stdout
    assert "[i]Bo" in quarantine.stdout
