"""Concurrent appenders in separate processes share one CSV through the file lock."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

from leadpersona.adapters.field_map_csv import packaged_csv_bytes
from leadpersona.domain.normalise import normalise_key
from leadpersona.mapping import FieldMapStore


def _append(path: str, worker: int, out: multiprocessing.Queue[list[str]]) -> None:
    store = FieldMapStore(Path(path))
    appended: list[str] = []
    for i in range(25):
        # Every worker appends its own strings and strings shared with all others.
        appended += store.append_unknown([f"Own field {worker}-{i}", f"Shared field {i}"])
    out.put(appended)


def test_concurrent_appenders_lose_nothing_and_append_once(tmp_path: Path) -> None:
    path = tmp_path / "map.csv"
    original = packaged_csv_bytes()
    path.write_bytes(original)
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue[list[str]] = context.Queue()
    workers = [context.Process(target=_append, args=(str(path), w, queue)) for w in range(4)]
    for process in workers:
        process.start()
    results = [queue.get(timeout=120) for _ in workers]
    for process in workers:
        process.join(timeout=60)
        assert process.exitcode == 0
    appended = [text for result in results for text in result]
    expected = {f"Own field {w}-{i}" for w in range(4) for i in range(25)} | {
        f"Shared field {i}" for i in range(25)
    }
    assert sorted(appended) == sorted(expected)  # each string appended by exactly one worker
    data = path.read_bytes()
    assert data.startswith(original)
    store = FieldMapStore(path)
    field_map = store.load()
    assert all(field_map.is_known(text) for text in expected)
    assert store.report().rows_read == 375 + len(expected)
    added_lines = data[len(original) :].decode().splitlines()
    keys = [normalise_key(line.split(",")[2]) for line in added_lines]
    assert len(keys) == len(set(keys)) == len(expected)
    assert not list(tmp_path.glob(".map.csv.*.tmp"))
