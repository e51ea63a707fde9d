"""Test helpers shared by several test modules: real servers on loopback."""

from __future__ import annotations

from leadpersona.adapters.local_server import free_port, serve_in_thread

__all__ = ["free_port", "serve_in_thread"]
