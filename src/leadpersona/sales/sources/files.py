"""The sales file inbox as a source: CSV, JSON Lines and Parquet files, each loaded once.

Every regular file at the top of the inbox is read in batches of at most ``batch_rows``
records, in the order files arrived (modification time, then name), never whole:

- **CSV** (``.csv``, ``.tsv``, ``.txt``): UTF-8 with or without a BOM; the delimiter sniffed
  among ``,`` ``;`` ``|`` and tab; quoted cells may hold delimiters and line breaks; streamed
  by Arrow's CSV reader with every column read as text. A row with the wrong number of cells is
  kept whole (under ``value``) so that cleaning quarantines it: nothing read is dropped.
- **JSON Lines** (``.jsonl``, ``.ndjson``): one object per line; blank lines skipped; a line
  that is not an object is kept whole under ``value`` (quarantined).
- **Parquet** (``.parquet``): row groups streamed; every column cast to text.

Header and key names are matched case-insensitively (lower-cased and trimmed). The ledger is
keyed by the SHA-256 of the content (checkpoint key ``file:<sha256>``, value ``{"name",
"rows", "done"}``): a file loaded before, even renamed or dropped again, is not read again and
goes straight to ``processed/``; a file whose load was killed half-way resumes after the
records already stored. A loaded file moves to ``processed/`` once its last batch is
committed. A file that cannot be read at all (unknown type, not UTF-8, no header, a corrupt
Parquet file) moves to ``failed/`` with ``<name>.reason.txt`` beside it, and is listed in
:attr:`FileInboxSource.failures`; if that happens after some of its batches were stored, they
stay stored.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import hashlib
import io
import json
import os
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from leadpersona.sales.records import FIELDS, SalesSource, SourceBatch, SourceName, raw_table

__all__ = ["CSV_SUFFIXES", "JSONL_SUFFIXES", "FileFailure", "FileInboxSource"]

CSV_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
PARQUET_SUFFIXES = frozenset({".parquet"})
_SNIFF_BYTES = 64 * 1024
_DELIMITERS = ",;|\t"


@dataclass
class FileFailure:
    """A file that could not be read, and why."""

    name: str
    reason: str


class _Unreadable(Exception):
    """The file cannot be read at all (the message is the reason)."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _as_text(table: pa.Table) -> pa.Table:
    """Every column as a string column, names lower-cased and trimmed."""
    columns = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        key = str(name).lstrip("\ufeff").strip().lower()
        if key in columns:
            continue  # the first of two columns that differ only in case wins
        if not pa.types.is_string(column.type):
            try:
                column = column.cast(pa.string())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                column = pa.array([None if v is None else str(v) for v in column.to_pylist()])
        columns[key] = column
    for field in FIELDS:
        columns.setdefault(field, pa.nulls(table.num_rows, pa.string()))
    return pa.table(columns)


def _empty() -> pa.Table:
    return pa.table({name: pa.array([], pa.string()) for name in FIELDS})


def _sniff(sample: str) -> str:
    header = sample.splitlines()[0] if sample else ""
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        counts = {d: header.count(d) for d in _DELIMITERS}
        return max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","


def _csv_batches(path: Path, batch_rows: int) -> Iterator[tuple[pa.Table, list[int] | None]]:
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    try:
        sample = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the sample's end
            raise _Unreadable("not UTF-8 text") from None
        sample = head[: exc.start].decode("utf-8")
    if not sample.strip():
        raise _Unreadable("empty file: no header")
    delimiter = _sniff(sample)
    header = next(csv.reader(io.StringIO(sample), delimiter=delimiter), [])
    names = [str(name).strip().lower() for name in header]
    if not any(names):
        raise _Unreadable("no header")
    odd: list[dict[str, Any]] = []

    def keep(row: Any) -> str:
        odd.append({"value": row.text, "_line": row.number})
        return "skip"

    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=1 << 22),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=keep
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()),
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise _Unreadable(f"not a readable CSV file: {exc}") from None
    yield from _rebatch(_csv_blocks(reader, odd), batch_rows)


def _csv_blocks(reader: Any, odd: list[dict[str, Any]]) -> Iterator[pa.Table]:
    while True:
        try:
            block = reader.read_next_batch()
        except StopIteration:
            break
        except pa.ArrowInvalid as exc:
            raise _Unreadable(f"unreadable from some point on: {exc}") from None
        table = _as_text(pa.Table.from_batches([block]))
        if odd:
            extra = _as_text(raw_table([{"value": row["value"]} for row in odd]))
            odd.clear()
            table = pa.concat_tables([table, extra], promote_options="default")
        yield table
    if odd:
        yield _as_text(raw_table([{"value": row["value"]} for row in odd]))


def _rebatch(
    blocks: Iterator[pa.Table], batch_rows: int
) -> Iterator[tuple[pa.Table, list[int] | None]]:
    pending: list[pa.Table] = []
    size = 0
    for block in blocks:
        pending.append(block)
        size += block.num_rows
        while size >= batch_rows:
            table = pa.concat_tables(pending, promote_options="default")
            yield table.slice(0, batch_rows), None
            rest = table.slice(batch_rows)
            pending, size = ([rest], rest.num_rows) if rest.num_rows else ([], 0)
    if pending:
        yield pa.concat_tables(pending, promote_options="default"), None


