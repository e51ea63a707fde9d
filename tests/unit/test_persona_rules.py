"""The pure persona rules: manual overrides laid over computed features, and the stats document."""

from __future__ import annotations

from leadpersona.domain.persona import FeatureProvenance, Persona, apply_overrides
from leadpersona.domain.persona_stats import PersonaGroup, summarise


def computed() -> Persona:
    return Persona(
        lead_id="l1",
        features={"academic_field": "law", "company_type": "Startup"},
        provenance={
            "academic_field": FeatureProvenance(source="mapping", confidence=1.0),
            "company_type": FeatureProvenance(source="rule"),
        },
    )


def test_no_override_leaves_the_persona_as_computed() -> None:
    persona = computed()
    assert apply_overrides(persona, {}) is persona


def test_overrides_set_remove_and_mark_their_features_manual() -> None:
    merged = apply_overrides(computed(), {"academic_field": "medicine", "company_type": None})
    assert merged.features == {"academic_field": "medicine"}
    assert merged.provenance == {"academic_field": FeatureProvenance(source="manual")}
    assert merged.overrides == {"academic_field": "medicine", "company_type": None}
    assert computed().features["company_type"] == "Startup"  # the input is not changed


def test_stats_of_nothing() -> None:
    stats = summarise([], {}, 0)
    assert stats["coverage"] is None
    assert stats["academic_field"]["unknown_rate"] is None
    assert stats["matrix"] == []


def test_stats_count_the_matrix_unknowns_and_inferred_share() -> None:
    groups = [
        PersonaGroup("law", "Startup", "enriched", "mapping", 5),
        PersonaGroup("law", "Startup", "enriched", "inferred", 1),
        PersonaGroup("law", None, "enriched", "inferred", 2),
        PersonaGroup(None, "SME", "enriched", None, 2),
        PersonaGroup(None, None, "no_data", None, 3),
    ]
    stats = summarise(groups, {"no_data": 3, "enriched": 10, "failed": 1}, 20)

    assert (stats["personas"], stats["enriched"], stats["no_data"]) == (13, 10, 3)
    assert stats["coverage"] == 0.65
    assert list(stats["enrichment_states"]) == ["enriched", "failed", "no_data"]
    assert stats["academic_field"] == {
        "known": 8,
        "unknown": 2,
        "unknown_rate": 0.2,
        "inferred": 3,
        "inferred_share": 0.375,
    }
    assert stats["company_type"] == {"known": 8, "unknown": 2, "unknown_rate": 0.2}
    assert stats["matrix"] == [
        {"academic_field": "law", "company_type": "Startup", "count": 6},
        {"academic_field": None, "company_type": "SME", "count": 2},  # ties: by name
        {"academic_field": "law", "company_type": None, "count": 2},
    ]
