"""Cleaning and validating raw sales records, one batch at a time, vectorised (DuckDB).

One SQL statement turns a batch of raw string records (:func:`leadpersona.sales.records.raw_table`)
into typed order lines, and names every reason a record cannot be loaded. The forms SPEC section 7
allows are parsed here and nowhere else:

- ``unit_price``: ``1234.5``, ``"1,234.50"``, ``€12.30``, ``12.30 EUR``, ``12,30`` (decimal comma);
- ``discount``: a fraction in [0, 1] or a percentage (``15%``); empty is 0;
- ``order_date``: ISO 8601 date or date-time (the date as written, whatever the offset),
  ``DD/MM/YYYY``, or epoch seconds (a UTC date);
- ``quantity`` and ``line_no``: integers (``3`` or ``3.0``);
- text trimmed, empty text null; ``currency`` upper-cased (default ``EUR``), ``status``
  lower-cased (default ``completed``); emails normalised like leads'
  (:func:`leadpersona.domain.email.normalize_email`).

``amount`` = quantity * unit_price * (1 - discount), rounded half up to cents. A record with a
key seen again later in the same batch is a duplicate of that later record (the later one wins).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from leadpersona.domain.email import normalize_email
from leadpersona.domain.runs import QuarantineReason
from leadpersona.sales.records import FIELDS, ISO_4217, REQUIRED_FIELDS, STATUSES

__all__ = ["EARLIEST_ORDER_DATE", "REASONS", "Cleaned", "Rejected", "SalesCleaner"]

#: Order dates before this are impossible (typing errors, epoch zero).
EARLIEST_ORDER_DATE = date(1990, 1, 1)
#: Order dates more than this far after the day of the load are impossible.
FUTURE_TOLERANCE = timedelta(days=1)

#: Every reason code, with the message a user sees.
REASONS: dict[str, str] = {
    "missing": "is required but empty",
    "not_an_integer": "is not a whole number",
    "not_positive": "must be greater than 0",
    "not_a_price": "is not a price",
    "negative": "must not be negative",
    "not_a_discount": "is not a fraction or a percentage",
    "out_of_range": "must be between 0 and 1",
    "not_a_date": "is not a date (ISO 8601, DD/MM/YYYY or epoch seconds)",
    "impossible_date": "is not a possible order date",
    "unknown_status": "must be one of " + ", ".join(STATUSES),
    "unknown_currency": "is not an ISO 4217 currency code",
    "not_an_email": "is not an email address",
}

# Text to integer: "3", " 3 ", "3.0" (a float with no fraction); anything else is null.
_INT = """
    coalesce(
        try_cast(trim({c}) AS BIGINT),
        CASE WHEN try_cast(trim({c}) AS DOUBLE) = floor(try_cast(trim({c}) AS DOUBLE))
             THEN try_cast(try_cast(trim({c}) AS DOUBLE) AS BIGINT) END)
"""

# Text to decimal: drop currency signs, letters and spaces; "1,234.50" has a thousands comma,
# "12,30" a decimal comma.
_DECIMAL = """
    try_cast(
        CASE
            WHEN contains(d, '.') THEN replace(d, ',', '')
            WHEN regexp_full_match(d, '-?[0-9]{{1,3}}(,[0-9]{{3}})+') THEN replace(d, ',', '')
            ELSE replace(d, ',', '.')
        END AS DECIMAL(18, 4))
    FROM (SELECT regexp_replace(trim({c}), '[^0-9,.\\-]', '', 'g') AS d)
