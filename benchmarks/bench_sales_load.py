"""Sales load into PostgreSQL: the product from Parquet and CSV files against a raw COPY of the
same final rows and against pandas; the cleaning library choice; the revenue report.

Each size generates synthetic order lines once (2 % in other accepted forms, 0.5 % invalid;
2,000 orders a day from 2026-01-01, so every date is a possible order date; not timed) and
writes them as one Parquet and one CSV file. Measured in the same run, each load in a fresh
process (peak RSS is that process's own ``VmHWM``) into a fresh, migrated PostgreSQL database:

- *product*: ``load_sales`` with the file inbox source (read, clean, dimensions, type 2
  customers, supersession check, quarantine, checkpoint, the months each batch changed marked
  stale; one transaction per 50,000 lines; a month's ``sales_monthly`` rows rebuilt, and
  its partition analysed, once no batch in flight touches it, while the next batches are
  written; at the end the months of the last batches, ``ANALYZE`` of ``sales_keys``' keys and
  the small tables), from Parquet and from CSV;
- *COPY floor*: the ``fact_sales`` rows the product stored, dumped beforehand, loaded into an
  empty schema (dimensions and partitions made first, not timed) with ``COPY ... FROM STDIN``
  and a commit, median of 3. The product itself writes each new batch with two COPYs (the
  keys into ``sales_keys``, whose primary key refuses a batch holding a stored line, then the
  facts): it cannot reach the floor without dropping that check. The product from Parquet and
  from CSV is the median of 3 loads each, in turns (each listed below the table: the machine
  is shared, and single loads move by a tenth or more);
- *pandas*: what a pandas user would write: ``read_csv`` in 50,000-row chunks as text, the same
  parsing and validation rules vectorised in pandas, the facts written with ``to_sql`` through
  ``COPY`` into a plain table (no dimensions, no supersession, no quarantine: less work than
  the product);
- *cleaning only*: 1,000,000 raw text rows through the product's DuckDB cleaner, and through the
  same rules written in pandas and in Polars; the rows each accepts, and its amounts checked
  against exact decimal arithmetic;
- *report*: ``sales report`` (revenue, orders, customers by academic field, company type and
  month) over the largest load as the product left it (no further ``ANALYZE``), median of 5
  after a warm-up, for every month and for 2026-01, read from ``sales_monthly`` and, as the
  baseline, the same report summed from ``fact_sales`` (checked equal), with the plan of the
  whole query; the load's upkeep on that database: rebuilding the fullest month of
  ``sales_monthly`` (rolled back) and the load's ``ANALYZE`` against one of the whole star schema as
  before (median of 3 each, alternating).

Override the sizes with ``LEADPERSONA_BENCH_SALES=10000,100000``.
"""

from __future__ import annotations

import asyncio
import io
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from sqlalchemy import create_engine, text

from benchmarks._server import in_child, peak_rss_mb
from leadpersona.adapters.warehouse.engine import make_engine, upgrade
from leadpersona.adapters.warehouse.sales_load import (
    ensure_partitions,
    refresh_monthly,
    refresh_statistics,
)
from leadpersona.adapters.warehouse.sales_queries import revenue_by_persona, revenue_query
from leadpersona.sales.cleaning import EARLIEST_ORDER_DATE, FUTURE_TOLERANCE
from leadpersona.sales.records import FIELDS, raw_table
from leadpersona.sales.synthetic import synthetic_lines

SIZES = tuple(
    int(n) for n in os.environ.get("LEADPERSONA_BENCH_SALES", "10000,100000,1000000").split(",")
)
POSTGRES = os.environ.get(
    "LEADPERSONA_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432"
)
CLEANING_ROWS = 1_000_000
#: The COPY floor is the median of this many loads of the same rows (committed, then truncated).
FLOOR_REPEATS = 3
#: The product's load from Parquet is the median of this many loads, each into a fresh database
#: (the first one's rows make the COPY floor, measured between the product's runs).
PRODUCT_REPEATS = 3
#: The memory check reads the largest CSV this many times over, as one file.
BIG_REPEATS = 8
ORDERS_PER_DAY = 2000  # keeps 1,000,000 lines inside the first months of 2026
FACT = (
    "order_id, line_no, date_id, product_key, customer_key, quantity, unit_price, discount, "
    "amount, currency, status, source"
)


