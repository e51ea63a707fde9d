"""The mapping component's public data: results and the cleaning report."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = [
    "CleaningReport",
    "Conflict",
    "MappingResult",
    "RemovedRow",
    "Source",
    "Suggestion",
]

Source = Literal["mapping", "inferred"]


class MappingResult(BaseModel):
    """The academic field of one field of study, and where it came from.

    ``source`` is ``"mapping"`` for a curated CSV label (confidence 1.0), ``"inferred"`` for a
    label proposed by the classifier or an accepted suggestion (its confidence), and None when
    the product abstains (``academic_field`` None).
    """

    model_config = ConfigDict(frozen=True)

    field_of_study: str
    academic_field: str | None
    source: Source | None
    confidence: float | None


class Suggestion(BaseModel):
    """An inferred label for a field of study the CSV holds without one."""

    model_config = ConfigDict(frozen=True)

    field_of_study: str
    line: int
    academic_field: str
    confidence: float
    applied: bool = False


class RemovedRow(BaseModel):
    """A CSV row the cleaned map does not use, and why."""

    line: int
    reason: Literal["blank_key", "malformed", "duplicate"]
    field_of_study: str
    detail: str


class Conflict(BaseModel):
    """One key with two different curated labels: the first is kept."""

    key: str
    kept: str
    other: str
    lines: list[int]


class CleaningReport(BaseModel):
    """What reading and cleaning the mapping CSV found."""

    path: str
    version: str
    encoding: str
    columns: list[str]
    rows_read: int
    blank_lines: int
    missing_values: dict[str, int]
    rows_removed: dict[str, int]
    removed: list[RemovedRow]
    conflicts: list[Conflict]
    fields_of_study_before: int
    fields_of_study_after: int
    academic_fields_before: int
    academic_fields_after: int
    labelled_before: int
    labelled_after: int
    mapping_ratio_before: float
    mapping_ratio_after: float
    curated_labels: int
    accepted_suggestions: int
    label_distribution: dict[str, int]
