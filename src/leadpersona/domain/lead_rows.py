"""Rules for one row of a lead file: header matching, validation, normalisation.

Pure: no I/O. ``email-validator`` (syntax only, no DNS) and pydantic's ``HttpUrl`` do the
checking; this module decides what is required and how a rejected row is described.

The rule for a row to become a lead: it has a syntactically valid email (the enrichment API is
keyed by email and duplicates are detected by it); names and photo are optional; ``status``, when
given, is an integer; ``photo_url``, when given, is an http(s) URL.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from email_validator import EmailNotValidError, validate_email
from pydantic import HttpUrl, TypeAdapter, ValidationError

__all__ = [
    "DUPLICATE_EXISTING",
    "DUPLICATE_IN_FILE",
    "EMAIL_INVALID",
    "EMAIL_MISSING",
    "EXTRA_CELLS",
    "KNOWN_COLUMNS",
    "PHOTO_URL_INVALID",
    "REQUIRED_COLUMNS",
    "STATUS_NOT_INTEGER",
    "ColumnLayout",
    "Reason",
    "RowVerdict",
    "checked_email",
    "derived_uuid4_hex",
    "duplicate_reason",
    "email_digest",
    "match_header",
    "normalise_column_name",
    "validate_row",
]

KNOWN_COLUMNS = ("first_name", "last_name", "email", "photo_url", "status")
REQUIRED_COLUMNS = ("email",)

# Reason codes, as stored in the quarantine and counted in ``by_reason``.
EMAIL_MISSING = "email_missing"
EMAIL_INVALID = "email_invalid"
STATUS_NOT_INTEGER = "status_not_integer"
PHOTO_URL_INVALID = "photo_url_invalid"
EXTRA_CELLS = "extra_cells"
DUPLICATE_IN_FILE = "duplicate_in_file"
DUPLICATE_EXISTING = "duplicate_existing"

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_INTEGER = re.compile(r"[+-]?[0-9]+")
_SEPARATORS = re.compile(r"[\s\-]+")
_HTTP_URL: TypeAdapter[HttpUrl] = TypeAdapter(HttpUrl)


@dataclass(frozen=True)
class Reason:
    """Why a row was rejected: a stable code, the column concerned, a human message."""

    code: str
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "field": self.field, "message": self.message}


def normalise_column_name(name: str) -> str:
    """Header cell → column key: trimmed, casefolded, spaces and hyphens as ``_``."""
    return _SEPARATORS.sub("_", name.strip().casefold())


@dataclass(frozen=True)
class ColumnLayout:
    """Where each known column sits in a file's header, and which columns are extra."""

    header: tuple[str, ...]
    positions: dict[str, int]
    extra: dict[str, int]

    @property
    def extra_columns(self) -> list[str]:
        return list(self.extra)


def match_header(header: Sequence[str]) -> ColumnLayout:
    """Match a header row to the known columns (case-insensitive, trimmed).

    Raises ``ValueError`` with a message fit for a user when a required column is missing or a
    column appears twice.
    """
    positions: dict[str, int] = {}
    extra: dict[str, int] = {}
    for index, cell in enumerate(header):
        key = normalise_column_name(cell)
        if not key:
            continue
        target = positions if key in KNOWN_COLUMNS else extra
        if key in target:
            raise ValueError(f"column {cell.strip()!r} appears more than once in the header")
        target[key] = index
    missing = [name for name in REQUIRED_COLUMNS if name not in positions]
    if missing:
        found = ", ".join(repr(c.strip()) for c in header) or "nothing"
        raise ValueError(f"no {' / '.join(missing)} column in the header (found {found})")
    return ColumnLayout(header=tuple(header), positions=positions, extra=extra)


def checked_email(value: str) -> str:
    """An imported email as it is stored: trimmed, syntax-checked, its domain lower-cased.

    Raises ``EmailNotValidError``. Duplicates are found by the email's identity key
    (:func:`leadpersona.domain.email.normalize_email`), not by this form.
    """
    return validate_email(value.strip(), check_deliverability=False).normalized