# Databases.


def _admin() -> Any:
    return create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")


def _new_database() -> str:
    name = f"lp_bench_{uuid.uuid4().hex[:12]}"
    with _admin().connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    return name


def _drop(name: str) -> None:
    with _admin().connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# Inputs.


def _inputs(count: int, folder: Path) -> tuple[Path, Path, pa.Table]:
    records = list(
        synthetic_lines(count, orders_per_day=ORDERS_PER_DAY, messy_rate=0.02, invalid_rate=0.005)
    )
    table = raw_table(records).select(list(FIELDS))
    parquet = folder / f"sales-{count}.parquet"
    pq.write_table(table, parquet)
    csv_path = folder / f"sales-{count}.csv"
    pacsv.write_csv(table, csv_path)
    return parquet, csv_path, table


# Children: each measured load runs in its own process.


def _inbox_with(path: str) -> Path:
    """A fresh inbox holding ``path`` (a hard link), inside the run's temporary folder, so the
    moved file is removed with it."""
    inbox = Path(tempfile.mkdtemp(prefix="inbox-", dir=Path(path).parent))
    os.link(path, inbox / Path(path).name)
    return inbox


def _child_source_only(path: str, queue: Any) -> None:
    from leadpersona.sales.sources.files import FileInboxSource

    inbox = _inbox_with(path)
    source = FileInboxSource(inbox)

    async def read() -> int:
        count = 0
        async for batch in source.batches({}):
            count += batch.records.num_rows
        return count

    started = time.perf_counter()
    count = asyncio.run(read())
    queue.put({"seconds": time.perf_counter() - started, "rss_mb": peak_rss_mb(), "read": count})


def _child_product(path: str, url: str, queue: Any) -> None:
    from tests.fakes import InMemoryRunRepository

    from leadpersona.bootstrap import sales_sources
    from leadpersona.config import Settings
    from leadpersona.services.sales_load import load_sales

    inbox = _inbox_with(path)
    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    settings = Settings(sales_inbox=inbox)
    report = asyncio.run(
        load_sales(
            settings,
            runs=InMemoryRunRepository(),
            sources=sales_sources(settings, ["files"]),
            engine=engine,
        )
    )
    seconds = time.perf_counter() - started
    engine.dispose()
    files = report.sources["files"]
    queue.put(
        {
            "seconds": seconds,
            "rss_mb": peak_rss_mb(),
            "read": files.read,
            "loaded": files.loaded,
            "quarantined": files.quarantined,
        }
    )


def _child_pandas(path: str, url: str, queue: Any) -> None:
    import pandas as pd

    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE pandas_sales (order_id text, line_no numeric, order_date date, "
                "customer_email text, product_sku text, product_name text, category text, "
                "quantity numeric, unit_price numeric(18,4), discount numeric(9,4), "
                "currency text, status text, amount numeric(18,2))"
            )
        )

    def copy(table: Any, conn: Any, keys: list[str], data_iter: Any) -> int:
        buffer = io.StringIO()
        pd.DataFrame(list(data_iter), columns=keys).to_csv(buffer, index=False, header=False)
        with (
            conn.connection.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({', '.join(keys)}) FROM STDIN (FORMAT csv)") as writer,
        ):
            writer.write(buffer.getvalue())
        return 0

    started = time.perf_counter()
    loaded = rejected = 0
    for chunk in pd.read_csv(path, dtype=str, chunksize=50_000, keep_default_na=False):
        clean, bad = _pandas_clean(chunk)
        loaded += len(clean)
        rejected += bad
        clean.to_sql("pandas_sales", engine, if_exists="append", index=False, method=copy)
    seconds = time.perf_counter() - started
    engine.dispose()
    queue.put(
        {
            "seconds": seconds,
            "rss_mb": peak_rss_mb(),
            "loaded": loaded,
            "quarantined": rejected,
        }
    )


