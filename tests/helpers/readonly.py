"""The session-wide read-only proof (issue 10): every request the session twin served during the whole test
run must be a read. Pure classification here; ``tests/conftest.py`` applies it at ``pytest_sessionfinish``.

Allowed writes-by-verb that are really reads: the Entra token endpoints, Resource Graph queries, Graph
``directoryObjects/getByIds``, Graph's Conditional Access What If (``identity/conditionalAccess/evaluate``:
it evaluates, it changes nothing) and ``$batch`` (whose inner requests the twin only routes to GET handlers and
getByIds — a PATCH/DELETE inside a batch is answered 400, see tests/test_readonly_proof.py), the data-plane
chat call ``access.probe`` may make, and the twin's own ``az`` shim (the fake ``az`` on PATH, not Azure).
Anything else that is not GET/HEAD — in particular PUT, PATCH or DELETE to any path, routed or not — is a
violation. Requests go by path, not by the logged ``service``: an unrouted PUT is logged with no service.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ALLOWED_POSTS = (
    re.compile(r"/[^/]+/oauth2/(?:v2\.0/)?token"),  # Entra token endpoints (v1 / v2)
    re.compile(r"/providers/Microsoft\.ResourceGraph/resources", re.IGNORECASE),  # Resource Graph queries
    re.compile(r"/v1\.0/directoryObjects/getByIds"),  # Graph read by ids
    re.compile(r"/v1\.0/\$batch"),  # Graph JSON batching (inner GETs)
    re.compile(r"/v1\.0/identity/conditionalAccess/evaluate"),  # Graph CA What If (evaluates only)
    re.compile(r"/dataplane/.+/openai/(?:deployments/[^/]+/|v1/)chat/completions"),  # data plane (probe)
    re.compile(r"/_twin/az"),  # the twin's fake `az` shim
)


class _Entry(Protocol):
    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def service(self) -> str | None: ...
    @property
    def status(self) -> int: ...


def violations(entries: Iterable[_Entry]) -> list[str]:
    """One line per request that is not a read (empty when the session stayed read-only)."""
    found = []
    for entry in entries:
        method = entry.method.upper()
        if method in READ_METHODS:
            continue
        if method == "POST" and any(p.fullmatch(entry.path) for p in ALLOWED_POSTS):
            continue
        found.append(f"{method} {entry.path} (service={entry.service}, status={entry.status})")
    return found
