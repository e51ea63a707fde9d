"""The persona: a lead's features, where each came from, and how it is indexed.

Features are an open set of named scalars (``academic_field`` and ``company_type`` today). Every
feature is indexed through one multikey array of ``name=<canonical JSON value>`` strings, so a
feature added tomorrow is queryable through the same index without a migration.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from leadpersona.domain.normalise import normalise_label
from leadpersona.domain.profile import LinkedInResponse
from leadpersona.domain.segmentation import (
    COMPANY_TYPES,
    CompanyTypeRules,
    company_type,
    employee_count,
    person_field_of_study,
)
from leadpersona.errors import InvalidFeature

__all__ = [
    "CORE_FEATURES",
    "FEATURE_NAME",
    "FeatureProvenance",
    "FeatureValue",
    "FieldLookup",
    "Persona",
    "PersonaFields",
    "PersonaQuery",
    "PersonaStatus",
    "apply_overrides",
    "derive_features",
    "feature_key",
    "validate_feature",
    "validate_features",
]

FeatureValue = str | int | float | bool
PersonaStatus = Literal["enriched", "no_data"]
FeatureSource = Literal["mapping", "inferred", "rule", "manual"]

CORE_FEATURES: Final = ("academic_field", "company_type")
FEATURE_NAME: Final = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_MAX_TEXT: Final = 200


class FeatureProvenance(BaseModel):
    """Where a feature's value came from."""

    model_config = ConfigDict(frozen=True)

    source: FeatureSource
    confidence: float | None = None
    field_of_study: str | None = None
    employee_count: int | None = None


class PersonaFields(BaseModel):
    """What a persona holds besides its lead id (shared with the stored document)."""

    features: dict[str, FeatureValue] = Field(default_factory=dict)
    status: PersonaStatus = "enriched"
    provenance: dict[str, FeatureProvenance] = Field(default_factory=dict)
    overrides: dict[str, FeatureValue | None] = Field(
        default_factory=dict,
        description="Manual values (null: removed by hand) that a recomputation keeps.",
    )
    field_of_study: str | None = None
    computed_at: datetime | None = None
    updated_at: datetime | None = None
    archive_id: str | None = None
    mapping_version: str | None = None
    rules_version: str | None = None


class Persona(PersonaFields):
    """A lead's persona, as stored and as returned by the CLI and the HTTP API."""

    lead_id: str

    def public(self) -> dict[str, Any]:
        """The JSON document: core features always present (null when unknown)."""
        document = self.model_dump(mode="json")
        features = dict.fromkeys(CORE_FEATURES)
        features.update(document["features"])
        document["features"] = features
        return document


class MappingAnswer(Protocol):
    """What a field-of-study lookup answers (``leadpersona.mapping.MappingResult``)."""

    @property
    def academic_field(self) -> str | None: ...
    @property
    def source(self) -> str | None: ...
    @property
    def confidence(self) -> float | None: ...


class FieldLookup(Protocol):
    """Anything that maps a field of study to an academic field."""

    def lookup(self, text: str) -> MappingAnswer: ...


def feature_key(name: str, value: FeatureValue) -> str:
    """The index entry of one feature value: ``name=<canonical JSON>``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{name}={json.dumps(value, ensure_ascii=False, separators=(',', ':'))}"


def validate_feature(name: str, value: Any) -> FeatureValue:
    """Check one feature name and value; return the value as stored."""
    if not isinstance(name, str) or not FEATURE_NAME.match(name):
        raise InvalidFeature(
            f"invalid feature name {name!r}: use lowercase letters, digits and _ "
            "(starting with a letter, at most 64)"
        )
    if name == "company_type":
        if value not in COMPANY_TYPES:
            raise InvalidFeature(f"company_type must be one of {', '.join(COMPANY_TYPES)}")
        return str(value)
    if name == "academic_field":
        label = normalise_label(value) if isinstance(value, str) else None
        if label is None:
            raise InvalidFeature("academic_field must be a non-empty text")
        return label
    if isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidFeature(f"feature {name!r} must be a finite number")
        return value
    if isinstance(value, str):
        text = " ".join(value.split())
        if not text or len(text) > _MAX_TEXT:
            raise InvalidFeature(f"feature {name!r} must be a text of 1 to {_MAX_TEXT} characters")
        return text
    raise InvalidFeature(f"feature {name!r} must be a text, number or boolean")


class PersonaQuery(BaseModel):
    """Equality on any combination of features (validated values)."""

    features: dict[str, FeatureValue] = {}

    def keys(self) -> list[str]:
        """The feature index entries a matching persona carries."""
        return sorted(feature_key(name, value) for name, value in self.features.items())


def apply_overrides(persona: Persona, overrides: Mapping[str, FeatureValue | None]) -> Persona:
    """``persona`` with manual values laid over the computed ones (None: removed by hand)."""
    if not overrides:
        return persona
    features = dict(persona.features)
    provenance = dict(persona.provenance)
    for name, value in overrides.items():
        provenance.pop(name, None)
        if value is None:
            features.pop(name, None)
        else:
            features[name] = value
            provenance[name] = FeatureProvenance(source="manual")
    return persona.model_copy(
        update={"features": features, "provenance": provenance, "overrides": dict(overrides)}
    )


def validate_features(values: Mapping[str, Any]) -> dict[str, FeatureValue | None]:
    """Validate a partial update: ``None`` removes a feature."""
    return {
        name: None if value is None else validate_feature(name, value)
        for name, value in values.items()
    }


def derive_features(
    answer: LinkedInResponse | None,
    field_map: FieldLookup,
    rules: CompanyTypeRules,
) -> tuple[dict[str, FeatureValue], dict[str, FeatureProvenance], str | None]:
    """Features, their provenance and the chosen field of study for one API answer."""
    features: dict[str, FeatureValue] = {}
    provenance: dict[str, FeatureProvenance] = {}
    if answer is None or not answer.success:
        return features, provenance, None
    field_of_study = person_field_of_study(answer.person)
    if field_of_study is not None:
        result = field_map.lookup(field_of_study)
        if result.academic_field is not None and result.source in ("mapping", "inferred"):
            features["academic_field"] = result.academic_field
            provenance["academic_field"] = FeatureProvenance(
                source="inferred" if result.source == "inferred" else "mapping",
                confidence=result.confidence,
                field_of_study=field_of_study,
            )
    count = employee_count(answer.company)
    kind = company_type(count, rules)
    if kind is not None:
        features["company_type"] = kind
        provenance["company_type"] = FeatureProvenance(source="rule", employee_count=count)
    return features, provenance, field_of_study
