"""Header matching and row validation rules for lead files."""

from __future__ import annotations

import uuid

import pytest

from leadpersona.domain.lead_rows import (
    checked_email,
    derived_uuid4_hex,
    email_digest,
    match_header,
    normalise_column_name,
    validate_row,
)

HEADER = ["first_name", "last_name", "email", "photo_url", "status"]


def codes(cells: list[str], header: list[str] = HEADER) -> list[str]:
    verdict = validate_row(cells, match_header(header), row=1, line=2)
    return [reason.code for reason in verdict.reasons]


def test_header_is_matched_case_insensitively_trimmed_with_spaces_as_underscores() -> None:
    layout = match_header([" First Name", "LAST-NAME", " Email ", "Photo_URL", "Status", "Company"])
    assert layout.positions == {
        "first_name": 0,
        "last_name": 1,
        "email": 2,
        "photo_url": 3,
        "status": 4,
    }
    assert layout.extra_columns == ["company"]
    assert normalise_column_name("  Photo  URL ") == "photo_url"


def test_header_without_email_column_is_refused() -> None:
    with pytest.raises(ValueError, match="no email column in the header"):
        match_header(["first_name", "mail"])


def test_header_with_a_column_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="appears more than once"):
        match_header(["email", "EMAIL"])


def test_only_email_is_required() -> None:
    layout = match_header(["email"])
    verdict = validate_row(["  Ada@Example.COM "], layout, row=1, line=2)
    assert verdict.accepted
    assert verdict.lead == {
        "status": 0,
        "first_name": None,
        "last_name": None,
        "email": "Ada@example.com",  # trimmed, domain lowercased, local part kept
        "photo_url": None,
    }


def test_a_valid_full_row() -> None:
    verdict = validate_row(
        [" Ada ", "Lovelace", "ada@example.org", "https://img.example.org/a.jpg", " 3 "],
        match_header(HEADER),
        row=4,
        line=7,
    )
    assert verdict.accepted
    assert verdict.lead is not None
    assert verdict.lead["first_name"] == "Ada"
    assert verdict.lead["status"] == 3
    assert (verdict.row, verdict.line) == (4, 7)


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["a", "b", "", "", ""], ["email_missing"]),
        (["a", "b", "   ", "", ""], ["email_missing"]),
        (["a", "b", "not-an-email", "", ""], ["email_invalid"]),
        (["a", "b", "a@@example.com", "", ""], ["email_invalid"]),
        (["a", "b", "a@localhost", "", ""], ["email_invalid"]),
        (["a", "b", "a@example.com", "", "1.0"], ["status_not_integer"]),
        (["a", "b", "a@example.com", "", "two"], ["status_not_integer"]),
        (["a", "b", "a@example.com", "", "99999999999999999999"], ["status_not_integer"]),
        (["a", "b", "a@example.com", "ftp://x.example.com/a", ""], ["photo_url_invalid"]),
        (["a", "b", "a@example.com", "not a url", ""], ["photo_url_invalid"]),
        (["a", "b", "a@example.com", "", "", "surplus"], ["extra_cells"]),
        (
            ["a", "b", "nope", "javascript:alert(1)", "x", "surplus"],
            ["extra_cells", "email_invalid", "status_not_integer", "photo_url_invalid"],
        ),
    ],
)
def test_every_reason_is_reported(cells: list[str], expected: list[str]) -> None:
    assert codes(cells) == expected


def test_negative_and_signed_status_are_integers() -> None:
    assert codes(["a", "b", "a@example.com", "", "-2"]) == []
    assert codes(["a", "b", "a@example.com", "", "+7"]) == []


def test_short_rows_read_missing_cells_as_empty() -> None:
    verdict = validate_row(
        ["Ada", "Lovelace", "ada@example.com"], match_header(HEADER), row=1, line=2
    )
    assert verdict.accepted
    assert verdict.lead is not None
    assert verdict.lead["photo_url"] is None


def test_extra_columns_are_kept_and_raw_keys_are_storable() -> None:
    layout = match_header(["email", " Company ", "a.b", "$x", ""])
    verdict = validate_row(["x@example.com", " ACME ", "1", "2", "3", "4"], layout, row=1, line=2)
    assert verdict.extra == {"company": "ACME", "a.b": "1", "$x": "2"}
    assert verdict.raw(layout) == {
        "email": "x@example.com",
        "Company": " ACME ",
        "#3": "1",
        "#4": "2",
        "#5": "3",
        "#6": "4",
    }


def test_checked_email_and_digest() -> None:
    assert checked_email(" Bob.Smith@EXAMPLE.Org\t") == "Bob.Smith@example.org"
    assert email_digest("a@example.org") == email_digest("a@example.org")
    assert email_digest("a@example.org") != email_digest("b@example.org")
    assert email_digest("a@example.org") < 2**64


def test_derived_ids_are_deterministic_uuid4_hex() -> None:
    first = derived_uuid4_hex("x", 1)
    assert first == derived_uuid4_hex("x", 1)
    assert first != derived_uuid4_hex("x", 2)
    parsed = uuid.UUID(hex=first)
    assert parsed.version == 4
    assert parsed.hex == first
    assert len(first) == 32
