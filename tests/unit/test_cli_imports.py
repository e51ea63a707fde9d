"""Every command module can be imported first (no circular import through the command list)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import leadpersona.entrypoints.cli as cli_package

MODULES = sorted(
    path.stem for path in Path(cli_package.__file__).parent.glob("*.py") if path.stem != "__init__"
)


@pytest.mark.parametrize("module", MODULES)
def test_module_imports_on_its_own(module: str) -> None:
    name = f"leadpersona.entrypoints.cli.{module}"
    result = subprocess.run(
        [sys.executable, "-c", f"import {name}"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
