"""The twin's internal HTTP contract: what a service handler receives and returns.

Every service of the twin (Entra ID, managed identity, ARM, Resource Graph, Microsoft Graph, the data plane)
is a set of handlers registered on one :class:`Router`. The server (``server.py``) parses a request into a
:class:`TwinRequest`, applies faults, finds the route, calls the handler and writes the :class:`TwinResponse`.
Handlers never touch sockets, so each service can be written and unit-tested on its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs

# Service names used by routes, faults' ``match.service`` and the request log.
ENTRA = "entra"
MANAGED_IDENTITY = "managed_identity"
ARM = "arm"
RESOURCE_GRAPH = "resource_graph"
GRAPH = "graph"
DATA_PLANE = "data_plane"
TWIN = "twin"  # the twin's own helper endpoints (e.g. what the generated `az` calls)

SERVICES = (ENTRA, MANAGED_IDENTITY, ARM, RESOURCE_GRAPH, GRAPH, DATA_PLANE, TWIN)


@dataclass(frozen=True, slots=True)
class TwinRequest:
    """One parsed HTTP request.

    ``path`` is URL-decoded with ``//`` collapsed to ``/`` (the SDKs send ``//`` for empty parent paths);
    ``query`` keys are lower-cased (ARM treats ``$filter`` / ``api-version`` case-insensitively) and values are
    URL-decoded; ``headers`` keys are lower-cased.
    """

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes = b""
    raw_path: str = ""  # as received, before decoding, for the request log

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError on a malformed body."""
        return json.loads(self.body.decode("utf-8") or "null")

    def json_or_none(self) -> Any:
        """The body parsed as JSON, or None when it is not JSON (the handler then answers its own 400)."""
        try:
            return self.json()
        except ValueError:
            return None

    def form(self) -> dict[str, str]:
        """The body parsed as ``application/x-www-form-urlencoded`` (the token endpoint's format)."""
        parsed = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        return {k: v[-1] for k, v in parsed.items()}

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass(slots=True)
class TwinResponse:
    """What a handler answers. ``principal`` is the authenticated caller's object id, for the request log."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    principal: str | None = None

    @classmethod
    def json(
        cls, status: int, payload: Any, headers: Mapping[str, str] | None = None, principal: str | None = None
    ) -> TwinResponse:
        hdrs = {"Content-Type": "application/json; charset=utf-8"}
        hdrs.update(headers or {})
        return cls(status, json.dumps(payload).encode("utf-8"), hdrs, principal)


class AuthError(Exception):
    """A bearer token was refused. ``response`` is the exact answer the real service gives (status, body,
    ``WWW-Authenticate``), so handlers simply return it."""

    def __init__(self, response: TwinResponse) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass(frozen=True, slots=True)
class Caller:
    """The verified identity behind a bearer token (decoded claims of a token the twin itself signed)."""

    object_id: str
    tenant_id: str
    app_id: str | None
    kind: str  # "user" | "servicePrincipal" | "managedIdentity"
    claims: Mapping[str, Any]


class TwinState(Protocol):
    """What every handler may use. Implemented by the server; handlers receive it as their first argument."""

    @property
    def scenario(self) -> Mapping[str, Any]:
        """The loaded, validated scenario (plain JSON data; see docs/twin-scenarios.md)."""

    @property
    def base_url(self) -> str:
        """``https://127.0.0.1:PORT`` — the twin's own loopback origin (managed identity, the ``az`` shim)."""

    def origin(self, service: str) -> str:
        """``https://…`` where clients reach ``service`` (its named host, or the loopback origin): what
        ``nextLink``, endpoints, issuers and the audiences a service accepts are built from."""

    def verify_bearer(self, request: TwinRequest, audiences: tuple[str, ...], *, service: str) -> Caller:
        """Validate ``Authorization: Bearer …`` like the named service does (signature by the twin's key,
        audience in ``audiences``, expiry, tenant) and return the caller, or raise :class:`AuthError` carrying
        that service's real error answer."""

    def now(self) -> float:
        """The twin's clock (seconds since the epoch); scenarios may shift it."""

    def inner_fault(self, service: str, request: TwinRequest) -> TwinResponse | None:
        """The answer a scenario's status fault (429 with ``Retry-After``, 5xx) gives a request *inside* a
        ``$batch`` — Graph throttles each inner request on its own — or None. Latency and transport actions
        (hang, reset, …) cannot apply inside one answer and are left to the outer request."""


Handler = Callable[[TwinState, TwinRequest, "re.Match[str]"], TwinResponse]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    service: str
    handler: Handler


class Router:
    """Routes by method and a case-insensitive full-match regex on the decoded path (ARM paths are
    case-insensitive). First registered match wins, so register specific routes before generic ones."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, service: str) -> Callable[[Handler], Handler]:
        compiled = re.compile(pattern, re.IGNORECASE)

        def register(handler: Handler) -> Handler:
            self.routes.append(Route(method.upper(), compiled, service, handler))
            return handler

        return register

    def resolve(
        self, method: str, path: str, services: frozenset[str] | None = None
    ) -> tuple[Route, re.Match[str]] | None:
        """The first route for ``method`` and ``path``, among ``services`` only when given (a named host)."""
        for route in self.routes:
            if route.method == method.upper() and (services is None or route.service in services):
                match = route.pattern.fullmatch(path)
                if match:
                    return route, match
        return None


def strip_twin_fields(obj: Any) -> Any:
    """Remove the twin-only ``x-twin*`` keys (e.g. a secret's value) before an object goes on the wire, so
    responses carry exactly the real API's shape."""
    if isinstance(obj, dict):
        return {k: strip_twin_fields(v) for k, v in obj.items() if not k.startswith("x-twin")}
    if isinstance(obj, list):
        return [strip_twin_fields(v) for v in obj]
    return obj
