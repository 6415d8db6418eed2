"""The suite's loopback-only guard (tests/conftest.py ``_LoopbackGuard``) refuses what it must and lets loopback
through: if it silently stopped working, a scenario or test pointing the product at a real host would go unseen."""

from __future__ import annotations

import _socket  # the C resolver itself: some test modules replace socket.getaddrinfo (tests/helpers/no_dns.py)
import socket
from typing import Any

import pytest


def _guard(request: pytest.FixtureRequest) -> Any:
    [conftest] = [p for p in request.config.pluginmanager.get_plugins() if hasattr(p, "_NETWORK")]
    return conftest._NETWORK


@pytest.mark.parametrize(
    "host",
    ["contoso-openai.openai.azure.com", "login.microsoftonline.com", "169.254.169.254", "10.0.0.4", "::2"],
)
def test_a_lookup_of_anything_but_loopback_is_refused_and_recorded(request: pytest.FixtureRequest, host: str) -> None:
    guard = _guard(request)
    before = len(guard.seen)
    with pytest.raises(RuntimeError, match="only loopback may be a network target"):
        _socket.getaddrinfo(host, 443)
    assert len(guard.seen) == before + 1 and host in guard.seen[-1] and request.node.nodeid in guard.seen[-1]
    del guard.seen[before:]  # this test provoked it on purpose: do not fail it for that


@pytest.mark.twin  # a unit test's own guard would refuse the connect first
def test_a_connection_to_the_managed_identity_address_is_refused(request: pytest.FixtureRequest) -> None:
    guard = _guard(request)
    before = len(guard.seen)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(RuntimeError, match="loopback"):
        sock.connect(("169.254.169.254", 80))
    assert "169.254.169.254" in guard.seen[-1]
    del guard.seen[before:]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2", "LOCALHOST.", "", None])
def test_loopback_and_wildcard_pass(request: pytest.FixtureRequest, host: str | None) -> None:
    assert _guard(request).is_loopback(host)
