"""A ``socket.getaddrinfo`` guard: no name is ever resolved through the network, and the link-local IMDS
address is never connected to.

Loopback (``127.0.0.1``, ``::1``, ``localhost``) and other numeric addresses resolve as usual — numeric ones
need no query. Every other name answers ``socket.gaierror`` (EAI_NONAME, what a resolver says for an unknown
host) without asking anyone, which is how the fault matrix makes a service's host (``*.twin.invalid``) fail DNS
resolution with no real DNS query leaving the machine. ``169.254.169.254`` (IMDS) is refused too. Every refused
name is recorded in :data:`REFUSED`, so a test can prove that nothing but the names it meant was asked for.

In-process: :func:`install`. In a subprocess: put ``tests/helpers/dns_guard_site`` on ``PYTHONPATH`` (its
``sitecustomize`` installs the guard at interpreter start) — see :func:`subprocess_environment`.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SITE_DIR = Path(__file__).parent / "dns_guard_site"
LOOPBACK_NAMES = {"localhost": "127.0.0.1", "localhost.localdomain": "127.0.0.1", "ip6-localhost": "::1"}
IMDS = "169.254.169.254"
REFUSED: list[str] = []
# A subprocess appends each refused name here (one per line), so the parent can read what it asked for.
LOG_VARIABLE = "PREFLIGHT_TEST_DNS_LOG"
_lock = threading.Lock()
_original: Any = None


def _numeric(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _refuse(host: str) -> None:
    with _lock:
        REFUSED.append(host)
        log = os.environ.get(LOG_VARIABLE)
        if log:
            with open(log, "a", encoding="utf-8") as handle:
                handle.write(host + "\n")
    # Exactly the resolver's own words: what the product makes of them is under test, not this text.
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    name = host.decode("ascii", "replace") if isinstance(host, bytes) else host
    if name is None or name == "":
        return _original(host, *args, **kwargs)
    text = str(name).rstrip(".").lower()
    if text == IMDS:
        _refuse(text)
    if text in LOOPBACK_NAMES:
        return _original(LOOPBACK_NAMES[text], *args, **kwargs)
    if _numeric(text):
        return _original(host, *args, **kwargs)
    _refuse(text)


def _guarded_gethostbyname(host: str) -> str:
    return str(_guarded_getaddrinfo(host, None, socket.AF_INET)[0][4][0])


def install() -> None:
    """Replace ``socket.getaddrinfo`` / ``gethostbyname`` in this process (idempotent)."""
    global _original
    with _lock:
        if _original is not None:
            return
        _original = socket.getaddrinfo
        socket.getaddrinfo = _guarded_getaddrinfo  # type: ignore[assignment]
        socket.gethostbyname = _guarded_gethostbyname


def installed() -> bool:
    return _original is not None and socket.getaddrinfo is _guarded_getaddrinfo


def subprocess_environment(env: Mapping[str, str], log_file: Path | None = None) -> dict[str, str]:
    """``env`` with the guard's ``sitecustomize`` first on ``PYTHONPATH`` (and the refused-name log)."""
    out = dict(env)
    out["PYTHONPATH"] = os.pathsep.join(p for p in (str(SITE_DIR), env.get("PYTHONPATH", "")) if p)
    if log_file is not None:
        out[LOG_VARIABLE] = str(log_file)
    return out


if __name__ == "__main__":  # pragma: no cover - manual check
    install()
    for name in sys.argv[1:]:
        try:
            print(name, socket.getaddrinfo(name, 443)[0][4])
        except socket.gaierror as exc:
            print(name, "refused:", exc)
