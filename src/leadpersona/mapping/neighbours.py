"""Nearest labelled examples in embedding space, with a calibrated abstention.

The examples are the curated rows (degree names stripped, see ``classifier.core_of``), the
label names themselves, the label names written in 18 other languages
(``data/field_label_names.csv``) and a few fields outside the labels. A label's score is the
mean similarity of its ``k`` most similar examples (k-NN voting: one stray example near the
string is not enough). A string gets the best-scoring label when that score is at least
``min_similarity`` and beats the next label by at least ``min_margin``; otherwise the index
abstains. ``k`` and both gates were chosen on the tuning half of the multilingual evaluation set
only (``docs/decisions/field-inference-model.md``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

import numpy as np
import numpy.typing as npt

from leadpersona.mapping.embedding import Encoder

__all__ = [
    "LABEL_NAMES_FILE",
    "MIN_MARGIN",
    "MIN_SIMILARITY",
    "OUTSIDE",
    "OUTSIDE_EXAMPLES",
    "TOP_K",
    "Neighbour",
    "NeighbourAnswer",
    "NeighbourIndex",
    "label_names",
]

MIN_SIMILARITY = 0.86
MIN_MARGIN = 0.01
#: A label's score is the mean similarity of its TOP_K nearest examples.
TOP_K = 2
#: Every label name (and "secondary school", outside the labels) in 18 other languages.
LABEL_NAMES_FILE = "field_label_names.csv"
#: The label of examples that mean "no academic field of the CSV": nearest to one of these,
#: the index abstains.
OUTSIDE = ""
#: Fields of study outside the curated labels (broad fields of ISCED-F 2013) and strings that
#: name no field at all. An example equal to a curated label is dropped.
OUTSIDE_EXAMPLES: tuple[str, ...] = (
    "medicine",
    "nursing",
    "pharmacy",
    "dentistry",
    "veterinary medicine",
    "biology",
    "physics",
    "geology",
    "environmental science",
    "agriculture",
    "forestry",
    "mechanical engineering",
    "aerospace engineering",
    "chemical engineering",
    "teacher education",
    "sports science",
    "tourism and hospitality",
    "fine arts",
    "theology",
    "secondary school",
    "high school",
    "exchange programme",
)
_SHOWN = 3


@cache
def label_names() -> tuple[tuple[str, str], ...]:
    """(text, label) pairs of the packaged multilingual label names; label ``OUTSIDE`` = none."""
    data = files("leadpersona.data").joinpath(LABEL_NAMES_FILE).read_text(encoding="utf-8")
    return tuple((row["text"], row["label"]) for row in csv.DictReader(io.StringIO(data)))


@dataclass(frozen=True, slots=True)
class Neighbour:
    """One labelled example and its cosine similarity to the string asked about."""

    example: str
    label: str
    similarity: float


@dataclass(frozen=True, slots=True)
class NeighbourAnswer:
    """The best label (None: abstain), its score (``similarity``: mean similarity of its
    ``top_k`` nearest examples), its margin over the next label and the closest examples."""

    label: str | None
    similarity: float
    margin: float
    neighbours: tuple[Neighbour, ...]


class NeighbourIndex:
    """Labelled example vectors; answers many strings with one matrix product."""

    def __init__(
        self,
        encoder: Encoder,
        examples: Sequence[tuple[str, str]],
        *,
        min_similarity: float = MIN_SIMILARITY,
        min_margin: float = MIN_MARGIN,
        top_k: int = TOP_K,
    ) -> None:
        unique = dict.fromkeys(examples)
        self._texts = [text for text, _ in unique]
        self._labels = [label for _, label in unique]
        self._label_ids = sorted(set(self._labels))
        column_label = np.array([self._label_ids.index(lb) for lb in self._labels])
        members = [np.flatnonzero(column_label == i) for i in range(len(self._label_ids))]
        # Each label's example columns, padded with a column that is always -inf, so that one
        # gather gives every label's similarities at once.
        width = max((len(m) for m in members), default=0)
        self._gather = np.full((len(members), width), len(self._texts), dtype=np.intp)
        for i, m in enumerate(members):
            self._gather[i, : len(m)] = m
        self._counts = np.array([len(m) for m in members], dtype=np.float64)
        self._encoder = encoder
        self._matrix = encoder.encode(self._texts) if self._texts else None
        self.min_similarity = min_similarity
        self.min_margin = min_margin
        self.top_k = top_k

    @property
    def texts(self) -> list[str]:
        """The example texts, in index order."""
        return list(self._texts)

    @classmethod
    def from_mapping(
        cls,
        encoder: Encoder,
        cores: Mapping[str, str],
        *,
        names: Sequence[tuple[str, str]] | None = None,
        min_similarity: float = MIN_SIMILARITY,
        min_margin: float = MIN_MARGIN,
        top_k: int = TOP_K,
    ) -> NeighbourIndex:
        """Examples from ``cores`` (example text → label), every label name itself, and
        ``names`` (default: the packaged multilingual label names) for the labels in ``cores``.
        """
        labels = sorted(set(cores.values()))
        pairs = [(text, label) for text, label in cores.items() if text]
        pairs += [(label, label) for label in labels]
        pairs += [(text, OUTSIDE) for text in OUTSIDE_EXAMPLES if text not in labels]
        known = {*labels, OUTSIDE}
        pairs += [pair for pair in (label_names() if names is None else names) if pair[1] in known]
        return cls(
            encoder, pairs, min_similarity=min_similarity, min_margin=min_margin, top_k=top_k
        )

    def nearest_many(self, texts: Sequence[str]) -> list[NeighbourAnswer]:
        """One answer per text, in order."""
        if not texts or self._matrix is None:
            return [NeighbourAnswer(None, 0.0, 0.0, ()) for _ in texts]
        scores = self._encoder.encode(texts) @ self._matrix.T
        answers = []
        n_labels = len(self._label_ids)
        for row, per_label in zip(scores, self._label_scores(scores), strict=True):
            order = np.argsort(-per_label)
            best = float(per_label[order[0]])
            second = float(per_label[order[1]]) if n_labels > 1 else -1.0
            margin = best - second
            top = np.argsort(-row)[:_SHOWN]
            neighbours = tuple(
                Neighbour(self._texts[i], self._labels[i], round(float(row[i]), 4)) for i in top
            )
            passes = best >= self.min_similarity and margin >= self.min_margin
            nearest = self._label_ids[int(order[0])]
            label = nearest if passes and nearest != OUTSIDE else None
            answers.append(NeighbourAnswer(label, round(best, 4), round(margin, 4), neighbours))
        return answers

    def _label_scores(self, scores: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Each label's score per row: the mean of its ``top_k`` highest similarities (all of
        them if it has fewer examples)."""
        padded = np.concatenate([scores, np.full((len(scores), 1), -np.inf, np.float32)], axis=1)
        gathered = padded[:, self._gather]  # rows x labels x examples
        k = min(self.top_k, gathered.shape[2])
        top = -np.sort(-gathered, axis=2)[:, :, :k].astype(np.float64)
        top[np.isinf(top)] = 0.0
        means: npt.NDArray[np.float64] = top.sum(axis=2) / np.minimum(self._counts, k)
        return means
