"""``leadpersona report`` and write_report: one self-contained HTML file and a Markdown summary."""

from __future__ import annotations

import json
import re
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from leadpersona.adapters.mongo.connection import MongoDatabase
from leadpersona.config import Settings
from leadpersona.entrypoints.cli.main import app
from leadpersona.entrypoints.http.page import asset_bytes
from leadpersona.entrypoints.report import REPORT_HTML, REPORT_MARKDOWN, write_report
from tests.dashboard_fixtures import EXPECTED, seed_dashboard


class _Tags(HTMLParser):
    """Every start tag with its attributes, and the text of each script element."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._script: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._script = dict(attrs)
            self.scripts.append((self._script, ""))

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return parser


def _embedded_data(parser: _Tags) -> dict[str, Any]:
    [text] = [text for attrs, text in parser.scripts if attrs.get("id") == "dashboard-data"]
    data: dict[str, Any] = json.loads(text)
    return data


async def test_report_is_self_contained_and_carries_the_data(
    database: MongoDatabase, settings_env: Settings, tmp_path: Path
) -> None:
    await seed_dashboard(database)

    paths = await write_report(settings_env, database, tmp_path / "out")

    assert paths.html == (tmp_path / "out" / REPORT_HTML).resolve()
    assert paths.markdown == (tmp_path / "out" / REPORT_MARKDOWN).resolve()
    html = paths.html.read_text(encoding="utf-8")
    parser = _parse(html)

    # Self-contained: no script, style sheet or image fetched from anywhere.
    for tag, attrs in parser.tags:
        assert "src" not in attrs, (tag, attrs)
        if tag == "link":
            assert attrs.get("href", "").startswith("data:"), attrs  # type: ignore[union-attr]
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    # The three chart libraries and the page script are inlined, complete.
    inline = [text for attrs, text in parser.scripts if "type" not in attrs]
    assert len(inline) == 4
    for name, text in zip(
        ("vega.min.js", "vega-lite.min.js", "vega-embed.min.js", "dashboard.js"),
        inline,
        strict=True,
    ):
        assert text == asset_bytes(name).decode("utf-8"), name
    # No lead search in a static file: there is no API behind it.
    assert 'id="lead-search"' not in html

    data = _embedded_data(parser)
    assert data["stats"]["personas"] == EXPECTED["personas"]
    assert data["quarantine"]["by_reason"] == EXPECTED["by_reason"]
    assert len(data["runs"]) == 10
    assert datetime.fromisoformat(data["generated_at"]) == paths.generated_at
    # The tables are rendered server-side too, readable without JavaScript.
    assert "HTTP 503 after 5 attempts" in html
    assert re.search(r'id="kpi-coverage">83\.3 %<', html)

    markdown = paths.markdown.read_text(encoding="utf-8")
    assert "| engineering | Startup | 2 |" in markdown
    assert "| (unknown) | Multi National Company | 1 |" in markdown
    assert "| coverage (personas / leads) | 83.3 % |" in markdown
    assert "| invalid_email | 2 |" in markdown
    assert "| leads.csv | complete | 10 | 6 | 1 | 3 |" in markdown
    assert "the enrichment API refused the key (401)" in markdown
    assert "| mapping ratio |" in markdown


async def test_rewriting_replaces_the_files(
    database: MongoDatabase, settings_env: Settings, tmp_path: Path
) -> None:
    out = tmp_path / "reports"
    first = await write_report(settings_env, database, out)
    await seed_dashboard(database)
    second = await write_report(settings_env, database, out)

    assert first.html == second.html
    assert _embedded_data(_parse(second.html.read_text()))["stats"]["personas"] == 5
    assert sorted(p.name for p in out.iterdir()) == [REPORT_HTML, REPORT_MARKDOWN]


def test_cli_report_json_and_default_directory(settings_env: Settings, tmp_path: Path) -> None:
    runner = CliRunner()

    result = runner.invoke(app, ["report", "--json"])

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    html = Path(document["html"])
    assert html == (settings_env.data_dir / "reports" / REPORT_HTML).resolve()
    assert html.is_file() and Path(document["markdown"]).is_file()

    plain = runner.invoke(app, ["report", "--out", str(tmp_path / "elsewhere")])
    assert plain.exit_code == 0, plain.output
    assert plain.stdout.strip().splitlines()[-1] == str(
        (tmp_path / "elsewhere" / REPORT_HTML).resolve()
    )


def test_cli_report_unwritable_directory_is_one_line(
    settings_env: Settings, tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")

    result = CliRunner().invoke(app, ["report", "--out", str(blocker / "reports")])

    assert result.exit_code == 1
    assert result.stderr.startswith("error: cannot write the report")
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output
