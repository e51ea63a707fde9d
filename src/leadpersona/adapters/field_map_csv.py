"""The field-of-study mapping CSV on disk."""

from __future__ import annotations

import shutil
from importlib.resources import as_file, files
from pathlib import Path

from leadpersona.errors import FieldMapError

__all__ = ["PACKAGED_CSV_NAME", "ensure_working_copy", "packaged_csv_bytes"]

PACKAGED_CSV_NAME = "field_of_study_exercise.csv"


def packaged_csv_bytes() -> bytes:
    """The mapping CSV shipped inside the package, byte for byte."""
    return files("leadpersona.data").joinpath(PACKAGED_CSV_NAME).read_bytes()


def ensure_working_copy(path: Path) -> Path:
    """Copy the packaged CSV to ``path`` unless a file is already there; return ``path``.

    The working copy is the one that grows; the packaged file is never written.
    """
    if path.exists():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with as_file(files("leadpersona.data").joinpath(PACKAGED_CSV_NAME)) as source:
            tmp = path.with_name(path.name + ".tmp")
            shutil.copyfile(source, tmp)
            tmp.replace(path)
    except OSError as exc:
        raise FieldMapError(f"cannot create the working copy: {exc.strerror}", path=path) from None
    return path
