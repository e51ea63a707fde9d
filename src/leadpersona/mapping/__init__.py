"""Field-of-study → academic-field mapping: the curated CSV, its cleaning report, and inference.

Other parts of the product use exactly this API::

    store = bootstrap.field_map_store(settings)  # the working copy of the CSV (one per process)
    field_map = store.load()                  # immutable snapshot, cached until the file changes
    field_map.lookup("BSc, Computer Science") # MappingResult(academic_field, source, confidence)
    store.append_unknown(["Génie civil"])     # grow the CSV, once per new field of study
"""

from __future__ import annotations

from leadpersona.mapping.classifier import DEFAULT_THRESHOLD
from leadpersona.mapping.models import (
    CleaningReport,
    Conflict,
    MappingResult,
    RemovedRow,
    Suggestion,
)
from leadpersona.mapping.store import FieldMap, FieldMapStore

__all__ = [
    "DEFAULT_THRESHOLD",
    "CleaningReport",
    "Conflict",
    "FieldMap",
    "FieldMapStore",
    "MappingResult",
    "RemovedRow",
    "Suggestion",
]
