"""The sales file inbox as a source: CSV, JSON Lines and Parquet files, each loaded once.

Every regular file at the top of the inbox is read in batches of at most ``batch_rows``
records, in the order files arrived (modification time, then name), never whole:

- **CSV** (``.csv``, ``.tsv``, ``.txt``): UTF-8 with or without a BOM; the delimiter is the one
  of ``,`` ``;`` ``|`` and tab that splits the first 64 KiB into the most consistent rows;
  quoted cells may hold delimiters and line breaks. The file is cut into pieces of about
  4 MiB at line breaks outside quotes, and each piece is parsed by Arrow with every column
  read as text (only an empty cell is null). A row with the wrong number of cells is kept in
  its place: missing cells are null, cells beyond the header go to ``_extra`` (joined by the
  delimiter), so that cleaning judges it like any other: nothing read is dropped. When most
  rows are wider than the header (a delimiter after every row), the surplus cells get columns
  ``_extra_1``, ``_extra_2``... instead. The line each record starts on is known.
- **JSON Lines** (``.jsonl``, ``.ndjson``): one object per line; blank lines skipped; a line
  that is not an object is kept whole under ``value`` (quarantined). A line longer than
  16 MiB makes the file unreadable (it would have to be read whole).
- **Parquet** (``.parquet``): streamed a batch at a time; every column cast to text (nested
  values as JSON).

Header and key names are matched case-insensitively (lower-cased and trimmed). The ledger is
keyed by the SHA-256 of the content (checkpoint key ``file:<sha256>``, value ``{"name",
"rows", "done"}``): a file loaded before, even renamed or dropped again, is not read again and
goes straight to ``processed/``; a file whose load was killed half-way resumes after the
records already stored. A loaded file moves to ``processed/`` once its last batch is
committed (a copy of it met in the same pass goes with it). A file that cannot be read at all
(unknown type, not UTF-8, no header, a corrupt Parquet file, JSON Lines without one object,
an I/O error) moves to ``failed/`` with ``<name>.reason.txt`` beside it, and is listed in
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
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from leadpersona.sales.records import FIELDS, SalesSource, SourceBatch, SourceName

__all__ = [
    "CSV_SUFFIXES",
    "EXTRA_COLUMN",
    "JSONL_SUFFIXES",
    "PARQUET_SUFFIXES",
    "FileFailure",
    "FileInboxSource",
]

CSV_SUFFIXES = frozenset({".csv", ".tsv", ".txt"})
JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})
PARQUET_SUFFIXES = frozenset({".parquet"})
#: Where the cells of a CSV row beyond its header go (joined by the delimiter).
EXTRA_COLUMN = "_extra"
_SNIFF_BYTES = 64 * 1024
_DELIMITERS = ",;|\t"
#: Size of the pieces a CSV file is parsed in.
_PIECE_BYTES = 4 << 20
#: A piece grows to find a line break outside quotes up to this size, then is cut at the last
#: line break (a quote that never closes, or a stray quote inside a cell).
_MAX_PIECE_BYTES = 16 << 20

#: A part of a file read: the records as text columns, and the line each starts on (or None).
_Part = tuple[pa.Table, list[int] | None]


@dataclass
class FileFailure:
    """A file that could not be read, and why."""

    name: str
    reason: str


class _Unreadable(Exception):
    """The file cannot be read (the message is the reason)."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _names(raw: Iterable[Any]) -> list[str]:
    """Column names lower-cased and trimmed; an empty name or a repeated one gets a number."""
    names: list[str] = []
    for index, name in enumerate(raw, start=1):
        key = str(name).lstrip("\ufeff").strip().lower() or f"column_{index}"
        if key in names:
            key = f"{key}_{index}"
        names.append(key)
    return names


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _text_column(column: pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    if pa.types.is_string(column.type):
        return column
    if pa.types.is_large_string(column.type) or pa.types.is_dictionary(column.type):
        return column.cast(pa.string())
    if pa.types.is_nested(column.type):
        return pa.array(
            [None if v is None else _json_text(v) for v in column.to_pylist()], pa.string()
        )
    try:
        return column.cast(pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pa.array([None if v is None else str(v) for v in column.to_pylist()], pa.string())


def _as_text(table: pa.Table) -> pa.Table:
    """Every column as a string column, names lower-cased; the record fields always present."""
    names = _names(table.column_names)
    columns = {n: _text_column(c) for n, c in zip(names, table.columns, strict=True)}
    for name in FIELDS:
        columns.setdefault(name, pa.nulls(table.num_rows, pa.string()))
    return pa.table(columns)


def _empty() -> pa.Table:
    return pa.table({name: pa.array([], pa.string()) for name in FIELDS})


# --- CSV ---------------------------------------------------------------------------------


def _sniff(sample: str, complete: bool) -> str:
    """The delimiter that splits ``sample`` into the most consistent rows (then the widest)."""
    if not complete:  # the last line may be cut short
        sample = sample[: max(sample.rfind("\n"), 0)] or sample
    best, score = ",", (-1.0, 0)
    for delimiter in _DELIMITERS:
        try:
            rows = [r for r in csv.reader(io.StringIO(sample), delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        width = len(rows[0])
        body = rows[1:]
        consistent = sum(len(r) == width for r in body) / len(body) if body else 1.0
        if (consistent, width) > score:
            best, score = delimiter, (consistent, width)
    return best


def _count(data: bytes, byte: bytes) -> int:
    """How many times the single ``byte`` occurs in ``data`` (vectorised: ``bytes.count``
    took 4 times as long on the pieces of a CSV file)."""
    return int(np.count_nonzero(np.frombuffer(data, np.uint8) == ord(byte)))


def _has_blank_line(piece: bytes) -> bool:
    """Whether ``piece`` starts with an empty line or holds one (``\n\n``, ``\n\r\n``)."""
    if piece.startswith((b"\n", b"\r\n")) or (b"\r" in piece and b"\n\r\n" in piece):
        return True
    breaks = np.flatnonzero(np.frombuffer(piece, np.uint8) == ord(b"\n"))
    return bool((np.diff(breaks) == 1).any())


def _last_boundary(buffer: bytes) -> int:
    """The offset of the last line break in ``buffer`` outside quotes (-1 if none).

    ``buffer`` starts at a record boundary; RFC 4180 quoting (a quote inside a quoted cell is
    doubled) keeps the count of quotes before a line break even outside quotes.
    """
    quotes = _count(buffer, b'"')
    end = len(buffer)
    after = 0
    while True:
        position = buffer.rfind(b"\n", 0, end)
        if position < 0:
            return -1
        after += buffer.count(b'"', position, end)
        if (quotes - after) % 2 == 0:
            return position
        end = position


def _pieces(handle: IO[bytes], buffer: bytes) -> Iterator[bytes]:
    """The rest of a CSV file in pieces of whole records (the first starts with ``buffer``)."""
    eof = False
    target = _PIECE_BYTES
    while True:
        while len(buffer) < target and not eof:
            more = handle.read(_PIECE_BYTES)
            eof = not more
            buffer += more
        if eof:
            if buffer:
                yield buffer
            return
        cut = _last_boundary(buffer)
        if cut < 0:
            if len(buffer) < _MAX_PIECE_BYTES:
                target = len(buffer) + _PIECE_BYTES
                continue
            cut = buffer.rfind(b"\n")
            if cut < 0:
                raise _Unreadable(f"a line longer than {_MAX_PIECE_BYTES >> 20} MiB")
        yield buffer[: cut + 1]
        buffer = buffer[cut + 1 :]
        target = _PIECE_BYTES


def _common_width(body: bytes, complete: bool, delimiter: str) -> int:
    """The number of cells most rows of ``body`` have, when more than half have it (else 0)."""
    if not complete:
        body = body[: body.rfind(b"\n") + 1]
    try:
        text = body.decode("utf-8", errors="replace")
        widths = Counter(len(r) for r in csv.reader(io.StringIO(text), delimiter=delimiter) if r)
    except csv.Error:
        return 0
    if not widths:
        return 0
    width, count = widths.most_common(1)[0]
    return width if count * 2 > widths.total() else 0


def _is_utf8(data: bytes) -> bool:
    """Whether ``data`` is valid UTF-8 (Arrow's validation: far faster than decoding)."""
    offsets = pa.array([0, len(data)], pa.int64()).buffers()[1]
    try:
        pa.Array.from_buffers(pa.large_string(), 1, [None, offsets, pa.py_buffer(data)]).validate(
            full=True
        )
    except pa.ArrowInvalid:
        return False
    return True


def _header_end(head: bytes) -> int:
    """Where the records start: after the first line that is not blank, and any line breaks
    quoted in it."""
    inside = False
    seen = False
    offset = 0
    for segment in head.split(b"\n"):
        seen = seen or segment.strip(b"\r") != b""
        if b'"' in segment and segment.count(b'"') % 2:
            inside = not inside
        offset += len(segment) + 1
        if seen and not inside:
            return min(offset, len(head))
    return len(head)


def _record_starts(piece: bytes) -> list[tuple[int, int]]:
    """(line within the piece, byte offset) of each record: line breaks outside quotes, blank
    lines skipped (as Arrow does)."""
    starts = []
    inside = False
    offset = 0
    for index, segment in enumerate(piece.split(b"\n")):
        if not inside and segment and segment != b"\r":
            starts.append((index, offset))
        if b'"' in segment and segment.count(b'"') % 2:
            inside = not inside
        offset += len(segment) + 1
    return starts


class _CsvFile:
    """One CSV file read a piece at a time (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def parts(self) -> Iterator[_Part]:
        with self.path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
            complete = len(head) < _SNIFF_BYTES
            if head.startswith(codecs.BOM_UTF8):
                head = head[len(codecs.BOM_UTF8) :]
            try:
                sample = head.decode("utf-8")
            except UnicodeDecodeError as exc:
                if complete or exc.start < len(head) - 4:  # not a character cut at the end
                    raise _Unreadable("not UTF-8 text") from None
                sample = head[: exc.start].decode("utf-8")
            if not sample.strip():
                raise _Unreadable("empty file: no header")
            self.delimiter = _sniff(sample, complete)
            end = _header_end(head)
            header = next(
                csv.reader(
                    io.StringIO(head[:end].decode("utf-8", errors="replace")),
                    delimiter=self.delimiter,
                ),
                [],
            )
            if not any(cell.strip() for cell in header):
                raise _Unreadable("no header")
            self.names = _names(header)
            wider = _common_width(head[end:], complete, self.delimiter) - len(self.names)
            # Rows wider than the header all along (a delimiter after the last cell of every
            # row): the surplus gets columns of its own rather than every row being odd.
            self.names += [f"{EXTRA_COLUMN}_{number}" for number in range(1, wider + 1)]
            line = 1 + head[:end].count(b"\n")
            for piece in _pieces(handle, head[end:]):
                breaks = _count(piece, b"\n")
                table, lines = self._parse(piece, line, breaks)
                line += breaks
                yield table, lines

    def _parse(self, piece: bytes, line: int, breaks: int) -> _Part:
        odd: list[str] = []
        if not piece:
            return _empty(), []

        if not _is_utf8(piece):  # before Arrow, which cannot hand such a row to ``keep``
            try:
                piece.decode("utf-8")
            except UnicodeDecodeError as exc:
                at = line + piece.count(b"\n", 0, exc.start)
                raise _Unreadable(f"not UTF-8 text (line {at})") from None

        def keep(row: Any) -> str:
            odd.append(row.text)
            return "skip"

        try:
            table = pacsv.read_csv(
                io.BytesIO(piece),
                read_options=pacsv.ReadOptions(column_names=self.names, block_size=1 << 20),
                parse_options=pacsv.ParseOptions(
                    delimiter=self.delimiter, newlines_in_values=True, invalid_row_handler=keep
                ),
                convert_options=pacsv.ConvertOptions(
                    column_types=dict.fromkeys(self.names, pa.string()),
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            )
        except pa.ArrowInvalid as exc:
            reason = str(exc).splitlines()[0]
            if "UTF8" in reason or "UTF-8" in reason:
                reason = "not UTF-8 text"
            raise _Unreadable(f"unreadable from line {line} on: {reason}") from None
        records = table.num_rows + len(odd)
        lines = self._lines(piece, line, records, breaks)
        if not odd:
            return _as_text(table), lines
        extra = self._odd_table(odd)
        both = pa.concat_tables([_as_text(table), extra], promote_options="default")
        order = self._order(piece, odd, records, table.num_rows)
        if order is None:  # the odd rows could not be placed: they follow the piece's others
            return both, None
        return both.take(order), lines

    def _lines(self, piece: bytes, line: int, records: int, breaks: int) -> list[int] | None:
        """The line each record of ``piece`` starts on (None if they cannot be told)."""
        if not piece.endswith(b"\n"):
            breaks += 1
        if breaks == records and not _has_blank_line(piece):  # a record per line
            return list(range(line, line + records))
        starts = _record_starts(piece)
        if len(starts) != records:
            return None
        return [line + index for index, _ in starts]

    def _odd_table(self, odd: list[str]) -> pa.Table:
        width = len(self.names)
        columns: dict[str, list[str | None]] = {name: [] for name in [*self.names, EXTRA_COLUMN]}
        for text in odd:
            try:
                cells = next(csv.reader(io.StringIO(text), delimiter=self.delimiter), [])
            except csv.Error:  # a cell beyond the csv module's size limit
                cells = text.split(self.delimiter)
            for index, name in enumerate(self.names):
                value = cells[index] if index < len(cells) else None
                columns[name].append(value or None)
            rest = cells[width:]
            columns[EXTRA_COLUMN].append(self.delimiter.join(rest) or None)
        return _as_text(pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()}))

    def _order(self, piece: bytes, odd: list[str], records: int, good: int) -> list[int] | None:
        """Positions to take so the odd rows stand where they were in the piece."""
        starts = _record_starts(piece)
        if len(starts) != records:
            return None
        ends = [offset for _, offset in starts[1:]] + [len(piece)]
        at: dict[bytes, list[int]] = {}  # a record's bytes -> its positions in the piece
        for position, ((_, start), end) in enumerate(zip(starts, ends, strict=True)):
            at.setdefault(piece[start:end].rstrip(b"\r\n"), []).append(position)
        taken: dict[int, int] = {}  # position in the piece -> index among the odd rows
        for number, text in enumerate(odd):
            positions = at.get(text.encode("utf-8"))
            if not positions:
                return None
            taken[positions.pop(0)] = number
        order = []
        next_good = 0
        for position in range(records):
            if position in taken:
                order.append(good + taken[position])
            else:
                order.append(next_good)
                next_good += 1
        return order


# --- JSON Lines --------------------------------------------------------------------------


def _columns(records: list[Mapping[str, Any]]) -> pa.Table:
    """Records (keys lower-cased already) as a table of strings, the fields first."""
    keys = tuple(records[0]) if records else ()
    if all(tuple(record) == keys for record in records):  # one exporter: one key order
        values: dict[str, Any] = dict(
            zip(keys, zip(*(r.values() for r in records), strict=True), strict=True)
        )
    else:
        names: dict[str, None] = {}
        for record in records:
            names.update(dict.fromkeys(record))
        values = {name: [record.get(name) for record in records] for name in names}
    columns = {name: _text_array(column) for name, column in values.items()}
    for name in FIELDS:
        columns.setdefault(name, pa.nulls(len(records), pa.string()))
    extra = [name for name in columns if name not in _FIELD_NAMES]
    return pa.table({name: columns[name] for name in [*FIELDS, *extra]})


def _text_array(values: Sequence[Any]) -> pa.Array:
    """JSON values as text: strings as they are, numbers and booleans as JSON writes them (by
    Arrow when a column holds only those), objects and lists as JSON."""
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        pass
    try:
        inferred = pa.array(values)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        inferred = None
    if inferred is not None and (
        pa.types.is_integer(inferred.type) or pa.types.is_boolean(inferred.type)
    ):
        return inferred.cast(pa.string())
    return pa.array(
        [v if v is None or v.__class__ is str else _value_text(v) for v in values], pa.string()
    )


def _value_text(value: Any) -> str:
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return _json_text(value)


def _jsonl_parts(path: Path, batch_rows: int) -> Iterator[_Part]:
    if not any(_object(text) is not None for _, text in _json_lines(path)):
        raise _Unreadable("no line is a JSON object")
    records: list[Mapping[str, Any]] = []
    lines: list[int] = []
    for number, text in _json_lines(path):
        value = _object(text)
        if value is None:
            records.append({"value": text})
        elif value.keys() <= _FIELD_NAMES:
            records.append(value)
        else:
            records.append({str(k).strip().lower(): v for k, v in value.items()})
        lines.append(number)
        if len(records) >= batch_rows:
            yield _columns(records), lines
            records, lines = [], []
    if records:
        yield _columns(records), lines


_FIELD_NAMES = frozenset(FIELDS)
#: A JSON line longer than this makes the file unreadable (it is not read whole).
_MAX_LINE_BYTES = 16 << 20
_SCAN: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _json_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text trimmed) of each line that is not blank, read a block at a time."""
    number = 0
    rest = b""
    with path.open("rb") as handle:
        while True:
            block = handle.read(_PIECE_BYTES)
            if not number and not rest and block.startswith(codecs.BOM_UTF8):
                block = block[len(codecs.BOM_UTF8) :]
            data = rest + block
            if block:
                cut = data.rfind(b"\n") + 1
                if not cut:
                    if len(data) > _MAX_LINE_BYTES:
                        raise _Unreadable(f"line {number + 1} is longer than 16 MiB")
                    rest = data
                    continue
                data, rest = data[:cut], data[cut:]
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise _Unreadable(f"not UTF-8 text (after line {number})") from None
            found = text.split("\n")
            if block or text.endswith("\n"):
                found.pop()  # what follows the last line break
            for line in found:
                number += 1
                line = line.strip()
                if line:
                    yield number, line
            if not block:
                return


def _object(text: str) -> dict[str, Any] | None:
    """``text`` as a JSON object (None if it is anything else)."""
    if not text.startswith("{"):
        return None
    try:
        value, end = _SCAN(text, 0)
    except (StopIteration, json.JSONDecodeError, RecursionError):
        return None
    return value if end == len(text) and isinstance(value, dict) else None


# --- Parquet -----------------------------------------------------------------------------


def _parquet_parts(path: Path, batch_rows: int, skip: int) -> tuple[Iterator[_Part], int]:
    """The batches after the row groups wholly inside the first ``skip`` records, and how many
    records those groups held."""
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise _Unreadable(f"not a readable Parquet file: {exc}") from None
    groups = list(range(parquet.metadata.num_row_groups))
    skipped = 0
    while groups and skipped + parquet.metadata.row_group(groups[0]).num_rows <= skip:
        skipped += parquet.metadata.row_group(groups.pop(0)).num_rows

    def parts() -> Iterator[_Part]:
        try:
            for batch in parquet.iter_batches(batch_size=batch_rows, row_groups=groups):
                yield _as_text(pa.Table.from_batches([batch])), None
        except (pa.ArrowInvalid, OSError) as exc:
            raise _Unreadable(f"not a readable Parquet file: {exc}") from None
        finally:
            parquet.close()

    return parts(), skipped


# --- one file ----------------------------------------------------------------------------


def _reader(path: Path, batch_rows: int, skip: int) -> Iterator[_Part]:
    """The file's records after the first ``skip``, in batches of ``batch_rows``."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return _skip(_rebatch(_CsvFile(path).parts(), batch_rows), skip)
    if suffix in JSONL_SUFFIXES:
        return _skip(_jsonl_parts(path, batch_rows), skip)
    if suffix in PARQUET_SUFFIXES:
        parts, skipped = _parquet_parts(path, batch_rows, skip)
        return _skip(parts, skip - skipped)
    raise _Unreadable(f"unsupported file type {suffix or '(none)'}: use CSV, JSON Lines or Parquet")


def _concat(parts: list[_Part]) -> _Part:
    table = pa.concat_tables([t for t, _ in parts], promote_options="default")
    known = [lines for _, lines in parts]
    lines = None if any(x is None for x in known) else [n for x in known for n in x or []]
    return table, lines


def _rebatch(parts: Iterator[_Part], batch_rows: int) -> Iterator[_Part]:
    pending: list[_Part] = []
    size = 0
    for part in parts:
        if not part[0].num_rows:
            continue
        pending.append(part)
        size += part[0].num_rows
        while size >= batch_rows:
            table, lines = _concat(pending)
            yield table.slice(0, batch_rows), None if lines is None else lines[:batch_rows]
            rest = (table.slice(batch_rows), None if lines is None else lines[batch_rows:])
            pending, size = ([rest], rest[0].num_rows) if rest[0].num_rows else ([], 0)
    if pending:
        yield _concat(pending)


def _skip(parts: Iterator[_Part], skip: int) -> Iterator[_Part]:
    """The records after the first ``skip``."""
    for table, lines in parts:
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
        number = 1
        while target.exists():
            number += 1
            target = folder / f"{path.stem}.{digest[:8]}-{number}{path.suffix}"
    os.replace(path, target)
    return target


#: What reading a file may raise because of the file (it then moves to ``failed/``).
_READ_ERRORS = (_Unreadable, OSError, csv.Error, pa.ArrowException)


def _reason(exc: BaseException) -> str:
    """The one line saying why a file could not be read."""
    if isinstance(exc, _Unreadable):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        return f"cannot read: {exc.strerror}"
    return f"cannot read: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"


class FileInboxSource(SalesSource):
    """Sales files dropped into ``inbox`` (see the module docstring)."""

    name: ClassVar[SourceName] = "files"

    def __init__(self, inbox: Path, *, batch_rows: int = 50_000) -> None:
        """Create ``inbox`` and its ``processed/`` and ``failed/`` folders if missing."""
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        self.inbox = inbox
        self.batch_rows = batch_rows
        self.processed = inbox / "processed"
        self.failed = inbox / "failed"
        for directory in (self.inbox, self.processed, self.failed):
            directory.mkdir(parents=True, exist_ok=True)
        #: Files that could not be read in this source's passes.
        self.failures: list[FileFailure] = []
        # Files being read, by ledger key: the file, its digest, copies met meanwhile.
        self._reading: dict[str, tuple[Path, str, list[Path]]] = {}
        self._loaded: set[str] = set()
        self._unreadable: dict[str, str] = {}

    def pending(self) -> list[Path]:
        """The files waiting in the inbox, in the order they are read."""
        if not self.inbox.is_dir():
            return []
        files = []
        for path in self.inbox.iterdir():
            if path.name.startswith(".") or path.name.endswith(".reason.txt"):
                continue
            try:
                if path.is_file():
                    files.append((path.stat().st_mtime, path.name, path))
            except OSError:  # gone meanwhile
                continue
        return [path for _, _, path in sorted(files)]

    def _fail(self, path: Path, digest: str, reason: str) -> None:
        self.failures.append(FileFailure(path.name, reason))
        if path.exists():
            target = _move(path, self.failed, digest)
            target.with_name(target.name + ".reason.txt").write_text(reason + "\n", "utf-8")

    async def batches(self, state: Mapping[str, Mapping[str, Any]]) -> AsyncIterator[SourceBatch]:
        """Each pending file's records not stored yet, a batch at a time."""
        for path in await asyncio.to_thread(self.pending):
            try:
                digest = await asyncio.to_thread(_sha256, path)
            except FileNotFoundError:
                continue
            except OSError as exc:
                await asyncio.to_thread(self._fail, path, "", _reason(exc))
                continue
            key = f"file:{digest}"
            saved = state.get(key) or {}
            if saved.get("done") or key in self._loaded:
                await asyncio.to_thread(_move, path, self.processed, digest)
                continue
            if key in self._reading:  # a copy of a file whose last batch is not stored yet
                self._reading[key][2].append(path)
                continue
            if key in self._unreadable:
                await asyncio.to_thread(self._fail, path, digest, self._unreadable[key])
                continue
            self._reading[key] = (path, digest, [])
            async for batch in self._file(path, key, digest, int(saved.get("rows", 0))):
                yield batch

    async def _file(
        self, path: Path, key: str, digest: str, skip: int
    ) -> AsyncIterator[SourceBatch]:
        error: str | None = None
        current: _Part | None = None
        try:
            reader = await asyncio.to_thread(_reader, path, self.batch_rows, skip)
            current = await asyncio.to_thread(next, reader, None)
        except _READ_ERRORS as exc:
            error = _reason(exc)
        rows = skip
        while error is None:
            following: _Part | None = None
            try:
                if current is not None:
                    following = await asyncio.to_thread(next, reader, None)
            except _READ_ERRORS as exc:
                error = _reason(exc)
            table, lines = current if current is not None else (_empty(), None)
            first = rows + 1
            rows += table.num_rows
            done = following is None and error is None
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
        _, _, copies = self._reading.pop(key, (path, digest, []))
        self._unreadable[key] = error
        for failed in [path, *copies]:
            await asyncio.to_thread(self._fail, failed, digest, error)

    async def committed(self, batch: SourceBatch) -> None:
        """Move a file to ``processed/`` once its last batch is stored."""
        if not batch.checkpoint.get("done"):
            return
        found = self._reading.pop(batch.checkpoint_key, None)
        self._loaded.add(batch.checkpoint_key)
        if found is None:
            return
        path, digest, copies = found
        for loaded in [path, *copies]:
            if loaded.exists():
                await asyncio.to_thread(_move, loaded, self.processed, digest)