"""

_SQL = f"""
WITH typed AS (
    SELECT
        __row,
        nullif(trim(order_id), '') AS order_id,
        {_INT.format(c="line_no")} AS line_no,
        nullif(trim(line_no), '') IS NULL AS line_no_missing,
        nullif(trim(order_date), '') AS order_date_text,
        coalesce(
            try_cast(trim(order_date) AS DATE),
            try_strptime(trim(order_date), '%d/%m/%Y')::DATE,
            CASE WHEN regexp_full_match(trim(order_date), '[0-9]{{9,11}}(\\.[0-9]+)?')
                 THEN to_timestamp(try_cast(trim(order_date) AS DOUBLE))::DATE END
        ) AS order_date,
        normalize_email(nullif(trim(customer_email), '')) AS customer_email,
        nullif(trim(product_sku), '') AS product_sku,
        nullif(trim(product_name), '') AS product_name,
        nullif(trim(category), '') AS category,
        {_INT.format(c="quantity")} AS quantity,
        nullif(trim(quantity), '') IS NULL AS quantity_missing,
        (SELECT {_DECIMAL.format(c="unit_price")}) AS unit_price,
        nullif(trim(unit_price), '') IS NULL AS unit_price_missing,
        CASE
            WHEN nullif(trim(discount), '') IS NULL THEN 0::DECIMAL(18, 4)
            WHEN ends_with(trim(discount), '%')
                THEN try_cast(rtrim(trim(discount), '%') AS DECIMAL(18, 4)) * 0.01
            ELSE try_cast(trim(discount) AS DECIMAL(18, 4))
        END AS discount,
        upper(coalesce(nullif(trim(currency), ''), 'EUR')) AS currency,
        lower(coalesce(nullif(trim(status), ''), 'completed')) AS status,
        ({" + ".join(f"(nullif(trim({c}), '') IS NOT NULL)::INT" for c in REQUIRED_FIELDS)})
            AS present
    FROM raw
),
checked AS (
    SELECT *,
        list_filter([
            CASE WHEN order_id IS NULL THEN 'missing:order_id' END,
            CASE WHEN line_no_missing THEN 'missing:line_no'
                 WHEN line_no IS NULL THEN 'not_an_integer:line_no'
                 WHEN line_no <= 0 THEN 'not_positive:line_no' END,
            CASE WHEN order_date_text IS NULL THEN 'missing:order_date'
                 WHEN order_date IS NULL THEN 'not_a_date:order_date'
                 WHEN order_date < $earliest OR order_date > $latest
                     THEN 'impossible_date:order_date' END,
            CASE WHEN customer_email IS NULL THEN 'missing:customer_email'
                 WHEN NOT regexp_full_match(customer_email, '[^@\\s]+@[^@\\s]+\\.[^@\\s]+')
                     THEN 'not_an_email:customer_email' END,
            CASE WHEN product_sku IS NULL THEN 'missing:product_sku' END,
            CASE WHEN quantity_missing THEN 'missing:quantity'
                 WHEN quantity IS NULL THEN 'not_an_integer:quantity'
                 WHEN quantity <= 0 THEN 'not_positive:quantity' END,
            CASE WHEN unit_price_missing THEN 'missing:unit_price'
                 WHEN unit_price IS NULL THEN 'not_a_price:unit_price'
                 WHEN unit_price < 0 THEN 'negative:unit_price' END,
            CASE WHEN discount IS NULL THEN 'not_a_discount:discount'
                 WHEN discount < 0 OR discount > 1 THEN 'out_of_range:discount' END,
            CASE WHEN NOT list_contains($currencies, currency)
                 THEN 'unknown_currency:currency' END,
            CASE WHEN NOT list_contains($statuses, status) THEN 'unknown_status:status' END
        ], lambda x: x IS NOT NULL) AS reasons
    FROM typed
)
SELECT
    __row, order_id, line_no, order_date, customer_email, product_sku, product_name, category,
    quantity, unit_price, discount::DECIMAL(9, 4) AS discount, currency, status,
    CASE WHEN len(reasons) = 0
         THEN round(quantity * unit_price * (1 - discount), 2)::DECIMAL(18, 2) END AS amount,
    present, reasons
