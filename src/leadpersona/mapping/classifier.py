"""Offline inference of an academic field for a field of study the CSV does not label. Pure.

Three kinds of evidence, all local:

1. keyword/alias rules per label (EN/FR/ES/DE/PT), matched on accent-folded text split into
   segments at commas and semicolons; the last segment naming a field decides, as LinkedIn
   strings read "degree, field";
2. rapidfuzz similarity between the string's *core* (degree names, grades and filler removed)
   and the cores of curated rows, which carries the curators' own conventions and typos;
3. nothing left after removing degree noise (``MBA``, ``Abitur``, ``-``) means abstain;
4. for what the rules cannot read with confidence (any other language or script), the nearest
   labelled examples in a multilingual embedding space (``neighbours.NeighbourIndex``), when an
   encoder is given. Rules stay first where they are sure: measured better on the tuning split.
   The model reads :func:`model_text`: the string in lower case, degree names of any language and
   script removed; a string that is nothing but degree names is not sent to it.

Every answer carries a confidence; below ``threshold`` the classifier abstains. A model answer
must first pass its own calibrated gates (score and margin over the next label; a label's score
is the mean cosine similarity of its 2 nearest examples); its confidence is that score shifted so
that the score gate sits at the default threshold.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz, process

from leadpersona.domain.normalise import fold_accents, normalise_key
from leadpersona.mapping.embedding import Encoder
from leadpersona.mapping.neighbours import MIN_SIMILARITY, Neighbour, NeighbourIndex
from leadpersona.mapping.rules import (
    DEGREE_NOISE,
    DEGREE_WORDS_ANY_SCRIPT,
    DEGREE_WORDS_CJK,
    GENERIC_ONLY,
    compile_rules,
)

__all__ = [
    "DEFAULT_THRESHOLD",
    "SURE",
    "FieldClassifier",
    "Inference",
    "core_of",
    "model_text",
    "segments_of",
]

#: Answers below this confidence are abstentions.
DEFAULT_THRESHOLD = 0.85
#: A rule answer at least this confident is taken without asking the model.
SURE = 0.9
_LATIN = re.compile(r"[a-z]")

_RULES = compile_rules()
_NOISE = re.compile(
    r"\b(?:" + "|".join(sorted(DEGREE_NOISE, key=len, reverse=True)) + r")\b",
)
_SPLIT = re.compile(r"[,;|:]| [-\u2013\u2014]+ | / ")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_SPACE = re.compile(r"\s+")
_ANY_SCRIPT_NOISE = re.compile(
    r"(?<!\w)(?:"
    + "|".join(sorted(DEGREE_WORDS_ANY_SCRIPT + DEGREE_NOISE, key=len, reverse=True))
    + r")(?!\w)"
)
_CJK_NOISE = re.compile("|".join(DEGREE_WORDS_CJK))
_MODEL_PUNCT = re.compile(r"[\s,;:|()\[\]/\-\u2013\u2014.]+")


@dataclass(frozen=True, slots=True)
class Inference:
    """A proposed label (None: abstain), its confidence and a short reason."""

    label: str | None
    confidence: float
    reason: str
    neighbours: tuple[Neighbour, ...] = ()


@lru_cache(maxsize=65536)
def segments_of(text: str) -> tuple[str, ...]:
    """Folded segments of ``text``: accents removed, punctuation turned into spaces."""
    folded = fold_accents(normalise_key(text))
    parts = []
    for part in _SPLIT.split(folded):
        cleaned = _SPACE.sub(" ", _NON_WORD.sub(" ", part)).strip()
        if cleaned:
            parts.append(cleaned)
    return tuple(parts)


def _strip_noise(segment: str) -> str:
    return _SPACE.sub(" ", _NOISE.sub(" ", segment)).strip()


@lru_cache(maxsize=65536)
def core_of(text: str) -> str:
    """What is left of ``text`` once degree names, grades and filler are removed."""
    return " ".join(part for part in (_strip_noise(s) for s in segments_of(text)) if part)


@lru_cache(maxsize=65536)
def model_text(text: str) -> str:
    """What the embedding model reads: ``text`` in lower case (accents, script and Greek final
    sigma kept), degree names of any language removed, punctuation turned into spaces; empty if
    nothing is left.
    """
    folded = unicodedata.normalize("NFKC", text).lower().replace("i\u0307", "i")
    stripped = _CJK_NOISE.sub(" ", _ANY_SCRIPT_NOISE.sub(" ", folded))
    return _MODEL_PUNCT.sub(" ", stripped).strip()


def _labels_in(segment: str, allowed: frozenset[str]) -> list[str]:
    """Labels named in ``segment``, in order of appearance; longer matches win overlaps."""
    spans: list[tuple[int, int, str]] = []
    for label, pattern in _RULES:
        if label not in allowed:
            continue
        spans.extend((m.start(), m.end(), label) for m in pattern.finditer(segment))
    spans.sort(key=lambda span: (-(span[1] - span[0]), span[0]))
    taken: list[tuple[int, int, str]] = []
    for start, end, label in spans:
        if all(end <= s or start >= e for s, e, _ in taken):
            taken.append((start, end, label))
    taken.sort()
    stripped = _strip_noise(segment)
    found: list[str] = []
    for start, end, label in taken:
        if label in GENERIC_ONLY and stripped != segment[start:end]:
            continue
        if label not in found:
            found.append(label)
    return found


def _model_confidence(similarity: float) -> float:
    """A model answer's similarity on the rules' confidence scale.

    Shifted so that the model's calibrated gate (``MIN_SIMILARITY``) sits at the default
    threshold: one ``--threshold`` then means the same for rule and model answers.
    """
    return round(min(0.99, similarity + DEFAULT_THRESHOLD - MIN_SIMILARITY), 4)


def _noise_only(text: str) -> bool:
    """True for Latin-script text that is nothing but degree names, grades or filler.

    Text without a single letter (a year, emoji, punctuation) is never sent to the model.
    """
    return not core_of(text) and bool(_LATIN.search(fold_accents(normalise_key(text))))


class FieldClassifier:
    """Proposes one of the curated labels for any string, or abstains."""

    def __init__(
        self,
        examples: Mapping[str, str],
        *,
        threshold: float = DEFAULT_THRESHOLD,
        use_rules: bool = True,
        use_fuzzy: bool = True,
        encoder: Encoder | None = None,
        model_examples: Mapping[str, str] | None = None,
        label_names: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        """``examples`` maps curated keys to labels; no other label is ever proposed.

        With an ``encoder``, strings the rules cannot label surely go to the nearest examples
        (``model_examples`` if given, else ``examples``) and the multilingual label names
        (``label_names`` if given, else the packaged ones).
        """
        self._label_names = label_names
        self.threshold = threshold
        self._encoder = encoder
        self._index: NeighbourIndex | None = None
        self._examples = dict(model_examples if model_examples is not None else examples)
        self.labels = frozenset(examples.values())
        self._use_rules = use_rules
        self._use_fuzzy = use_fuzzy
        by_core: dict[str, Counter[str]] = {}
        for key, label in examples.items():
            core = core_of(key)
            if core:
                by_core.setdefault(core, Counter())[label] += 1
        self._cores = list(by_core)
        self._core_labels = [by_core[core] for core in self._cores]

    def _fuzzy(self, core: str) -> tuple[str | None, float]:
        if not core or not self._cores:
            return None, 0.0
        hits = process.extract(
            core, self._cores, scorer=fuzz.token_sort_ratio, limit=5, score_cutoff=75
        )
        if not hits:
            return None, 0.0
        best = hits[0][1]
        votes: Counter[str] = Counter()
        for _choice, score, index in hits:
            if score >= best - 1e-9:
                votes.update(self._core_labels[index])
        (label, count), *rest = votes.most_common()
        if rest and rest[0][1] == count:
            return None, best  # a tie between labels: no fuzzy answer
        return label, best

    def _rules(self, text: str) -> tuple[list[str], bool]:
        """Labels of the last segment naming any, and whether earlier segments disagree."""
        per_segment = [_labels_in(segment, self.labels) for segment in segments_of(text)]
        named = [labels for labels in per_segment if labels]
        if not named:
            return [], False
        last = named[-1]
        others = {label for labels in named[:-1] for label in labels}
        return last, bool(others - set(last))

    @property
    def uses_model(self) -> bool:
        """True when an embedding model backs the rules."""
        return self._encoder is not None

    def _neighbours(self) -> NeighbourIndex | None:
        if self._encoder is None:
            return None
        if self._index is None:
            cores = {(core_of(key) or key): label for key, label in self._examples.items()}
            self._index = NeighbourIndex.from_mapping(self._encoder, cores, names=self._label_names)
        return self._index

    def example_texts(self) -> list[str]:
        """Every text the model compares strings with (empty without an encoder)."""
        index = self._neighbours()
        return [] if index is None else index.texts

    def classify(self, text: str) -> Inference:
        """The most likely curated label of ``text`` with a confidence, or an abstention."""
        return self.classify_many([text])[0]

    def classify_many(self, texts: Sequence[str]) -> list[Inference]:
        """:meth:`classify` for many strings: the model, if any, runs once over the batch."""
        decided = [self._decide(text) for text in texts]
        ask = [
            i
            for i, (text, rule) in enumerate(zip(texts, decided, strict=True))
            if not (rule.label is not None and rule.confidence >= SURE)
            and not _noise_only(text)
            and any(ch.isalpha() for ch in model_text(text))
        ]
        index = self._neighbours() if ask else None
        answers = (
            dict(zip(ask, index.nearest_many([model_text(texts[i]) for i in ask]), strict=True))
            if (index is not None)
            else {}
        )
        results = []
        for i, rule in enumerate(decided):
            answer = answers.get(i)
            confidence = _model_confidence(answer.similarity) if answer is not None else 0.0
            if answer is not None and answer.label is not None and confidence >= self.threshold:
                results.append(
                    Inference(
                        answer.label,
                        confidence,
                        f"nearest examples (score {answer.similarity:.3f},"
                        f" margin {answer.margin:.3f})",
                        answer.neighbours,
                    )
                )
                continue
            shown = answer.neighbours if answer is not None else ()
            if rule.label is not None and rule.confidence < self.threshold:
                rule = Inference(None, rule.confidence, f"below threshold: {rule.reason}")
            results.append(Inference(rule.label, rule.confidence, rule.reason, shown))
        return results

    def _decide(self, text: str) -> Inference:
        core = core_of(text)
        if not core:
            return Inference(None, 0.0, "nothing but degree names or noise")
        fuzzy_label, score = self._fuzzy(core) if self._use_fuzzy else (None, 0.0)
        rule_labels, disagree = self._rules(text) if self._use_rules else ([], False)
        if (
            fuzzy_label is not None
            and score >= 95
            and (not rule_labels or fuzzy_label in rule_labels)
        ):
            return Inference(fuzzy_label, 0.95, f"near-identical to a curated row ({score:.0f})")
        if len(rule_labels) == 1:
            label = rule_labels[0]
            if fuzzy_label == label and score >= 85:
                return Inference(label, 0.95, f"keyword and similar curated row ({score:.0f})")
            return Inference(label, 0.8 if disagree else 0.9, "keyword")
        if rule_labels:
            if fuzzy_label in rule_labels and score >= 80:
                return Inference(
                    fuzzy_label, 0.8, f"keywords, resolved by a curated row ({score:.0f})"
                )
            return Inference(rule_labels[0], 0.65, "several keywords; the first is taken")
        if fuzzy_label is not None and score >= 88:
            return Inference(
                fuzzy_label, round(score / 100 * 0.85, 3), f"similar curated row ({score:.0f})"
            )
        return Inference(None, 0.0, "no keyword, no similar curated row")
