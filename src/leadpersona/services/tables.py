"""Tables as data, rendered once as Markdown here and once as HTML by the dashboard template's
``table`` macro: the dashboard, the static report and the demo summary build each table with
the same function, so a column added to one shows in all of them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from leadpersona.mapping import CleaningReport
from leadpersona.services.dashboard import DashboardData

__all__ = [
    "UNKNOWN",
    "Column",
    "Table",
    "columns",
    "conversion_table",
    "dashboard_tables",
    "imports_table",
    "mapping_table",
    "pct",
    "persona_matrix",
    "reasons_table",
    "revenue_table",
    "top_products_table",
]

#: How a missing persona feature is shown.
UNKNOWN = "(unknown)"


def pct(value: float | None) -> str:
    """A share as a percentage with one decimal ("n/a" when there is none)."""
    return "n/a" if value is None else f"{value * 100:.1f} %"


@dataclass(frozen=True)
class Column:
    title: str
    numeric: bool = False


@dataclass(frozen=True)
class Table:
    """Columns and rows of text. ``id`` names the HTML element; with ``row_headers`` the first
    cell of each row names the row."""

    id: str
    columns: tuple[Column, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    row_headers: bool = False

    def markdown(self) -> list[str]:
        """The table as Markdown lines (cells on one line, ``|`` escaped)."""
        head = "| " + " | ".join(column.title for column in self.columns) + " |"
        align = "|" + "".join("---:|" if c.numeric else "---|" for c in self.columns)
        body = ["| " + " | ".join(_markdown_cell(cell) for cell in row) + " |" for row in self.rows]
        return [head, align, *body]


def _markdown_cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def columns(*titles: str) -> tuple[Column, ...]:
    """Columns by title; a title starting with ``#`` is numeric (right-aligned)."""
    return tuple(Column(t.removeprefix("#"), numeric=t.startswith("#")) for t in titles)


def _persona(row: Mapping[str, Any]) -> tuple[str, str]:
    return (row["academic_field"] or UNKNOWN, row["company_type"] or UNKNOWN)


def persona_matrix(stats: Mapping[str, Any]) -> Table:
    """Enriched personas by academic field x company type (the stats document's matrix)."""
    return Table(
        "matrix-table",
        columns("academic field", "company type", "#personas"),
        [(*_persona(row), str(row["count"])) for row in stats["matrix"]],
    )


def mapping_table(mapping: CleaningReport) -> Table:
    """The mapping CSV before and after cleaning."""
    m = mapping
    return Table(
        "mapping-table",
        columns("measure", "#before cleaning", "#after cleaning"),
        [
            ("rows", str(m.rows_read), str(m.fields_of_study_after)),
            (
                "distinct fields of study",
                str(m.fields_of_study_before),
                str(m.fields_of_study_after),
            ),
            (
                "distinct academic fields",
                str(m.academic_fields_before),
                str(m.academic_fields_after),
            ),
            ("labelled", str(m.labelled_before), str(m.labelled_after)),
            ("mapping ratio", pct(m.mapping_ratio_before), pct(m.mapping_ratio_after)),
        ],
        row_headers=True,
    )


def revenue_table(rows: Sequence[Mapping[str, Any]], *, by_month: bool = True) -> Table:
    """Completed revenue, orders and customers by persona (and month)."""
    month = ("month",) if by_month else ()
    return Table(
        "revenue-table",
        columns(
            "academic field",
            "company type",
            *month,
            "currency",
            "#revenue",
            "#orders",
            "#customers",
        ),
        [
            (
                *_persona(r),
                *((_text(r["month"]),) if by_month else ()),
                _text(r["currency"]),
                _text(r["revenue"]),
                str(r["orders"]),
                str(r["customers"]),
            )
            for r in rows
        ],
    )


def conversion_table(rows: Iterable[Mapping[str, Any]]) -> Table:
    """Leads, leads who bought and the share, by persona."""
    return Table(
        "conversion-table",
        columns("academic field", "company type", "#leads", "#customers", "#conversion"),
        [(*_persona(r), str(r["leads"]), str(r["customers"]), pct(r["conversion"])) for r in rows],
    )


def top_products_table(rows: Iterable[Mapping[str, Any]]) -> Table:
    """The best-selling products of each persona."""
    return Table(
        "top-products-table",
        columns("academic field", "company type", "product", "#revenue", "#quantity"),
        [
            (
                *_persona(r),
                _text(r["name"] or r["sku"]),
                f"{r['revenue']} {r['currency']}",
                str(r["quantity"]),
            )
            for r in rows
        ],
    )


def reasons_table(by_reason: Mapping[str, int]) -> Table:
    """Quarantined rows per reason code."""
    return Table(
        "quarantine-table",
        columns("reason", "#rows"),
        [(reason, str(count)) for reason, count in by_reason.items()],
    )


def imports_table(imports: Iterable[Any]) -> Table:
    """Recent lead file imports (``ImportSummary`` rows)."""
    return Table(
        "imports-table",
        columns("file", "status", "#read", "#inserted", "#duplicates", "#quarantined", "started"),
        [
            (
                item.file,
                item.status,
                str(item.read),
                str(item.inserted),
                str(item.duplicates),
                str(item.quarantined),
                item.started_at.strftime("%Y-%m-%d %H:%M:%S") if item.started_at else "",
            )
            for item in imports
        ],
    )


def dashboard_tables(data: DashboardData) -> dict[str, Table]:
    """The dashboard's shared tables by name (``mapping`` only when the CSV could be read)."""
    sales = data.sales
    tables = {
        "matrix": persona_matrix(data.stats),
        "revenue": revenue_table(sales.revenue),
        "conversion": conversion_table(sales.conversion),
        "top_products": top_products_table(sales.top_products),
        "reasons": reasons_table(data.quarantine.by_reason),
        "imports": imports_table(data.quarantine.imports),
    }
    if data.mapping is not None:
        tables["mapping"] = mapping_table(data.mapping)
    return tables
