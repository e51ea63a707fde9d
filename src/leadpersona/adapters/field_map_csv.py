"""The field-of-study mapping CSV on disk."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
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

    The working copy is the one that grows; the packaged file is never written. Each writer
    copies to a temporary file of its own and links it into place only if no file is there
    (atomic), so processes starting together never share a half-copied file and a copy that
    has already grown is never replaced.
    """
    if path.exists():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with as_file(files("leadpersona.data").joinpath(PACKAGED_CSV_NAME)) as source:
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            os.close(fd)
            try:
                shutil.copyfile(source, tmp)
                with contextlib.suppress(FileExistsError):  # another process was first
                    os.link(tmp, path)
            finally:
                Path(tmp).unlink(missing_ok=True)
    except OSError as exc:
        raise FieldMapError(f"cannot create the working copy: {exc.strerror}", path=path) from None
    return path
