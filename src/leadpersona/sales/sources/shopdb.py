"""The shop database as a source: order lines read incrementally by ``updated_at``, streamed.

One pass is one query, ``orders ⋈ order_lines ⟕ products`` in the order of the keyset
``(orders.updated_at, order_lines.order_id, order_lines.line_no)``, strictly after the
committed checkpoint ``{"updated_at": ISO 8601, "order_id": ..., "line_no": ...}`` (the keyset
of the last line stored). Its rows are streamed with a server-side cursor (``stream_results``,
``yield_per``) on one pooled connection, ``batch_rows`` at a time; each batch's checkpoint is
the keyset of its last line. Lines with the same ``updated_at`` on both sides of a batch
boundary are told apart by ``(order_id, line_no)``, so none is skipped and none read twice.
An order that changes later (a refund) gets a later ``updated_at``, so its lines come again
in a later pass, with the new status: the warehouse's later record supersedes the earlier one.

Blocking database work (the query, fetching, turning rows into a table) runs on one worker
thread per pass, so the event loop never waits on it and the connection is used from a
single thread. The next batch is fetched while the consumer cleans and stores the current
one (one batch ahead, so at most two in memory). The connection goes back to the pool when
the pass ends, when the consumer stops early (the generator is closed) and on
:meth:`ShopDbSource.aclose`.

The known limit of an ``updated_at`` watermark: a transaction that stamps ``updated_at``
and commits *later* than another one stamped after it (``now()`` on PostgreSQL is the time the
transaction started) becomes visible after the watermark has moved past its stamp, and a plain
watermark never reads it. Re-reading an overlap window behind the watermark would catch it,
but would read every line of that window again on every pass, and the warehouse counts
identical re-reads as duplicates: the uniqueness figure of every load would fall for no fault
of the data. This source does the opposite: with ``settle`` set, it reads only lines whose
``updated_at`` is at least ``settle`` old (by this machine's UTC clock), so the watermark stays
that far behind the present and a transaction committing within ``settle`` of its stamp is
read, once, by a later pass. The price is freshness: a change is loaded ``settle`` after it is
made at the earliest. The default is no settling, right for a shop written by one writer at a
time, like the demo shop (:func:`leadpersona.sales.shop_db.set_order_status` is one short
statement); a live shop with concurrent writers should set ``settle`` to its longest write
transaction plus the skew between its clock and this machine's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine, Select, String, and_, cast, or_, select
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.exc import SQLAlchemyError

from leadpersona.errors import InvalidInput
from leadpersona.sales.records import FIELDS, SalesSource, SourceBatch, SourceName
from leadpersona.sales.shop_db import order_lines, orders, products, shop_errors, to_utc_naive

__all__ = ["LOCATION", "ShopDbSource"]

#: The ``location`` of every batch.
LOCATION = "orders"

# The query's columns, in the order of FIELDS, then the keyset's updated_at. Numbers are turned
# into text by the database (no Decimal objects made for a million lines).
_COLUMNS = (
    order_lines.c.order_id,
    cast(order_lines.c.line_no, String).label("line_no"),
    orders.c.order_date,
    orders.c.customer_email,
    order_lines.c.product_sku,
    products.c.name.label("product_name"),
    products.c.category,
    cast(order_lines.c.quantity, String).label("quantity"),
    cast(order_lines.c.unit_price, String).label("unit_price"),
    cast(order_lines.c.discount, String).label("discount"),
    orders.c.currency,
    orders.c.status,
    orders.c.updated_at,
)
_ORDER_DATE = FIELDS.index("order_date")
_DECIMALS = frozenset(("unit_price", "discount"))
_UPDATED_AT = len(FIELDS)


def _iso(value: Any) -> str | None:
    """A date or date-time as ISO 8601 text; one without a time zone is UTC (``Z``)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat() + "Z" if value.tzinfo is None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _text(value: Any) -> str | None:
    return value if value is None or value.__class__ is str else str(value)


