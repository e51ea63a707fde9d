"""Nearest labelled examples in embedding space, with a calibrated abstention.

The examples are the curated rows (degree names stripped, see ``classifier.core_of``) and the
label names themselves. A string gets the label of its most similar example when that
similarity is at least ``min_similarity`` and beats the best example of any *other* label by at
least ``min_margin``; otherwise the index abstains. Both gates were calibrated on the tuning
half of the multilingual evaluation set (``docs/benchmarks/field_inference.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from leadpersona.mapping.embedding import Encoder

__all__ = [
    "MIN_MARGIN",
    "MIN_SIMILARITY",
    "OUTSIDE",
    "OUTSIDE_EXAMPLES",
    "Neighbour",
    "NeighbourAnswer",
    "NeighbourIndex",
]

MIN_SIMILARITY = 0.80
MIN_MARGIN = 0.005
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


@dataclass(frozen=True, slots=True)
class Neighbour:
    """One labelled example and its cosine similarity to the string asked about."""

    example: str
    label: str
    similarity: float


@dataclass(frozen=True, slots=True)
class NeighbourAnswer:
    """The nearest label (None: abstain), its similarity, its margin and the closest examples."""

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
    ) -> None:
        unique = dict.fromkeys(examples)
        self._texts = [text for text, _ in unique]
        self._labels = [label for _, label in unique]
        self._label_ids = sorted(set(self._labels))
        self._column_label = np.array([self._label_ids.index(lb) for lb in self._labels])
        self._encoder = encoder
        self._matrix = encoder.encode(self._texts) if self._texts else None
        self.min_similarity = min_similarity
        self.min_margin = min_margin

    @classmethod
    def from_mapping(
        cls, encoder: Encoder, cores: Mapping[str, str], **gates: float
    ) -> NeighbourIndex:
        """Examples from ``cores`` (example text → label) plus every label name itself."""
        labels = sorted(set(cores.values()))
        pairs = [(text, label) for text, label in cores.items() if text]
        pairs += [(label, label) for label in labels]
        pairs += [(text, OUTSIDE) for text in OUTSIDE_EXAMPLES if text not in labels]
        return cls(encoder, pairs, **gates)

    def nearest_many(self, texts: Sequence[str]) -> list[NeighbourAnswer]:
        """One answer per text, in order."""
        if not texts or self._matrix is None:
            return [NeighbourAnswer(None, 0.0, 0.0, ()) for _ in texts]
        scores = self._encoder.encode(texts) @ self._matrix.T
        answers = []
        n_labels = len(self._label_ids)
        for row in scores:
            per_label = np.full(n_labels, -1.0, dtype=np.float64)
            np.maximum.at(per_label, self._column_label, row)
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
