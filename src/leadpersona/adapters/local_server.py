"""Run an ASGI app on a free loopback port in a background thread (mock API, tests, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import uvicorn
from fastapi import FastAPI

__all__ = ["free_port", "serve_in_thread"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(
    app: FastAPI,
    host: str = "127.0.0.1",
    *,
    lifespan: Literal["auto", "on", "off"] = "auto",
    start_timeout: float = 30.0,
) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread on a free port; yield its base URL.

    The listening socket is bound before the thread starts, so no other process can take the
    port in between.
    """
    # proto=IPPROTO_TCP: accepted connections inherit it, and asyncio only disables Nagle's
    # algorithm (TCP_NODELAY) on sockets that say they are TCP; without it every keep-alive
    # request waits for a delayed ACK (about 40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan=lifespan,
        ws="none",
        timeout_graceful_shutdown=1,
        backlog=4096,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the HTTP server for {app.title} did not start")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