# The same cleaning rules in pandas and Polars (the library comparison).


def _latest_order_date() -> date:
    return date.today() + FUTURE_TOLERANCE


def _pandas_clean(frame: Any) -> tuple[Any, int]:
    import numpy as np
    import pandas as pd

    from leadpersona.sales.records import ISO_4217

    f = frame.apply(lambda column: column.str.strip()).replace("", None)
    # The product's price rule: drop everything but digits, "," "." "-"; a dot makes commas
    # thousands separators, so does a "1,234" pattern; otherwise a comma is a decimal comma.
    price_text = f["unit_price"].str.replace(r"[^0-9,.\-]", "", regex=True)
    thousands = price_text.str.contains(".", regex=False, na=False) | price_text.str.fullmatch(
        r"-?[0-9]{1,3}(,[0-9]{3})+", na=False
    )
    price_text = price_text.str.replace(",", "").where(thousands, price_text.str.replace(",", "."))
    price = pd.to_numeric(price_text, errors="coerce")
    discount_text = f["discount"].fillna("0")
    percent = discount_text.str.endswith("%")
    discount = pd.to_numeric(discount_text.str.rstrip("%"), errors="coerce")
    discount = discount.where(~percent, discount / 100)
    quantity = pd.to_numeric(f["quantity"], errors="coerce")
    raw_date = f["order_date"].fillna("")
    iso = pd.to_datetime(raw_date.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    dmy = pd.to_datetime(raw_date, format="%d/%m/%Y", errors="coerce")
    epoch_seconds = pd.to_numeric(raw_date.where(raw_date.str.fullmatch(r"\d{9,11}")), "coerce")
    epoch = pd.to_datetime(epoch_seconds, unit="s", errors="coerce")
    day = iso.fillna(dmy).fillna(epoch)
    currency = f["currency"].fillna("EUR").str.upper()
    status = f["status"].fillna("completed").str.lower()
    email = f["customer_email"].str.lower()
    line_no = pd.to_numeric(f["line_no"], errors="coerce")
    ok = (
        f["order_id"].notna()
        & (line_no > 0)
        & (line_no == np.floor(line_no))
        & email.str.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", na=False)
        & f["product_sku"].notna()
        & (day >= pd.Timestamp(EARLIEST_ORDER_DATE))
        & (day <= pd.Timestamp(_latest_order_date()))
        & (quantity > 0)
        & (quantity == np.floor(quantity))
        & (price >= 0)
        & discount.between(0, 1)
        & currency.isin(ISO_4217)
        & status.isin(["completed", "refunded", "cancelled"])
    )
    amount = (quantity * price * (1 - discount) * 100 + 0.5).apply(np.floor) / 100
    clean = pd.DataFrame(
        {
            "order_id": f["order_id"],
            "line_no": line_no,
            "order_date": day.dt.date,
            "customer_email": email,
            "product_sku": f["product_sku"],
            "product_name": f["product_name"],
            "category": f["category"],
            "quantity": quantity,
            "unit_price": price,
            "discount": discount,
            "currency": currency,
            "status": status,
            "amount": amount,
        }
    )[ok]
    clean = clean.drop_duplicates(["order_id", "line_no"], keep="last")
    return clean, int((~ok).sum())


def _polars_clean(table: pa.Table) -> tuple[Any, int]:
    import polars as pl

    from leadpersona.sales.records import ISO_4217

    f = pl.from_arrow(table)
    assert isinstance(f, pl.DataFrame)
    f = f.with_columns(pl.all().str.strip_chars().replace("", None))
    price_text = pl.col("unit_price").str.replace_all(r"[^0-9,.\-]", "")
    thousands = price_text.str.contains(".", literal=True) | price_text.str.contains(
        r"^-?[0-9]{1,3}(,[0-9]{3})+$"
    )
    price = (
        pl.when(thousands)
        .then(price_text.str.replace_all(",", "", literal=True))
        .otherwise(price_text.str.replace_all(",", ".", literal=True))
        .cast(pl.Float64, strict=False)
    )
    discount_text = pl.col("discount").fill_null("0")
    discount = (
        pl.when(discount_text.str.ends_with("%"))
        .then(discount_text.str.strip_chars_end("%").cast(pl.Float64, strict=False) / 100)
        .otherwise(discount_text.cast(pl.Float64, strict=False))
    )
    raw_date = pl.col("order_date")
    day = pl.coalesce(
        raw_date.str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False),
        raw_date.str.to_date("%d/%m/%Y", strict=False),
        pl.when(raw_date.str.contains(r"^\d{9,11}$"))
        .then(pl.from_epoch(raw_date.cast(pl.Int64, strict=False), time_unit="s").dt.date())
        .otherwise(None),
    )
    out = f.select(
        pl.col("order_id"),
        pl.col("line_no").cast(pl.Float64, strict=False).alias("line_no"),
        day.alias("order_date"),
        pl.col("customer_email").str.to_lowercase().alias("customer_email"),
        pl.col("product_sku"),
        pl.col("product_name"),
        pl.col("category"),
        pl.col("quantity").cast(pl.Float64, strict=False).alias("quantity"),
        price.alias("unit_price"),
        discount.alias("discount"),
        pl.col("currency").fill_null("EUR").str.to_uppercase().alias("currency"),
        pl.col("status").fill_null("completed").str.to_lowercase().alias("status"),
    )
    ok = (
        pl.col("order_id").is_not_null()
        & (pl.col("line_no") > 0)
        & (pl.col("line_no") == pl.col("line_no").floor())
        & pl.col("customer_email").str.contains(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
        & pl.col("product_sku").is_not_null()
        & pl.col("order_date").is_between(EARLIEST_ORDER_DATE, _latest_order_date())
        & (pl.col("quantity") > 0)
        & (pl.col("quantity") == pl.col("quantity").floor())
        & (pl.col("unit_price") >= 0)
        & pl.col("discount").is_between(0, 1)
        & pl.col("currency").is_in(sorted(ISO_4217))
        & pl.col("status").is_in(["completed", "refunded", "cancelled"])
    )
    checked = out.with_columns(ok.fill_null(False).alias("ok"))
    good = checked.filter(pl.col("ok")).with_columns(
        (
            (
                pl.col("quantity") * pl.col("unit_price") * (1 - pl.col("discount")) * 100 + 0.5
            ).floor()
            / 100
        ).alias("amount")
    )
    good = good.unique(["order_id", "line_no"], keep="last", maintain_order=True)
    return good, checked.height - int(checked["ok"].sum())


#: Amounts that are not quantity x unit_price x (1 - discount) rounded half up to cents, computed
#: again in exact decimals from the typed values each implementation produced.
_AMOUNT_CHECK = """
SELECT count(*) FILTER (
    WHERE CAST(round(CAST(amount AS DOUBLE), 2) AS DECIMAL(18, 2)) <> round(
        CAST(quantity AS BIGINT)
        * CAST(round(CAST(unit_price AS DOUBLE), 4) AS DECIMAL(18, 4))
        * (1 - CAST(round(CAST(discount AS DOUBLE), 4) AS DECIMAL(18, 4))),
        2)
) FROM lines
"""
_CHECKED = ["quantity", "unit_price", "discount", "amount"]


@dataclass
class _Cleaning:
    label: str
    seconds: float
    accepted: int
    rejected: int
    #: Accepted lines whose amount is not the exact half-up amount (see ``_AMOUNT_CHECK``).
    amounts_off: int


def _amounts_off(lines: pa.Table) -> int:
    import duckdb

    with duckdb.connect() as db:
        db.register("lines", lines)
        (count,) = db.sql(_AMOUNT_CHECK).fetchall()[0]
    return int(count)


def _cleaning(table: pa.Table) -> list[_Cleaning]:
    """Each implementation over the same 50,000-row slices; outputs kept (not timed) to compare
    what they accepted and the amounts they computed."""
    from leadpersona.sales.cleaning import SalesCleaner

    results = []
    cleaner = SalesCleaner()
    started = time.perf_counter()
    cleaned = [
        cleaner.clean(table.slice(offset, 50_000)) for offset in range(0, table.num_rows, 50_000)
    ]
    seconds = time.perf_counter() - started
    cleaner.close()
    lines = pa.concat_tables(c.lines.select(_CHECKED) for c in cleaned)
    results.append(
        _Cleaning(
            "DuckDB (the product's cleaner)",
            seconds,
            lines.num_rows,
            sum(len(c.rejected) for c in cleaned),
            _amounts_off(lines),
        )
    )
    del cleaned, lines
    frame = table.to_pandas()
    started = time.perf_counter()
    frames = [
        _pandas_clean(frame.iloc[offset : offset + 50_000])
        for offset in range(0, len(frame), 50_000)
    ]
    seconds = time.perf_counter() - started
    lines = pa.concat_tables(
        pa.Table.from_pandas(good[_CHECKED], preserve_index=False) for good, _ in frames
    )
    results.append(
        _Cleaning(
            "pandas", seconds, lines.num_rows, sum(bad for _, bad in frames), _amounts_off(lines)
        )
    )
    del frame, frames, lines
    started = time.perf_counter()
    polars = [
        _polars_clean(table.slice(offset, 50_000)) for offset in range(0, table.num_rows, 50_000)
    ]
    seconds = time.perf_counter() - started
    lines = pa.concat_tables(good.select(_CHECKED).to_arrow() for good, _ in polars)
    results.append(
        _Cleaning(
            "Polars", seconds, lines.num_rows, sum(bad for _, bad in polars), _amounts_off(lines)
        )
    )
    return results


# COPY floor and report.


def _copy_floor(source_db: str) -> tuple[float, int]:
    source = make_engine(f"{POSTGRES}/{source_db}")
    target_db = _new_database()
    target = make_engine(f"{POSTGRES}/{target_db}")
    try:
        upgrade(target)
        dumps: dict[str, bytes] = {}
        with source.connect() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None
            for table in ("dim_date", "dim_product", "dim_customer", "fact_sales"):
                columns = FACT if table == "fact_sales" else "*"
                buffer = io.BytesIO()
                with (
                    driver.cursor() as cursor,
                    cursor.copy(f"COPY (SELECT {columns} FROM {table}) TO STDOUT") as copy,
                ):
                    for block in copy:
                        buffer.write(block)
                dumps[table] = buffer.getvalue()
            days = list(connection.scalars(text("SELECT date_id FROM dim_date")))
        with target.begin() as connection:
            ensure_partitions(connection, days)
            driver = connection.connection.driver_connection
            assert driver is not None
            for table in ("dim_date", "dim_product", "dim_customer"):
                with driver.cursor() as cursor, cursor.copy(f"COPY {table} FROM STDIN") as copy:
                    copy.write(dumps[table])
        rows = dumps["fact_sales"].count(b"\n")
        timings = []
        for _ in range(FLOOR_REPEATS):
            with target.connect() as connection:
                connection.execute(text("TRUNCATE fact_sales"))
                connection.commit()
                driver = connection.connection.driver_connection
                assert driver is not None
                started = time.perf_counter()
                with (
                    driver.cursor() as cursor,
                    cursor.copy(f"COPY fact_sales ({FACT}) FROM STDIN") as copy,
                ):
                    copy.write(dumps["fact_sales"])
                connection.commit()
                timings.append(time.perf_counter() - started)
        return statistics.median(timings), rows
    finally:
        source.dispose()
        target.dispose()
        _drop(target_db)


def _facts_off(database: str) -> int:
    """Stored fact rows whose amount is not the exact half-up amount (PostgreSQL ``numeric``
    arithmetic; ``round`` rounds half away from zero, half up for these non-negative values)."""
    engine = make_engine(f"{POSTGRES}/{database}")
    try:
        with engine.connect() as connection:
            return int(
                connection.scalar(
                    text(
                        "SELECT count(*) FROM fact_sales"
                        " WHERE amount <> round(quantity * unit_price * (1 - discount), 2)"
                    )
                )
                or 0
            )
    finally:
        engine.dispose()


@dataclass
class _Report:
    summary_all: float
    summary_month: float
    facts_all: float
    facts_month: float
    refresh_month: float
    fullest: int
    fullest_lines: int
    analyze_load: float
    analyze_full: float
    plan: list[str]


def _report(database: str) -> _Report:
    engine = make_engine(f"{POSTGRES}/{database}")
    by = ["academic_field", "company_type"]
    try:
        with engine.connect() as connection:
            month = "2026-01"
            timings: dict[str, list[float]] = {}
            results: dict[bool, Any] = {}
            for _ in range(6):
                for label, kwargs in (
                    ("summary_all", {}),
                    ("summary_month", {"month": month}),
                    ("facts_all", {"from_facts": True}),
                    ("facts_month", {"month": month, "from_facts": True}),
                ):
                    started = time.perf_counter()
                    found = revenue_by_persona(connection, by, **kwargs)
                    timings.setdefault(label, []).append(time.perf_counter() - started)
                    if "month" not in kwargs:
                        results[bool(kwargs)] = found
            if results[False] != results[True]:
                raise RuntimeError("the report from sales_monthly differs from the lines")
            statement = _report_sql()
            plan = list(connection.scalars(text(f"EXPLAIN (ANALYZE, BUFFERS) {statement}")))
            if not plan:
                raise RuntimeError(f"EXPLAIN gave no plan for: {statement}")
            months = list(connection.scalars(text("SELECT DISTINCT date_id / 100 FROM dim_date")))
            fullest = int(
                connection.scalar(
                    text(
                        "SELECT date_id / 100 FROM fact_sales GROUP BY date_id / 100"
                        " ORDER BY count(*) DESC, 1 LIMIT 1"
                    )
                )
            )
            fullest_lines = int(
                connection.scalar(
                    text("SELECT count(*) FROM fact_sales WHERE date_id / 100 = :month"),
                    {"month": fullest},
                )
            )
            refresh = []
            for _ in range(3):
                started = time.perf_counter()
                refresh_monthly(connection, [fullest])
                refresh.append(time.perf_counter() - started)
                connection.rollback()
        analyze: dict[str, list[float]] = {"load": [], "full": []}
        for _ in range(3):
            started = time.perf_counter()
            refresh_statistics(engine, months)
            analyze["load"].append(time.perf_counter() - started)
            started = time.perf_counter()
            with engine.begin() as connection:
                for table in (
                    "fact_sales",
                    "sales_keys",
                    "dim_customer",
                    "dim_product",
                    "dim_date",
                    "sales_monthly",
                ):
                    connection.execute(text(f"ANALYZE {table}"))
            analyze["full"].append(time.perf_counter() - started)
        return _Report(
            summary_all=statistics.median(timings["summary_all"][1:]),
            summary_month=statistics.median(timings["summary_month"][1:]),
            facts_all=statistics.median(timings["facts_all"][1:]),
            facts_month=statistics.median(timings["facts_month"][1:]),
            refresh_month=statistics.median(refresh),
            fullest=fullest,
            fullest_lines=fullest_lines,
            analyze_load=statistics.median(analyze["load"]),
            analyze_full=statistics.median(analyze["full"]),
            plan=plan,
        )
    finally:
        engine.dispose()


def _report_sql() -> str:
    from sqlalchemy.dialects import postgresql

    statement = revenue_query(["academic_field", "company_type"])
    return str(
        statement.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
    )


# The section.


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The first run's counts with the median time and the highest peak RSS of all runs."""
    return {
        **runs[0],
        "seconds": statistics.median(run["seconds"] for run in runs),
        "rss_mb": max(run["rss_mb"] for run in runs),
    }


def run() -> str:
    lines = [
        "## Sales load into PostgreSQL",
        "",
        __doc__.split("\n\n", 1)[1].strip() if __doc__ else "",
        "",
        "| lines | product from Parquet | product from CSV | COPY floor | product / COPY"
        " speed: Parquet / CSV | pandas from CSV | product (CSV) / pandas speed | peak RSS:"
        " Parquet / CSV / pandas |",
        "|---|---|---|---|---|---|---|---|",
    ]
    report_figures: _Report | None = None
    source_only: dict[str, Any] | None = None
    big_mb = 0.0
    runs_note: list[str] = []
    cleaning_table: pa.Table | None = None
    with tempfile.TemporaryDirectory(prefix="lp-bench-sales-") as folder:
        for size in SIZES:
            parquet, csv_path, table = _inputs(size, Path(folder))
            if size == CLEANING_ROWS:
                cleaning_table = table
            databases = []
            try:
                name = _new_database()
                databases.append(name)
                from_parquet = in_child(_child_product, str(parquet), f"{POSTGRES}/{name}")
                copy_seconds, copied = _copy_floor(name)
                amounts_off = _facts_off(name)
                # The loads from Parquet and from CSV in turns, each in a fresh database.
                parquet_runs = [from_parquet]
                csv_runs: list[dict[str, Any]] = []
                for turn in range(PRODUCT_REPEATS):
                    for path, runs in ((csv_path, csv_runs), (parquet, parquet_runs)):
                        if len(runs) > turn:
                            continue
                        again = _new_database()
                        databases.append(again)
                        runs.append(in_child(_child_product, str(path), f"{POSTGRES}/{again}"))
                        _drop(again)
                from_parquet = _median_run(parquet_runs)
                from_csv = _median_run(csv_runs)
                runs_note.append(
                    f"{size:,} lines: from Parquet "
                    + ", ".join(f"{run['seconds']:.1f}" for run in parquet_runs)
                    + " s, from CSV "
                    + ", ".join(f"{run['seconds']:.1f}" for run in csv_runs)
                    + " s"
                )
                pandas_db = _new_database()
                databases.append(pandas_db)
                pandas = in_child(_child_pandas, str(csv_path), f"{POSTGRES}/{pandas_db}")
                if size == max(SIZES):
                    report_figures = _report(name)
            finally:
                for database in databases:
                    _drop(database)
            if size == max(SIZES):
                big = Path(folder) / "big.csv"
                body = csv_path.read_bytes().split(b"\n", 1)[1]
                with big.open("wb") as handle:
                    handle.write(csv_path.read_bytes())
                    for _ in range(BIG_REPEATS - 1):
                        handle.write(body)
                big_mb = big.stat().st_size / 2**20
                source_only = in_child(_child_source_only, str(big))
                big.unlink()
            rate = size / from_parquet["seconds"]
            lines.append(
                f"| {size:,} | {rate:,.0f} lines/s ({from_parquet['seconds']:.1f} s) |"
                f" {size / from_csv['seconds']:,.0f} lines/s ({from_csv['seconds']:.1f} s) |"
                f" {copied / copy_seconds:,.0f} rows/s ({copy_seconds:.1f} s) |"
                f" {copy_seconds / from_parquet['seconds']:.2f} /"
                f" {copy_seconds / from_csv['seconds']:.2f} |"
                f" {size / pandas['seconds']:,.0f} lines/s ({pandas['seconds']:.1f} s) |"
                f" {pandas['seconds'] / from_csv['seconds']:.2f} |"
                f" {from_parquet['rss_mb']:.0f} / {from_csv['rss_mb']:.0f} /"
                f" {pandas['rss_mb']:.0f} MB |"
            )
            lines.append(
                f"|  | loaded {from_parquet['loaded']:,}, quarantined"
                f" {from_parquet['quarantined']:,}; {amounts_off:,} stored amounts not half up"
                f" | loaded {from_csv['loaded']:,} | | |"
                f" loaded {pandas['loaded']:,}, rejected {pandas['quarantined']:,} | | |"
            )
            del table
    lines += [
        "",
        f"The product's loads, each run ({PRODUCT_REPEATS} from each format, in turns; the"
        " table gives the medians and the highest peak RSS): " + "; ".join(runs_note) + ".",
    ]
    if source_only is not None:
        lines += [
            "",
            f"Memory: the file inbox source alone read a {big_mb:,.0f} MB CSV"
            f" ({source_only['read']:,} lines, the largest file {BIG_REPEATS} times over) in"
            f" {source_only['seconds']:.1f} s with a peak RSS of {source_only['rss_mb']:.0f} MB.",
        ]
    if cleaning_table is None:
        cleaning_table = raw_table(
            list(
                synthetic_lines(
                    CLEANING_ROWS,
                    orders_per_day=ORDERS_PER_DAY,
                    messy_rate=0.02,
                    invalid_rate=0.005,
                )
            )
        ).select(list(FIELDS))
    cleaning = _cleaning(cleaning_table)
    base = cleaning[0].seconds
    lines += [
        "",
        f"Cleaning only, {cleaning_table.num_rows:,} raw text rows in 50,000-row batches (the"
        " same price, discount, date, integer, email, currency and status rules in each; pandas"
        " and Polars lower-case emails where the product also applies Unicode NFKC, and compute"
        " the amount in binary floating point, as their users would). *Amounts off*: accepted"
        " lines whose amount differs from quantity x unit_price x (1 - discount) computed again"
        " in exact decimals and rounded half up to cents (the product's cleaner keeps every"
        " value in DECIMAL, a percentage discount included):",
        "",
        "| library | seconds | rows/s | time vs DuckDB | accepted | rejected | amounts off |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in cleaning:
        lines.append(
            f"| {result.label} | {result.seconds:.2f} |"
            f" {cleaning_table.num_rows / result.seconds:,.0f} | {result.seconds / base:.2f}x |"
            f" {result.accepted:,} | {result.rejected:,} | {result.amounts_off:,} |"
        )
    counts = {(result.accepted, result.rejected) for result in cleaning}
    lines += [
        "",
        "All three accept and reject the same number of rows."
        if len(counts) == 1
        else "The three do NOT accept the same number of rows (see the table).",
    ]
    if report_figures is not None:
        figures = report_figures
        lines += [
            "",
            f"Revenue by academic field, company type and month over {max(SIZES):,} lines"
            " (median of 5 after a warm-up):",
            "",
            "| read from | every month | one month (2026-01) |",
            "|---|---|---|",
            f"| ``sales_monthly`` (the product) | {figures.summary_all * 1000:.1f} ms |"
            f" {figures.summary_month * 1000:.1f} ms |",
            f"| ``fact_sales`` (the same report from the lines) |"
            f" {figures.facts_all * 1000:.0f} ms | {figures.facts_month * 1000:.0f} ms |",
            "",
            "The two give the same rows. The load's upkeep of ``sales_monthly``: rebuilding the"
            f" fullest month ({figures.fullest // 100}-{figures.fullest % 100:02d},"
            f" {figures.fullest_lines:,} lines) took {figures.refresh_month * 1000:.0f} ms"
            " (median of 3, rolled back)."
            f" The load's ``ANALYZE``: {figures.analyze_load:.2f} s for what the"
            " load refreshes (every month's partition on the columns queries use, the keys of"
            f" ``sales_keys``, the small tables) against {figures.analyze_full:.2f} s for the"
            " whole star schema (median of 3 each). Plan of the whole query:",
            "",
            "```text",
            *figures.plan,
            "```",
        ]
    return "\n".join(lines)
