"""Run benchmarks and write ``docs/benchmarks.md``.

Each ``benchmarks/bench_<name>.py`` defines ``run() -> str`` returning one Markdown section
(a heading, what was measured, a table with a baseline measured in the same run). Its output is
kept in ``docs/benchmarks/<name>.md``; ``docs/benchmarks.md`` is assembled from all of them, so
``python -m benchmarks NAME`` re-runs one benchmark without losing the others' results.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ROOT / "docs" / "benchmarks"
OUTPUT = ROOT / "docs" / "benchmarks.md"


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(p.stem.removeprefix("bench_") for p in here.glob("bench_*.py"))


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, {platform.system()}"
    )


def main(names: list[str]) -> int:
    names = names or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"error: unknown benchmark(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    SECTIONS.mkdir(parents=True, exist_ok=True)
    for name in names:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        started = time.perf_counter()
        print(f"== {name}", flush=True)
        section = module.run()
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        elapsed = time.perf_counter() - started
        text = f"{section.rstrip()}\n\n_Measured {stamp} on {machine()}; took {elapsed:.0f} s._\n"
        (SECTIONS / f"{name}.md").write_text(text)
        print(text)
    parts = [
        "# Benchmarks\n",
        "Written by `make bench` (`python -m benchmarks [NAME ...]`). The machines are shared "
        "and noisy, so every figure is quoted next to a baseline measured in the same run.\n",
    ]
    parts += [p.read_text() for p in sorted(SECTIONS.glob("*.md"))]
    OUTPUT.write_text("\n".join(parts))
    print(f"written: {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
