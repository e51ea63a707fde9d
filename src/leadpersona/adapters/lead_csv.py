"""Reading a lead file: content hash, encoding check, delimiter sniffing, streamed records.

A file is read three times, each a stream with constant memory:

1. bytes: SHA-256 of the content and a strict UTF-8 check (a BOM is allowed);
2. text: the header, the delimiter and the number of records, so that a file the CSV parser
   cannot read is refused before anything is written;
3. text again, by the importer, in batches (:func:`iter_records`).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from leadpersona.domain.lead_rows import KNOWN_COLUMNS, normalise_column_name
from leadpersona.errors import LeadFileError

__all__ = ["DELIMITERS", "LeadFile", "iter_records", "scan_lead_file", "sniff_delimiter"]

#: Delimiters tried when sniffing, in order of preference on a tie.
DELIMITERS = (",", ";", "\t", "|")
_CHUNK = 1 << 16  # bytes per read when hashing; its decoded text is dropped at once
_SNIFF_CHARS = 1 << 16
_ENCODING = "utf-8-sig"  # UTF-8, with or without a byte-order mark


@dataclass(frozen=True)
class LeadFile:
    """What a first pass over a lead file found."""

    path: Path
    sha256: str
    size: int
    delimiter: str
    header: list[str]
    records: int  # data records, the header excluded


def _display(path: Path) -> str:
    return str(path)


def _hash_and_check_utf8(path: Path) -> tuple[str, int]:
    """SHA-256 hex of the content and its size; raise LeadFileError if not UTF-8."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder(_ENCODING)("strict")
    offset = lines = 0
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError as exc:
                    # The decoder may hold back up to 3 bytes of an unfinished character from
                    # the previous chunk; ``exc.object`` is what it was decoding.
                    held = len(exc.object) - len(chunk)
                    position = offset - held + exc.start
                    line = lines + exc.object[: exc.start].count(b"\n") + 1
                    bad = exc.object[exc.start : exc.start + 1].hex()
                    raise LeadFileError(
                        f"{_display(path)} is not UTF-8 text (byte 0x{bad} at offset {position},"
                        f" line {line}); save it as UTF-8 (CSV UTF-8) and import it again"
                    ) from None
                offset += len(chunk)
                lines += chunk.count(b"\n")
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                raise LeadFileError(
                    f"{_display(path)} is not UTF-8 text (it ends inside a character)"
                ) from None
    except OSError as exc:
        raise LeadFileError(f"cannot read {_display(path)}: {exc.strerror or exc}") from None
    return digest.hexdigest(), offset


def sniff_delimiter(sample: str) -> str:
    """The delimiter whose first record names the most known columns (then the most fields)."""
    best, best_score = DELIMITERS[0], (-1, -1)
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
        try:
            first = next(reader, [])
        except csv.Error:
            continue
        known = sum(1 for cell in first if normalise_column_name(cell) in KNOWN_COLUMNS)
        score = (known, len(first))
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _open_text(path: Path) -> io.TextIOWrapper:
    # newline="" lets the csv module handle line breaks inside quoted cells.
    return path.open("r", encoding=_ENCODING, newline="")


def scan_lead_file(path: Path) -> LeadFile:
    """Hash, check and measure a lead file; raise LeadFileError if it cannot be imported."""
    if not path.is_file():
        reason = "it is a directory" if path.is_dir() else "no such file"
        raise LeadFileError(f"cannot read {_display(path)}: {reason}")
    sha256, size = _hash_and_check_utf8(path)
    try:
        with _open_text(path) as stream:
            delimiter = sniff_delimiter(stream.read(_SNIFF_CHARS))
            stream.seek(0)
            reader = csv.reader(stream, delimiter=delimiter)
            header = next(reader, None)
            if header is None or not any(cell.strip() for cell in header):
                raise LeadFileError(f"{_display(path)} is empty: no header row")
            records = 0
            for _ in reader:
                records += 1
    except csv.Error as exc:
        raise LeadFileError(
            f"{_display(path)} is not readable CSV near line {reader.line_num}: {exc}"
        ) from None
    except OSError as exc:
        raise LeadFileError(f"cannot read {_display(path)}: {exc.strerror or exc}") from None
    return LeadFile(path, sha256, size, delimiter, header, records)


def iter_records(lead_file: LeadFile, *, skip: int = 0) -> Iterator[tuple[int, int, list[str]]]:
    """Yield ``(row, line, cells)`` for every data record after the first ``skip``.

    ``row`` counts data records from 1 (the header is not one); ``line`` is the line of the
    file where the record starts (the header is line 1).
    """
    try:
        with _open_text(lead_file.path) as stream:
            reader = csv.reader(stream, delimiter=lead_file.delimiter)
            next(reader, None)
            start_line = reader.line_num + 1
            for row, cells in enumerate(reader, start=1):
                if row > skip:
                    yield row, start_line, cells
                start_line = reader.line_num + 1
    except (csv.Error, OSError, UnicodeDecodeError) as exc:
        # The file changed since it was scanned.
        raise LeadFileError(f"{_display(lead_file.path)} could not be read again: {exc}") from None
