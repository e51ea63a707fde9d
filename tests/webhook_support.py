"""A real HTTP server on loopback that receives alert webhooks (and can refuse the first ones)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Webhook:
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    attempts: int = 0
    refuse_first: int = 0


@contextmanager
def webhook_server(refuse_first: int = 0) -> Iterator[Webhook]:
    """Serve on 127.0.0.1; the first ``refuse_first`` POSTs get a 503."""
    hook = Webhook(url="", refuse_first=refuse_first)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            hook.attempts += 1
            if hook.attempts <= hook.refuse_first:
                self.send_response(503)
            else:
                hook.received.append(json.loads(body))
                self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
