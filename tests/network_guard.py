"""Tests run offline: any connection to an address other than this machine fails the test.

Installed for the whole session by ``tests/conftest.py``; child processes the tests start
(the embedded server, the mock APIs) only listen on loopback themselves.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

__all__ = ["NetworkUsed", "install", "is_local"]


class NetworkUsed(AssertionError):
    """A test tried to reach the network."""


def is_local(address: Any) -> bool:
    """True for Unix sockets and loopback hosts."""
    if not isinstance(address, tuple):
        return True  # a Unix socket path
    host = str(address[0])
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False  # a name that is not localhost: it would need DNS


_connect = socket.socket.connect
_connect_ex = socket.socket.connect_ex


def _guarded(method: Any) -> Any:
    def connect(self: socket.socket, address: Any) -> Any:
        if not is_local(address):
            self.close()  # the caller will not: the error is not an OSError it handles
            raise NetworkUsed(f"a test tried to reach {address!r}: tests must run offline")
        return method(self, address)

    return connect


def install() -> None:
    """Refuse every non-loopback connection from this process."""
    socket.socket.connect = _guarded(_connect)  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded(_connect_ex)  # type: ignore[method-assign]
