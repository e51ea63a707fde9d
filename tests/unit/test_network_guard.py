"""The test suite cannot reach the network: the guard installed by conftest refuses it."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.network_guard import NetworkUsed, is_local


def test_loopback_and_unix_sockets_are_allowed() -> None:
    assert is_local(("127.0.0.1", 80)) and is_local(("::1", 80, 0, 0))
    assert is_local(("localhost", 80)) and is_local("/tmp/socket")
    assert not is_local(("93.184.216.34", 443)) and not is_local(("example.com", 443))


def test_an_outbound_connection_fails_the_test() -> None:
    with socket.socket() as sock, pytest.raises(NetworkUsed, match="offline"):
        sock.connect(("93.184.216.34", 443))
    with pytest.raises(NetworkUsed):
        httpx.get("http://93.184.216.34/", timeout=2)
