"""From parsed CSV records to the cleaned map and its report. Pure (no I/O)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from leadpersona.domain.normalise import is_nan_like, normalise_key, normalise_label
from leadpersona.mapping.csvfile import CsvFile
from leadpersona.mapping.models import CleaningReport, Conflict, RemovedRow

__all__ = ["Cleaned", "Entry", "clean"]


@dataclass(frozen=True, slots=True)
class Entry:
    """One distinct field of study after cleaning."""

    key: str
    field_of_study: str
    label: str | None
    line: int
    indices: tuple[int, ...]  # record indices holding this key (for updates)
    accepted: float | None = None  # confidence, when the label is an accepted suggestion


@dataclass(slots=True)
class _Found:
    text: str
    label: str | None
    line: int
    indices: list[int]


@dataclass(frozen=True, slots=True)
class Cleaned:
    entries: dict[str, Entry]
    malformed_keys: frozenset[str]
    report: CleaningReport


def _shifted(raw: str, label_text: str) -> bool:
    """A row whose unquoted comma pushed the end of field_of_study into academic_field.

    LinkedIn strings join degree and field with ", ": an unquoted record whose label cell starts
    with a space is that join split in two (``bachelor,bachelor,B.S., Business Administration``).
    """
    return '"' not in raw and label_text[:1].isspace() and bool(label_text.strip())


def clean(
    parsed: CsvFile,
    *,
    version: str,
    accepted: dict[str, tuple[str, float]] | None = None,
) -> Cleaned:
    """Clean ``parsed``: normalise keys and labels, drop blank and malformed rows, merge duplicates.

    ``accepted`` maps keys to (label, confidence) of suggestions that were applied; an entry
    whose CSV label still equals it is marked as accepted rather than curated.
    """
    accepted = accepted or {}
    width = len(parsed.header)
    i_field = parsed.column("field_of_study")
    i_label = parsed.column("academic_field")
    missing: Counter[str] = Counter(dict.fromkeys(parsed.header, 0))
    removed: list[RemovedRow] = []
    conflicts: list[Conflict] = []
    malformed_keys: set[str] = set()
    raw_fields: set[str] = set()
    raw_labels: set[str] = set()
    labelled_before = 0
    blank_lines = 0
    rows_read = 0
    found: dict[str, _Found] = {}

    for index, record in enumerate(parsed.records):
        cells = record.cells
        if len(cells) <= 1 and not "".join(cells).strip():
            blank_lines += 1
            continue
        rows_read += 1
        for name, cell in zip(parsed.header, cells, strict=False):
            if is_nan_like(cell):
                missing[name] += 1
        for name in parsed.header[len(cells) :]:
            missing[name] += 1
        text = cells[i_field] if i_field < len(cells) else ""
        label_text = cells[i_label] if i_label < len(cells) else ""
        if not is_nan_like(text):
            raw_fields.add(text)
        if not is_nan_like(label_text):
            raw_labels.add(label_text)
            labelled_before += 1
        if len(cells) == width and _shifted(record.raw, label_text):
            joined = f"{text},{label_text}"
            removed.append(
                RemovedRow(
                    line=record.line,
                    reason="malformed",
                    field_of_study=joined.strip(),
                    detail=f"unquoted comma: field_of_study {text!r} and academic_field "
                    f"{label_text!r} are probably one value; not trusted",
                )
            )
            malformed_keys.add(normalise_key(joined))
            continue
        if len(cells) != width:
            what = "more" if len(cells) > width else "fewer"
            extra = max(len(cells) - width, 0)
            joined = ",".join(cells[i_field : i_field + extra + 1]) if extra else text
            removed.append(
                RemovedRow(
                    line=record.line,
                    reason="malformed",
                    field_of_study=joined.strip(),
                    detail=f"{len(cells)} cells, {what} than the {width} columns "
                    "(an unquoted comma?); not trusted",
                )
            )
            malformed_keys.add(normalise_key(joined))
            continue
        if is_nan_like(text):
            removed.append(
                RemovedRow(
                    line=record.line,
                    reason="blank_key",
                    field_of_study=text,
                    detail="field_of_study is empty or nan-like",
                )
            )
            continue
        key = normalise_key(text)
        label = normalise_label(label_text)
        current = found.get(key)
        if current is None:
            found[key] = _Found(text.strip(), label, record.line, [index])
            continue
        current.indices.append(index)
        kept_line = current.line
        old = current.label
        if label is None:
            detail = f"duplicate of line {kept_line}; empty label ignored"
        elif old is None:
            current.label = label
            detail = f"duplicate of line {kept_line}; its label {label!r} fills the empty one"
        elif old == label:
            detail = f"duplicate of line {kept_line}; same label"
        else:
            detail = f"duplicate of line {kept_line}; conflicting label {label!r}, kept {old!r}"
            conflicts.append(
                Conflict(key=key, kept=old, other=label, lines=[kept_line, record.line])
            )
        removed.append(
            RemovedRow(line=record.line, reason="duplicate", field_of_study=text, detail=detail)
        )

    entries: dict[str, Entry] = {}
    for key, info in found.items():
        label = info.label
        confidence = None
        if label is not None and key in accepted and accepted[key][0] == label:
            confidence = accepted[key][1]
        entries[key] = Entry(
            key=key,
            field_of_study=info.text,
            label=label,
            line=info.line,
            indices=tuple(info.indices),
            accepted=confidence,
        )

    labels = Counter(entry.label for entry in entries.values() if entry.label is not None)
    labelled_after = sum(labels.values())
    n_accepted = sum(1 for entry in entries.values() if entry.accepted is not None)
    report = CleaningReport(
        path=str(parsed.path) if parsed.path is not None else "",
        version=version,
        encoding=parsed.encoding,
        columns=list(parsed.header),
        rows_read=rows_read,
        blank_lines=blank_lines,
        missing_values=dict(missing),
        rows_removed={
            reason: sum(1 for row in removed if row.reason == reason)
            for reason in ("blank_key", "malformed", "duplicate")
        },
        removed=removed,
        conflicts=conflicts,
        fields_of_study_before=len(raw_fields),
        fields_of_study_after=len(entries),
        academic_fields_before=len(raw_labels),
        academic_fields_after=len(labels),
        labelled_before=labelled_before,
        labelled_after=labelled_after,
        mapping_ratio_before=round(labelled_before / len(raw_fields), 4) if raw_fields else 0.0,
        mapping_ratio_after=round(labelled_after / len(entries), 4) if entries else 0.0,
        curated_labels=labelled_after - n_accepted,
        accepted_suggestions=n_accepted,
        label_distribution=dict(sorted(labels.items(), key=lambda kv: (-kv[1], kv[0]))),
    )
    return Cleaned(entries=entries, malformed_keys=frozenset(malformed_keys), report=report)
