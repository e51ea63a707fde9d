"""Parsing and writing the mapping CSV byte-faithfully.

Every record keeps its raw text, so that writing the file back changes only the records that
were edited or appended: the original column layout, quoting, line endings, BOM and all
original rows (including blank lines and malformed ones) survive a rewrite.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from leadpersona.errors import FieldMapError

__all__ = ["REQUIRED_COLUMNS", "CsvFile", "Record", "parse_csv"]

REQUIRED_COLUMNS = ("field_of_study", "academic_field")
_BOM = "\ufeff"


@dataclass(slots=True)
class Record:
    """One CSV record: its cells, where it starts, and its exact text."""

    line: int
    cells: list[str]
    raw: str


@dataclass(slots=True)
class CsvFile:
    """A parsed mapping CSV."""

    path: Path | None
    bom: bool
    newline: str
    header: list[str]
    header_raw: str
    records: list[Record] = field(default_factory=list)

    @property
    def encoding(self) -> str:
        return "utf-8-sig" if self.bom else "utf-8"

    def column(self, name: str) -> int:
        return self.header.index(name)

    def format_row(self, values: dict[str, str]) -> str:
        """A new record in this file's layout (columns not given are left empty)."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator=self.newline, quoting=csv.QUOTE_MINIMAL)
        writer.writerow([values.get(name, "") for name in self.header])
        return buffer.getvalue()

    def render(self, replaced: dict[int, str] | None = None, appended: Sequence[str] = ()) -> bytes:
        """The file's bytes with some records replaced (by index) and new ones appended."""
        replaced = replaced or {}
        parts = [_BOM if self.bom else "", self.header_raw]
        for index, record in enumerate(self.records):
            parts.append(replaced.get(index, record.raw))
        if appended and parts[-1] and not parts[-1].endswith(("\n", "\r")):
            parts.append(self.newline)
        parts.extend(appended)
        return "".join(parts).encode("utf-8")


class _Lines:
    """A line iterator that remembers the text handed to ``csv.reader`` since the last mark."""

    def __init__(self, text: str) -> None:
        self._lines = iter(text.splitlines(keepends=True))
        self.taken: list[str] = []
        self.count = 0

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.taken.append(line)
        self.count += 1
        return line

    def mark(self) -> str:
        raw = "".join(self.taken)
        self.taken = []
        return raw


def _decode(data: bytes, path: Path | None) -> tuple[str, bool]:
    bom = data.startswith(b"\xef\xbb\xbf")
    try:
        text = data.decode("utf-8-sig" if bom else "utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FieldMapError(
            f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "save the file as UTF-8 and retry",
            path=path,
            line=line,
        ) from None
    return text, bom


def parse_csv(data: bytes, path: Path | None = None) -> CsvFile:
    """Parse the mapping CSV; raise FieldMapError if it is not UTF-8 or lacks the columns."""
    text, bom = _decode(data, path)
    if "\x00" in text:
        raise FieldMapError("contains NUL bytes: not a text CSV", path=path)
    newline = "\r\n" if "\r\n" in text.split("\n", 1)[0] + "\n" else "\n"
    lines = _Lines(text)
    reader = csv.reader(lines, strict=False)
    try:
        header = next(reader, None)
        if header is None:
            raise FieldMapError("empty file: no header row", path=path)
        header_raw = lines.mark()
        header = [name.strip().lower() for name in header]
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if missing:
            raise FieldMapError(
                f"missing column(s) {', '.join(missing)}; header is {','.join(header)}",
                path=path,
                line=1,
            )
        result = CsvFile(path, bom, newline, header, header_raw)
        start = lines.count + 1
        for cells in reader:
            result.records.append(Record(start, cells, lines.mark()))
            start = lines.count + 1
    except csv.Error as exc:
        raise FieldMapError(f"cannot parse CSV: {exc}", path=path, line=lines.count) from None
    tail = lines.mark()
    if tail:  # trailing text the reader did not turn into a record (cannot normally happen)
        result.records.append(Record(start, [], tail))
    return result
