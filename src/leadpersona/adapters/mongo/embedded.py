"""The embedded MongoDB-wire server (PyPI ``secantusdb``), run as a child process.

Several leadpersona processes may share one data directory at the same time. They coordinate
through files in ``<storage>.run/``:

- ``lock``: a file lock held while the server is started, joined, left or stopped;
- ``server.json``: pid and port of the running server;
- ``clients/<pid>-<token>``: one lease per user of the server.

The first process starts the server; later ones reuse it; the last one to leave stops it. A
process killed without cleaning up leaves its lease behind: it is pruned (its pid is dead) by
the next process that joins or leaves, and a server left running is reused, then stopped.
The server runs in its own session, so Ctrl-C in a terminal reaches only leadpersona, which
then stops the server itself.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from filelock import FileLock, Timeout
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from leadpersona.adapters.local_server import free_port
from leadpersona.errors import EmbeddedServerError

__all__ = ["EmbeddedMongo", "mongo_uri_for_port"]

_LOCK_TIMEOUT_S = 120.0
#: How long the embedded server keeps its oplog: 26 hours.
OPLOG_RETENTION_S = 26 * 3600
# Servers this process started. Kept referenced so that a server left running for other
# clients is not garbage-collected as a "still running" Popen, and reaped when stopped here.
_STARTED: dict[int, subprocess.Popen[bytes]] = {}
_STOP_TIMEOUT_S = 20.0


def mongo_uri_for_port(port: int, host: str = "127.0.0.1") -> str:
    """The URI a client uses to reach a single embedded server."""
    return f"mongodb://{host}:{port}/?directConnection=true"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) is not alive for our purposes.
    status = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        fields = status.read_text().rsplit(")", 1)[-1].split()
        if fields and fields[0] == "Z":
            return False
    return True


def _is_secantus(pid: int) -> bool:
    cmdline = Path(f"/proc/{pid}/cmdline")
    try:
        return b"secantus" in cmdline.read_bytes()
    except OSError:
        # No /proc (macOS): trust the pid recorded under our lock.
        return _pid_alive(pid)


def _ping(uri: str, timeout_s: float = 1.0) -> bool:
    client: MongoClient[dict[str, object]] = MongoClient(
        uri, serverSelectionTimeoutMS=int(timeout_s * 1000), connectTimeoutMS=500
    )
    try:
        client.admin.command("ping")
        return True
    except PyMongoError:
        return False
    finally:
        client.close()


class EmbeddedMongo:
    """Start (or join) the embedded server for ``storage_dir`` and stop it when last out.

    Use as a context manager; entering yields the connection URI::

        with EmbeddedMongo(Path(".leadpersona/mongo")) as uri:
            ...
    """

    def __init__(
        self,
        storage_dir: Path,
        *,
        host: str = "127.0.0.1",
        start_timeout: float = 60.0,
        python: str = sys.executable,
    ) -> None:
        self.storage_dir = storage_dir
        self.host = host
        self.start_timeout = start_timeout
        self.python = python
        self.run_dir = storage_dir.with_name(storage_dir.name + ".run")
        self._lock = FileLock(str(self.run_dir / "lock"))
        self._state_file = self.run_dir / "server.json"
        self._clients_dir = self.run_dir / "clients"
        self._log_file = self.run_dir / "server.log"
        self._lease = self._clients_dir / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.uri: str | None = None
        self.pid: int | None = None
        self.started_here = False

    # -- context manager -------------------------------------------------------------------

    def __enter__(self) -> str:
        return self.join()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.leave()

    # -- public API ------------------------------------------------------------------------

    def join(self) -> str:
        """Reuse the running server or start one; register this process as a client."""
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._clients_dir.mkdir(exist_ok=True)
        except OSError as exc:
            raise EmbeddedServerError(f"cannot create {self.run_dir}: {exc.strerror}") from None
        with self._locked():
            state = self._read_state()
            try:
                if state is not None and self._usable(state):
                    self.pid, port = state
                else:
                    if state is not None:
                        self._terminate(state[0])
                    port = self._start()
                self._lease.touch()
                uri = self.uri = mongo_uri_for_port(port, self.host)
            except BaseException:
                # Failed or interrupted (Ctrl-C) before this call returned: nobody will call
                # leave(), so a server started here must not outlive it.
                self.uri = None
                with contextlib.suppress(FileNotFoundError):
                    self._lease.unlink()
                if self.started_here and self.pid is not None and not self._live_clients():
                    self._terminate(self.pid)
                    with contextlib.suppress(FileNotFoundError):
                        self._state_file.unlink()
                raise
        return uri

    def leave(self) -> None:
        """Unregister this process; stop the server if no live client remains."""
        if self.uri is None:
            return
        with self._locked():
            with contextlib.suppress(FileNotFoundError):
                self._lease.unlink()
            if not self._live_clients():
                state = self._read_state()
                try:
                    if state is not None:
                        self._terminate(state[0])
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        self._state_file.unlink()
        self.uri = None

    # -- internals -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            with self._lock.acquire(timeout=_LOCK_TIMEOUT_S):
                yield
        except Timeout:
            raise EmbeddedServerError(
                f"another process holds {self._lock.lock_file} for over {_LOCK_TIMEOUT_S:.0f} s"
            ) from None

    def _read_state(self) -> tuple[int, int] | None:
        try:
            data = json.loads(self._state_file.read_text())
            return int(data["pid"]), int(data["port"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _usable(self, state: tuple[int, int]) -> bool:
        pid, port = state
        return _is_secantus(pid) and _ping(mongo_uri_for_port(port, self.host), timeout_s=2.0)

    def _live_clients(self) -> list[int]:
        live = []
        for lease in self._clients_dir.iterdir():
            try:
                pid = int(lease.name.split("-", 1)[0])
            except ValueError:
                continue
            if _pid_alive(pid):
                live.append(pid)
            else:
                with contextlib.suppress(FileNotFoundError):
                    lease.unlink()
        return live

    def _start(self) -> int:
        """Start a server, setting ``pid`` and ``started_here`` once it runs; return its port."""
        try:
            self.storage_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EmbeddedServerError(f"cannot create {self.storage_dir}: {exc.strerror}") from None
        port = free_port(self.host)
        command = [
            self.python,
            "-m",
            "secantus",
            "--host",
            self.host,
            "--port",
            str(port),
            "--storage-path",
            str(self.storage_dir),
            "--log-level",
            "WARNING",
            # A day and a bit of oplog (its default is an hour; the 100,000-entry cap stays):
            # the daily run's warehouse sync then resumes the change stream of leads from the
            # last run's position instead of walking every lead id.
            "--oplog-retention-seconds",
            str(OPLOG_RETENTION_S),
        ]
        with self._log_file.open("ab") as log:
            try:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                raise EmbeddedServerError(
                    f"cannot run the embedded MongoDB server ({self.python} -m secantus): "
                    f"{exc.strerror}"
                ) from None
        _STARTED[process.pid] = process
        self.pid, self.started_here = process.pid, True
        self._wait_until_ready(process, mongo_uri_for_port(port, self.host))
        self._state_file.write_text(json.dumps({"pid": process.pid, "port": port}))
        return port

    def _wait_until_ready(self, process: subprocess.Popen[bytes], uri: str) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise EmbeddedServerError(
                    "the embedded MongoDB server exited at start-up "
                    f"(code {process.returncode}): {self._last_log_line()}"
                )
            if _ping(uri, timeout_s=0.5):
                return
            time.sleep(0.05)
        raise EmbeddedServerError(
            f"the embedded MongoDB server did not answer within {self.start_timeout:.0f} s "
            f"(log: {self._log_file})"
        )

    def _last_log_line(self) -> str:
        try:
            lines = [ln for ln in self._log_file.read_text(errors="replace").splitlines() if ln]
        except OSError:
            return "no log"
        return lines[-1] if lines else "no log"

    def _terminate(self, pid: int, process: subprocess.Popen[bytes] | None = None) -> None:
        process = process or _STARTED.pop(pid, None)
        if process is not None and process.poll() is not None:
            return
        if not _is_secantus(pid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        # A second Ctrl-C (or SIGTERM) while the server shuts down must not leave it half
        # stopped with its state file behind: finish stopping, then pass the interrupt on.
        interrupted = False
        deadline = time.monotonic() + _STOP_TIMEOUT_S
        while True:
            try:
                if process is not None:
                    if process.poll() is not None:
                        break
                elif not _pid_alive(pid):
                    break
                if time.monotonic() > deadline:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    if process is not None:
                        process.wait()
                    break
                time.sleep(0.05)
            except KeyboardInterrupt:
                interrupted = True
        if interrupted:
            raise KeyboardInterrupt