FROM checked
"""

#: Columns of :attr:`Cleaned.lines`.
LINE_COLUMNS = (
    "order_id",
    "line_no",
    "order_date",
    "customer_email",
    "product_sku",
    "product_name",
    "category",
    "quantity",
    "unit_price",
    "discount",
    "currency",
    "status",
    "amount",
)


@dataclass
class Rejected:
    """A record that cannot be loaded: where it was, what it held, and every reason."""

    #: Position of the record in the batch (0-based).
    position: int
    line: int | None
    raw: dict[str, Any]
    reasons: list[QuarantineReason]


@dataclass
class Cleaned:
    """One batch after cleaning. ``read`` = ``len(lines)`` + ``len(rejected)`` + ``duplicates``."""

    #: The order lines to load (typed; one per key; columns :data:`LINE_COLUMNS`).
    lines: pa.Table
    rejected: list[Rejected] = field(default_factory=list)
    #: Records superseded by a later record with the same key in the same batch.
    duplicates: int = 0
    read: int = 0
    #: Required cells that were not empty (completeness = present / (read * required fields)).
    cells_present: int = 0


#: Normalised emails a cleaner remembers (a load's customers are far fewer than its lines).
_EMAIL_CACHE = 100_000


class _EmailNormalizer:
    """The email normalisation of leads as a DuckDB function over a vector of values: applied
    once per distinct value, and remembered across vectors and batches."""

    def __init__(self) -> None:
        self._known: dict[str, str] = {}

    def __call__(self, emails: pa.Array) -> pa.Array:
        distinct = pc.unique(emails)
        known = self._known
        if len(known) > _EMAIL_CACHE:
            known.clear()
        mapped: list[str | None] = []
        for email in distinct.to_pylist():
            if email is None:
                mapped.append(None)
                continue
            normal = known.get(email)
            if normal is None:
                normal = known[email] = normalize_email(email)
            mapped.append(normal)
        return pc.take(pa.array(mapped, pa.string()), pc.index_in(emails, value_set=distinct))


class SalesCleaner:
    """Cleans batches of raw records; one per load (it holds a DuckDB connection)."""

    def __init__(self, *, today: date | None = None) -> None:
        self._today = today or date.today()
        self._db = duckdb.connect()
        self._db.execute("SET enable_progress_bar = false")
        self._db.create_function(  # type: ignore[call-overload]
            "normalize_email", _EmailNormalizer(), ["VARCHAR"], "VARCHAR", type="arrow"
        )

    def close(self) -> None:
        """Release the DuckDB connection."""
        self._db.close()

    def clean(self, records: pa.Table, *, lines: list[int] | None = None) -> Cleaned:
        """Type and validate ``records`` (see the module docstring)."""
        raw = records
        for name in FIELDS:
            if name not in raw.column_names:
                raw = raw.append_column(name, pa.nulls(raw.num_rows, pa.string()))
        raw = raw.select(list(FIELDS)).cast(pa.schema([(n, pa.string()) for n in FIELDS]))
        raw = raw.append_column("__row", pa.array(range(raw.num_rows), pa.int64()))
        self._db.register("raw", raw)
        try:
            result = self._db.sql(
                _SQL,
                params={
                    "earliest": EARLIEST_ORDER_DATE,
                    "latest": self._today + FUTURE_TOLERANCE,
                    "currencies": sorted(ISO_4217),
                    "statuses": list(STATUSES),
                },
            ).to_arrow_table()
        finally:
            self._db.unregister("raw")
        # DuckDB scans the batch in parallel: the records' order again.
        result = result.take(pc.sort_indices(result.column("__row")))
        reasons = result.column("reasons")
        bad = pc.greater(pc.list_value_length(reasons), 0)
        duplicate = _superseded_in_batch(result, pc.invert(bad))
        keep = pc.and_(pc.invert(bad), pc.invert(duplicate))
        rejected: list[Rejected] = []
        if pc.any(bad).as_py():
            positions = pc.indices_nonzero(bad).to_pylist()
            originals = records.take(positions).to_pylist()
            for position, raw_values, codes in zip(
                positions, originals, reasons.take(positions).to_pylist(), strict=True
            ):
                rejected.append(
                    Rejected(
                        position=position,
                        line=None if lines is None else lines[position],
                        raw=_jsonable(raw_values),
                        reasons=[_reason(code) for code in codes],
                    )
                )
        return Cleaned(
            lines=result.filter(keep).select(list(LINE_COLUMNS)),
            rejected=rejected,
            duplicates=int(pc.sum(duplicate).as_py() or 0),
            read=records.num_rows,
            cells_present=int(pc.sum(result.column("present")).as_py() or 0),
        )


def _superseded_in_batch(result: pa.Table, valid: pa.ChunkedArray) -> pa.ChunkedArray:
    """For each row of ``result`` (in record order), whether it is a valid record whose key
    (order id, line number) a later valid record of the batch has too: the later one wins."""
    rows = result.select(["order_id", "line_no", "__row"]).filter(valid)
    last = rows.group_by(["order_id", "line_no"], use_threads=False).aggregate([("__row", "max")])
    if last.num_rows == rows.num_rows:
        return pa.chunked_array([pa.repeat(False, result.num_rows)], pa.bool_())
    kept = pc.is_in(result.column("__row"), value_set=last.column("__row_max"))
    return pc.and_(valid, pc.invert(kept))


def _reason(code: str) -> QuarantineReason:
    kind, _, name = code.partition(":")
    return QuarantineReason(code=kind, field=name, message=f"{name} {REASONS[kind]}")


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    jsonable: dict[str, Any] = json.loads(json.dumps(values, default=str))
    return jsonable
