"""``leadpersona demo``: the main job end to end, twice (the second run changes nothing)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from leadpersona.config import Settings
from leadpersona.entrypoints.cli.main import app

runner = CliRunner()


def test_demo_enriches_seeded_leads_and_writes_a_summary(settings_env: Settings) -> None:
    result = runner.invoke(app, ["demo", "--leads", "60", "--json"])
    assert result.exit_code == 0, result.output
    demo = json.loads(result.stdout)
    assert demo["seed"]["inserted"] == 60
    assert demo["run"]["processed"] == 60
    assert demo["run"]["failed"] == 0
    assert demo["stats"]["personas"] == 60
    first = demo["examples"][0]
    assert first["field_of_study"].startswith("Diplôme d'ingénieur, Informatique")
    assert first["features"]["academic_field"] == "computer science"
    assert first["provenance"]["academic_field"]["source"] == "inferred"
    summary = Path(demo["summary_path"])
    text = summary.read_text(encoding="utf-8")
    assert "# leadpersona demo" in text
    assert "60 personas for 60 leads" in text
    report = Path(demo["report"]["html"]).read_text(encoding="utf-8")
    assert "<html" in report
    # The demo ends with a warehouse sync and two example queries on it.
    assert demo["warehouse"]["inserted"]["leads"] == 60
    assert demo["warehouse"]["inserted"]["personas"] == 60
    assert [len(q["rows"]) > 0 for q in demo["queries"]] == [True, True]
    assert sum(row[1] for row in demo["queries"][1]["rows"]) == 60  # leads per company type
    assert "## Warehouse" in text and "```sql" in text
    # Then sales from the three sources, revenue by persona, and the daily run.
    sales = demo["sales"]["sources"]
    assert set(sales) == {"api", "files", "db"}
    for source in sales.values():
        assert source["read"] == source["loaded"] + source["quarantined"] + source["duplicates"]
        assert source["loaded"] > 0
    assert sales["files"]["quarantined"] >= 3 and sales["db"]["duplicates"] > 0
    assert any(row["academic_field"] for row in demo["revenue"])
    assert demo["daily"]["status"] == "completed"
    assert [step["kind"] for step in demo["daily"]["steps"]] == [
        "enrich",
        "warehouse_sync",
        "sales_load",
    ]
    assert demo["daily"]["steps"][2]["counts"]["loaded"] == 0  # nothing new to store
    assert demo["ledger"][0]["kind"] == "sales_load"
    assert "## Sales" in text and "## The daily run" in text

    again = runner.invoke(app, ["demo", "--leads", "60"])
    assert again.exit_code == 0, again.output
    assert "report (open in a browser):" in again.stdout
    assert "Leads per company type" in again.stdout
    assert "revenue by persona" in again.stdout and "daily run" in again.stdout
    second = json.loads(runner.invoke(app, ["persona", "stats", "--json"]).stdout)
    assert second["personas"] == 60
