"""Test helpers shared by several test modules: real servers on loopback."""

from __future__ import annotations

import signal
import subprocess

from leadpersona.adapters.local_server import free_port, serve_in_thread

__all__ = ["free_port", "serve_in_thread", "stop_process"]


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout`` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
