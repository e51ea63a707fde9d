"""The embedded server: start, reuse, stop, failure, and Ctrl-C on the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pymongo import MongoClient

from leadpersona.adapters.mongo.embedded import EmbeddedMongo, _pid_alive
from leadpersona.errors import EmbeddedServerError

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("LEADPERSONA_TEST_MONGODB_URI")),
    reason="the embedded server is not used when a real mongod is configured",
)


def _count(uri: str) -> int:
    client: MongoClient[dict[str, object]] = MongoClient(uri, serverSelectionTimeoutMS=5000)
    try:
        return client.lp.items.count_documents({})
    finally:
        client.close()


def test_start_reuse_stop_and_data_persists(tmp_path: Path) -> None:
    storage = tmp_path / "mongo"
    first = EmbeddedMongo(storage)
    uri = first.join()
    assert first.started_here
    server_pid = first.pid
    assert server_pid is not None
    client: MongoClient[dict[str, object]] = MongoClient(uri)
    client.lp.items.insert_many([{"n": i} for i in range(5)])
    client.close()

    second = EmbeddedMongo(storage)
    assert second.join() == uri
    assert not second.started_here
    assert second.pid == server_pid

    first.leave()  # the second user still holds it
    assert _pid_alive(server_pid)
    assert _count(uri) == 5

    second.leave()  # last one out stops it
    assert not _pid_alive(server_pid)
    assert not (storage.parent / "mongo.run" / "server.json").exists()

    with EmbeddedMongo(storage) as again:  # data persists across restarts
        assert _count(again) == 5


def test_stale_state_from_a_killed_process_is_recovered(tmp_path: Path) -> None:
    storage = tmp_path / "mongo"
    run_dir = tmp_path / "mongo.run"
    (run_dir / "clients").mkdir(parents=True)
    # A lease and a server record left by a process that died long ago.
    (run_dir / "clients" / "999999999-dead").touch()
    (run_dir / "server.json").write_text(json.dumps({"pid": 999999999, "port": 1}))
    embedded = EmbeddedMongo(storage)
    with embedded as uri:
        assert embedded.started_here
        assert _count(uri) == 0
    assert not (run_dir / "clients" / "999999999-dead").exists()


def test_a_server_that_cannot_start_gives_one_clear_error(tmp_path: Path) -> None:
    broken_python = tmp_path / "python"
    broken_python.write_text("#!/bin/sh\necho 'secantus: storage is corrupt' >&2\nexit 3\n")
    broken_python.chmod(0o755)
    with pytest.raises(EmbeddedServerError, match=r"exited at start-up.*storage is corrupt"):
        EmbeddedMongo(tmp_path / "mongo", python=str(broken_python)).join()
    assert not (tmp_path / "mongo.run" / "server.json").exists()


def test_missing_interpreter_gives_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddedServerError, match="cannot run the embedded MongoDB server"):
        EmbeddedMongo(tmp_path / "mongo", python=str(tmp_path / "nope")).join()


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.05)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupting_the_cli_leaves_no_server_behind(tmp_path: Path, sig: signal.Signals) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADPERSONA_")}
    env["LEADPERSONA_DATA_DIR"] = str(tmp_path / "data")
    process = subprocess.Popen(
        [sys.executable, "-m", "leadpersona", "demo"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    state = tmp_path / "data" / "mongo.run" / "server.json"
    _wait_for(state)
    server_pid = json.loads(state.read_text())["pid"]
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert b"Traceback" not in stderr
    deadline = time.monotonic() + 10
    while _pid_alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _pid_alive(server_pid)
    assert not state.exists()