def _dates(values: Sequence[Any]) -> pa.Array:
    """Order dates as ISO 8601 text (a column of the shop's naive UTC date-times, fast)."""
    sample = next((v for v in values if v is not None), None)
    try:
        if sample is None or sample.__class__ is str:
            return pa.array(values, pa.string())
        if sample.__class__ is datetime and sample.tzinfo is None:
            return pa.array([v if v is None else v.isoformat() + "Z" for v in values], pa.string())
    except (AttributeError, TypeError, pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    return pa.array([_iso(v) for v in values], pa.string())


def _plain_decimals(texts: pa.Array) -> pa.Array:
    """Decimal text without trailing zeros: PostgreSQL writes numeric(18, 4) as "219.0000",
    SQLite as "219"; both become "219" ("59.9000" becomes "59.9")."""
    trimmed = pc.ascii_rtrim(pc.ascii_rtrim(texts, characters="0"), characters=".")
    return pc.if_else(pc.match_substring(texts, "."), trimmed, texts)


def _table(rows: Sequence[Sequence[Any]]) -> pa.Table:
    """Rows of the query as the raw record table (string columns named as FIELDS)."""
    columns = list(zip(*rows, strict=True))
    arrays = {}
    for index, name in enumerate(FIELDS):
        values = columns[index]
        if index == _ORDER_DATE:
            arrays[name] = _dates(values)
        else:
            try:
                arrays[name] = pa.array(values, pa.string())
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                arrays[name] = pa.array([_text(v) for v in values], pa.string())
            if name in _DECIMALS:
                arrays[name] = _plain_decimals(arrays[name])
    return pa.table(arrays)


def _batch(rows: Sequence[Sequence[Any]]) -> tuple[pa.Table, dict[str, Any]]:
    return _table(rows), _checkpoint(rows[-1])


def _checkpoint(row: Sequence[Any]) -> dict[str, Any]:
    updated_at = row[_UPDATED_AT]
    if isinstance(updated_at, datetime):
        updated_at = to_utc_naive(updated_at)
    return {
        "updated_at": updated_at.isoformat(),
        "order_id": row[0],
        "line_no": int(row[1]),
    }


def _after(checkpoint: Mapping[str, Any]) -> Any:
    """The keyset condition "strictly after ``checkpoint``" (first term usable by the index)."""
    try:
        updated_at = to_utc_naive(datetime.fromisoformat(str(checkpoint["updated_at"])))
        order_id = str(checkpoint["order_id"])
        line_no = int(checkpoint["line_no"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"the shop database checkpoint is not readable: {exc}") from None
    return and_(
        orders.c.updated_at >= updated_at,
        or_(
            orders.c.updated_at > updated_at,
            order_lines.c.order_id > order_id,
            and_(order_lines.c.order_id == order_id, order_lines.c.line_no > line_no),
        ),
    )


class _Pass:
    """One streaming query on one connection, every step on the same worker thread."""

    def __init__(self, engine: Engine, statement: Select[Any], batch_rows: int) -> None:
        self._engine = engine
        self._statement = statement
        self._batch_rows = batch_rows
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shopdb")
        self._connection: Connection | None = None
        self._result: CursorResult[Any] | None = None
        self._ahead: asyncio.Future[Sequence[Sequence[Any]]] | None = None
        self.closed = False

    def _fetch(self) -> Sequence[Sequence[Any]]:
        try:
            if self._result is None:
                self._connection = self._engine.connect()
                self._result = self._connection.execution_options(
                    stream_results=True, yield_per=self._batch_rows
                ).execute(self._statement)
            return self._result.fetchmany(self._batch_rows)
        except SQLAlchemyError as exc:
            raise shop_errors(self._engine, exc) from None

    def _release(self) -> None:
        try:
            if self._result is not None:
                self._result.close()
        finally:
            if self._connection is not None:
                self._connection.close()  # rolls back and returns it to the pool
            self._result = self._connection = None

    def _submit(self) -> asyncio.Future[Sequence[Sequence[Any]]]:
        return asyncio.get_running_loop().run_in_executor(self._executor, self._fetch)

    async def fetch(self) -> tuple[pa.Table, dict[str, Any]] | None:
        """The next batch (records, checkpoint), or None once the query is exhausted.

        The rows after it are fetched meanwhile (one batch ahead, on the connection's thread),
        while these are turned into a table (on another thread) and the consumer cleans and
        stores them.
        """
        if self.closed:
            return None
        pending, self._ahead = self._ahead or self._submit(), None
        rows = await pending
        if not rows:
            return None
        if not self.closed:
            self._ahead = self._submit()
        return await asyncio.to_thread(_batch, rows)

    async def close(self) -> None:
        """Give the connection back (after any fetch still running) and stop the thread."""
        if self.closed:
            return
        self.closed = True
        if self._ahead is not None:
            self._ahead.cancel()  # not started: never runs; running: finishes, then release
            self._ahead = None
        try:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._release)
        finally:
            self._executor.shutdown(wait=False)


class ShopDbSource(SalesSource):
    """Order lines of the shop database changed since the last checkpoint (module docstring)."""

    name: ClassVar[SourceName] = "db"

    def __init__(
        self,
        engine: Engine,
        *,
        batch_rows: int = 10_000,
        checkpoint_key: str = "db",
        settle: timedelta = timedelta(0),
    ) -> None:
        """``engine`` stays the caller's (:func:`~leadpersona.sales.shop_db.create_shop_engine`)."""
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        if settle < timedelta(0):
            raise ValueError("settle must not be negative")
        self.engine = engine
        self.batch_rows = batch_rows
        self.checkpoint_key = checkpoint_key
        self.settle = settle
        self._passes: set[_Pass] = set()

    def statement(self, checkpoint: Mapping[str, Any] | None) -> Select[Any]:
        """One pass's query: the lines after ``checkpoint`` (all when None), in keyset order."""
        statement = (
            select(*_COLUMNS)
            .select_from(
                orders.join(order_lines, order_lines.c.order_id == orders.c.order_id).outerjoin(
                    products, products.c.sku == order_lines.c.product_sku
                )
            )
            .order_by(orders.c.updated_at, order_lines.c.order_id, order_lines.c.line_no)
        )
        if checkpoint:
            statement = statement.where(_after(checkpoint))
        if self.settle:
            horizon = datetime.now(UTC).replace(tzinfo=None) - self.settle
            statement = statement.where(orders.c.updated_at <= horizon)
        return statement

    async def batches(self, state: Mapping[str, Mapping[str, Any]]) -> AsyncIterator[SourceBatch]:
        """The lines after the committed checkpoint, ``batch_rows`` a batch."""
        current = _Pass(
            self.engine, self.statement(state.get(self.checkpoint_key)), self.batch_rows
        )
        self._passes.add(current)
        read = 0
        try:
            while (fetched := await current.fetch()) is not None:
                records, checkpoint = fetched
                yield SourceBatch(
                    source=self.name,
                    location=LOCATION,
                    records=records,
                    first_row=read + 1,
                    checkpoint_key=self.checkpoint_key,
                    checkpoint=checkpoint,
                )
                read += records.num_rows
        finally:
            self._passes.discard(current)
            await current.close()

    async def aclose(self) -> None:
        """Give back the connection of any pass still open (the engine stays the caller's)."""
        while self._passes:
            await self._passes.pop().close()