def email_digest(email: str) -> int:
    """A 64-bit digest of a normalised email (for remembering emails in little memory)."""
    return int.from_bytes(hashlib.blake2b(email.encode(), digest_size=8).digest(), "big")


def derived_uuid4_hex(*parts: object) -> str:
    """A uuid4-shaped hex id derived deterministically from ``parts``."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return uuid.UUID(bytes=digest[:16], version=4).hex


@dataclass
class RowVerdict:
    """One data row after validation: a lead to insert, or reasons to quarantine it."""

    row: int
    line: int
    cells: list[str]
    lead: dict[str, Any] | None = None
    extra: dict[str, str] = field(default_factory=dict)
    reasons: list[Reason] = field(default_factory=list)

    @property
    def email(self) -> str | None:
        return None if self.lead is None else self.lead["email"]

    @property
    def accepted(self) -> bool:
        return self.lead is not None and not self.reasons

    def raw(self, layout: ColumnLayout) -> dict[str, str]:
        """The row as read, keyed by the trimmed header names (else ``#<position>``)."""
        raw: dict[str, str] = {}
        for index, value in enumerate(self.cells):
            name = layout.header[index].strip() if index < len(layout.header) else ""
            if not name or name.startswith("$") or "." in name or name in raw:
                name = f"#{index + 1}"  # also keeps the key storable in MongoDB
            raw[name] = value
        return raw


def _cell(cells: Sequence[str], layout: ColumnLayout, name: str) -> str:
    index = layout.positions.get(name)
    if index is None or index >= len(cells):
        return ""
    return cells[index].strip()


def validate_row(cells: list[str], layout: ColumnLayout, *, row: int, line: int) -> RowVerdict:
    """Validate one data row; every problem found is listed, not only the first."""
    verdict = RowVerdict(row=row, line=line, cells=cells)
    reasons = verdict.reasons
    if len(cells) > len(layout.header):
        reasons.append(
            Reason(
                EXTRA_CELLS,
                None,
                f"row has {len(cells)} cells, the header {len(layout.header)}",
            )
        )

    raw_email = _cell(cells, layout, "email")
    email: str | None = None
    if not raw_email:
        reasons.append(Reason(EMAIL_MISSING, "email", "email is empty"))
    else:
        try:
            email = checked_email(raw_email)
        except EmailNotValidError as exc:
            reasons.append(Reason(EMAIL_INVALID, "email", str(exc)))

    raw_status = _cell(cells, layout, "status")
    status = 0
    if raw_status:
        if _INTEGER.fullmatch(raw_status) and _INT64_MIN <= int(raw_status) <= _INT64_MAX:
            status = int(raw_status)
        else:
            reasons.append(
                Reason(STATUS_NOT_INTEGER, "status", f"status {raw_status!r} is not an integer")
            )

    photo_url = _cell(cells, layout, "photo_url") or None
    if photo_url is not None:
        try:
            _HTTP_URL.validate_python(photo_url)
        except ValidationError as exc:
            message = exc.errors()[0]["msg"]
            reasons.append(
                Reason(PHOTO_URL_INVALID, "photo_url", f"photo_url {photo_url!r}: {message}")
            )

    if email is not None:
        verdict.lead = {
            "status": status,
            "first_name": _cell(cells, layout, "first_name") or None,
            "last_name": _cell(cells, layout, "last_name") or None,
            "email": email,
            "photo_url": photo_url,
        }
    for name, index in layout.extra.items():
        if index < len(cells) and cells[index].strip():
            verdict.extra[name] = cells[index].strip()
    return verdict


def duplicate_reason(code: str, email: str, detail: str) -> Reason:
    """A duplicate-email reason (``duplicate_in_file`` or ``duplicate_existing``)."""
    return Reason(code, "email", f"{email} {detail}")
