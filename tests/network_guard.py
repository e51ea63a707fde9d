"""Tests never reach the network: a connection or a name lookup off this machine fails the test.

Installed for the whole test process (``pytest_plugins`` in the root conftest), before any
fixture runs. Loopback addresses, ``localhost`` and Unix sockets stay allowed: the MongoDB-wire
server, PostgreSQL and the mock APIs all listen on loopback. Hosts of an outside MongoDB given
in ``LEADPERSONA_TEST_MONGODB_URI`` are allowed too, since the run asked for them.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any

from pymongo.uri_parser import parse_uri

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class NetworkAccessError(OSError):
    """A test tried to reach a host that is not this machine."""


def _allowed_hosts() -> frozenset[str]:
    uri = os.environ.get("LEADPERSONA_TEST_MONGODB_URI")
    if not uri:
        return LOCAL_NAMES
    return LOCAL_NAMES | {host.lower() for host, _port in parse_uri(uri)["nodelist"]}


def is_local(host: object, allowed: frozenset[str] = LOCAL_NAMES) -> bool:
    """True for loopback (or unspecified) addresses and the allowed names."""
    if host is None:
        return True  # getaddrinfo(None, port): this machine's own addresses
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip("[]").lower()
    if name in allowed:
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _check(family: int, address: Any, allowed: frozenset[str]) -> None:
    if family == getattr(socket, "AF_UNIX", None):
        return
    host = address[0] if isinstance(address, tuple) and address else address
    if not is_local(host, allowed):
        raise NetworkAccessError(f"tests must not reach the network (tried {address!r})")


def install() -> None:
    """Replace socket connect, connect_ex and getaddrinfo with loopback-only versions."""
    allowed = _allowed_hosts()
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        _check(self.family, address, allowed)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check(self.family, address, allowed)
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_local(host, allowed):
            raise NetworkAccessError(f"tests must not look up {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = getaddrinfo


def pytest_configure() -> None:
    install()
