"""Reading lead files: hash, encodings, delimiters, quoted multi-line cells, clear errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from leadpersona.adapters import lead_csv
from leadpersona.adapters.lead_csv import iter_records, scan_lead_file, sniff_delimiter
from leadpersona.errors import InvalidInput, LeadFileError


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "delimiter"),
    [
        (b"first_name,email\nAda,ada@example.com\n", ","),
        (b"first_name;email\nAda;ada@example.com\n", ";"),
        (b"first_name\temail\nAda\tada@example.com\n", "\t"),
        (b"first_name|email\nAda|ada@example.com\n", "|"),
        (b"\xef\xbb\xbffirst_name;email\r\nAda;ada@example.com\r\n", ";"),
    ],
)
def test_delimiter_and_bom(tmp_path: Path, data: bytes, delimiter: str) -> None:
    lead_file = scan_lead_file(write(tmp_path / "f.csv", data))
    assert lead_file.delimiter == delimiter
    assert lead_file.header == ["first_name", "email"]  # no BOM left on the first name
    assert lead_file.records == 1
    assert lead_file.sha256 == hashlib.sha256(data).hexdigest()
    assert [cells for _, _, cells in iter_records(lead_file)] == [["Ada", "ada@example.com"]]


def test_sniffing_prefers_the_delimiter_that_finds_known_columns() -> None:
    # Commas inside a ';' header would fool a count of characters.
    assert sniff_delimiter('"name, full";email;status\n') == ";"
    assert sniff_delimiter("email\n") == ","


def test_quoted_multi_line_cells_and_line_numbers(tmp_path: Path) -> None:
    data = (
        b"first_name,email,notes\n"
        b'"Ada\nAugusta",ada@example.com,"a, b"\n'
        b'Bob,bob@example.com,"x\n\ny"\n'
        b"Cy,cy@example.com,\n"
    )
    lead_file = scan_lead_file(write(tmp_path / "f.csv", data))
    records = list(iter_records(lead_file))
    assert [(row, line) for row, line, _ in records] == [(1, 2), (2, 4), (3, 7)]
    assert records[0][2] == ["Ada\nAugusta", "ada@example.com", "a, b"]
    assert records[1][2][2] == "x\n\ny"
    assert [row for row, _, _ in iter_records(lead_file, skip=2)] == [3]


def test_not_utf8_is_one_clear_error_with_the_position(tmp_path: Path) -> None:
    data = "email,first_name\nzoe@example.com,Zoë\n".encode("latin-1")
    with pytest.raises(LeadFileError, match=r"not UTF-8 text \(byte 0xeb at offset 35, line 2\)"):
        scan_lead_file(write(tmp_path / "latin1.csv", data))


def test_not_utf8_across_a_chunk_boundary(tmp_path: Path) -> None:
    boundary = lead_csv._CHUNK
    head = (b"email\n" + b"aaaaaaaaa\n" * (boundary // 10 + 10))[: boundary - 1]
    # A valid two-byte character split by the read boundary is fine ...
    ok = head + "é".encode() + b"\n"
    assert scan_lead_file(write(tmp_path / "ok.csv", ok)).records == (boundary - 7) // 10 + 1
    # ... a broken one is reported at its absolute offset.
    bad = head + b"\xc3(" + b"\n"
    with pytest.raises(LeadFileError, match=f"offset {boundary - 1},"):
        scan_lead_file(write(tmp_path / "bad.csv", bad))


def test_unreadable_inputs_are_lead_file_errors(tmp_path: Path) -> None:
    with pytest.raises(LeadFileError, match="no such file"):
        scan_lead_file(tmp_path / "missing.csv")
    with pytest.raises(LeadFileError, match="is a directory"):
        scan_lead_file(tmp_path)
    with pytest.raises(LeadFileError, match="is empty: no header row"):
        scan_lead_file(write(tmp_path / "empty.csv", b""))
    with pytest.raises(LeadFileError, match="is empty: no header row"):
        scan_lead_file(write(tmp_path / "blank.csv", b"\n\n"))
    huge = b'email\n"' + b"x" * 200_000 + b'"\n'
    with pytest.raises(LeadFileError, match="not readable CSV near line"):
        scan_lead_file(write(tmp_path / "huge.csv", huge))
    assert issubclass(LeadFileError, InvalidInput)  # the CLI exits 2, a usage error
