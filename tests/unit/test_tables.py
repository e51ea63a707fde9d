"""One table definition, two renderings: Markdown here, HTML through the dashboard template."""

from __future__ import annotations

import html as html_text
import re

from leadpersona.entrypoints.http.page import render_page
from leadpersona.entrypoints.report import report_markdown
from leadpersona.services.tables import Table, columns, persona_matrix, reasons_table
from tests.unit.test_dashboard_page import _data


def test_markdown_aligns_numbers_and_keeps_each_cell_on_its_line() -> None:
    table = Table("t", columns("name", "#count"), [("a | b\nc", "3")])
    assert table.markdown() == ["| name | count |", "|---|---:|", "| a \\| b c | 3 |"]


def test_unknown_features_are_named() -> None:
    stats = {"matrix": [{"academic_field": None, "company_type": "Startup", "count": 2}]}
    assert persona_matrix(stats).rows == [("(unknown)", "Startup", "2")]


def _html_rows(html: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table id="{table_id}">(.*?)</table>', html, re.S)
    assert body is not None
    return [
        [html_text.unescape(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)]
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1))
    ]


def test_the_dashboard_and_the_report_show_the_same_cells_escaped_for_each() -> None:
    data = _data("law")
    html = render_page(data, live=False)
    markdown = report_markdown(data)
    for table in (persona_matrix(data.stats), reasons_table(data.quarantine.by_reason)):
        header, *rows = _html_rows(html, table.id)
        assert header == [column.title for column in table.columns]
        assert rows == [list(row) for row in table.rows]
        assert "\n".join(table.markdown()) in markdown
    assert '<td class="num">3</td>' in html  # numeric cells right-aligned in both
