"""The test process refuses to reach off this machine, and still reaches loopback."""

from __future__ import annotations

import socket

import pytest

from tests.network_guard import NetworkAccessError, is_local


@pytest.mark.parametrize(
    "host", ["192.0.2.1", "2001:db8::1", "example.com", "pypi.org", "huggingface.co"]
)
def test_outbound_connection_fails(host: str) -> None:
    with socket.socket() as sock, pytest.raises(NetworkAccessError):
        sock.connect((host, 443))


def test_name_lookup_off_this_machine_fails() -> None:
    with pytest.raises(NetworkAccessError):
        socket.getaddrinfo("example.com", 443)
    with pytest.raises(NetworkAccessError):
        socket.create_connection(("example.com", 443), timeout=1)


def test_loopback_still_works() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with socket.create_connection(("localhost", port), timeout=5):
            pass
        with socket.socket() as client:
            assert client.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize(
    ("host", "local"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", True),
        (None, True),
        ("LOCALHOST", True),
        (b"127.0.0.2", True),
        ("10.0.0.1", False),
        ("db.internal", False),
    ],
)
def test_is_local(host: object, local: bool) -> None:
    assert is_local(host) is local