def _jsonl_batches(path: Path, batch_rows: int) -> Iterator[tuple[pa.Table, list[int] | None]]:
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    seen_object = False
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as handle:
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                try:
                    value = json.loads(text)
                except json.JSONDecodeError:
                    value = None
                    record: dict[str, Any] = {"value": text.rstrip("\r\n")}
                else:
                    record = value if isinstance(value, dict) else {"value": text.strip()}
                if isinstance(value, dict):
                    seen_object = True
                elif not seen_object:
                    raise _Unreadable(f"line {number} is not a JSON object")
                records.append(
                    {
                        k: v if v is None or isinstance(v, str) else _json_text(v)
                        for k, v in record.items()
                    }
                )
                lines.append(number)
                if len(records) >= batch_rows:
                    yield _as_text(raw_table(records)), lines
                    records, lines = [], []
    except UnicodeDecodeError:
        raise _Unreadable("not UTF-8 text") from None
    if records:
        yield _as_text(raw_table(records)), lines


def _json_text(value: Any) -> str:
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)


def _parquet_batches(path: Path, batch_rows: int) -> Iterator[tuple[pa.Table, list[int] | None]]:
    try:
        parquet = pq.ParquetFile(path)
        for batch in parquet.iter_batches(batch_size=batch_rows):
            yield _as_text(pa.Table.from_batches([batch])), None
    except (pa.ArrowInvalid, OSError) as exc:
        raise _Unreadable(f"not a readable Parquet file: {exc}") from None


def _reader(path: Path, batch_rows: int) -> Iterator[tuple[pa.Table, list[int] | None]]:
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _csv_batches(path, batch_rows)
    if suffix in JSONL_SUFFIXES:
        return _jsonl_batches(path, batch_rows)
    if suffix in PARQUET_SUFFIXES:
        return _parquet_batches(path, batch_rows)
    raise _Unreadable(f"unsupported file type {suffix or '(none)'}: use CSV, JSON Lines or Parquet")


def _skip(
    batches: Iterator[tuple[pa.Table, list[int] | None]], skip: int
) -> Iterator[tuple[pa.Table, list[int] | None]]:
    """The records after the first ``skip``."""
    for table, lines in batches:
        if skip >= table.num_rows:
            skip -= table.num_rows
            continue
        if skip:
            table, lines = table.slice(skip), (lines[skip:] if lines is not None else None)
            skip = 0
        yield table, lines


def _move(path: Path, folder: Path, digest: str) -> Path:
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.stem}.{digest[:8]}{path.suffix}"
    os.replace(path, target)
    return target


class FileInboxSource(SalesSource):
    """Sales files dropped into ``inbox`` (see the module docstring)."""

    name: ClassVar[SourceName] = "files"

    def __init__(self, inbox: Path, *, batch_rows: int = 50_000) -> None:
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        self.inbox = inbox
        self.batch_rows = batch_rows
        self.processed = inbox / "processed"
        self.failed = inbox / "failed"
        self.failures: list[FileFailure] = []
        self._paths: dict[str, tuple[Path, str]] = {}

    def pending(self) -> list[Path]:
        """The files waiting in the inbox, in the order they are read."""
        if not self.inbox.is_dir():
            return []
        files = [
            path
            for path in self.inbox.iterdir()
            if path.is_file()
            and not path.name.startswith(".")
            and not path.name.endswith(".reason.txt")
        ]
        return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))

    def _fail(self, path: Path, digest: str, reason: str) -> None:
        self.failures.append(FileFailure(path.name, reason))
        if path.exists():
            target = _move(path, self.failed, digest or hashlib.sha256(b"").hexdigest())
            target.with_name(target.name + ".reason.txt").write_text(reason + "\n", "utf-8")

    async def batches(self, state: Mapping[str, Mapping[str, Any]]) -> AsyncIterator[SourceBatch]:
        """Each pending file's records not stored yet, a batch at a time."""
        for directory in (self.inbox, self.processed, self.failed):
            directory.mkdir(parents=True, exist_ok=True)
        for path in await asyncio.to_thread(self.pending):
            try:
                digest = await asyncio.to_thread(_sha256, path)
            except OSError as exc:
                self.failures.append(FileFailure(path.name, f"cannot read: {exc.strerror}"))
                continue
            key = f"file:{digest}"
            saved = state.get(key) or {}
            if saved.get("done"):
                await asyncio.to_thread(_move, path, self.processed, digest)
                continue
            self._paths[key] = (path, digest)
            async for batch in self._file(path, key, int(saved.get("rows", 0))):
                yield batch

    async def _file(self, path: Path, key: str, skip: int) -> AsyncIterator[SourceBatch]:
        digest = self._paths[key][1]
        try:
            reader = _skip(_reader(path, self.batch_rows), skip)
            current = await asyncio.to_thread(next, reader, None)
        except _Unreadable as exc:
            await asyncio.to_thread(self._fail, path, digest, str(exc))
            return
        rows = skip
        while True:
            try:
                following = await asyncio.to_thread(next, reader, None) if current else None
            except _Unreadable as exc:
                await asyncio.to_thread(self._fail, path, digest, str(exc))
                return
            table, lines = current if current is not None else (_empty(), None)
            first = rows + 1
            rows += table.num_rows
            done = following is None
            yield SourceBatch(
                source=self.name,
                location=path.name,
                records=table,
                first_row=first,
                lines=lines,
                checkpoint_key=key,
                checkpoint={"name": path.name, "rows": rows, "done": done},
            )
            if done:
                return
            current = following

    async def committed(self, batch: SourceBatch) -> None:
        """Move a file to ``processed/`` once its last batch is stored."""
        if not batch.checkpoint.get("done"):
            return
        found = self._paths.pop(batch.checkpoint_key, None)
        if found is not None and found[0].exists():
            await asyncio.to_thread(_move, found[0], self.processed, found[1])
