"""The twin's HTTPS server: one loopback listener, every service behind one :class:`~preflight.twin.http.Router`.

Why stdlib ``http.server``: the twin must start in milliseconds inside a test process, with no dependency
beyond ``cryptography``. A request goes: TLS handshake (in the connection's own thread, so a stalled client
cannot block ``accept``) → parse into :class:`TwinRequest` (decoded path with ``//`` collapsed, lower-cased
query keys — what ARM tolerates) → route → faults (latency, forced status, hang, reset, broken bodies) →
handler → :class:`TwinResponse` on the wire → one :class:`~preflight.twin.log.LogEntry`.

:class:`TwinServer` also *is* the :class:`~preflight.twin.http.TwinState` every handler receives.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
import secrets
import socket
import ssl
import struct
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

from preflight.twin import hosts, tokens
from preflight.twin.faults import Fault, FaultSet
from preflight.twin.http import (
    ENTRA,
    MANAGED_IDENTITY,
    AuthError,
    Caller,
    Route,
    Router,
    TwinRequest,
    TwinResponse,
)
from preflight.twin.log import LogEntry, RequestLog, body_summary
from preflight.twin.tls import TlsFiles

# Service modules, in registration order. Fixed-path services first; Entra last because its routes start with a
# free `{tenant}` segment that would otherwise swallow `/subscriptions/...`, `/providers/...`, `/v1.0/...`.
SERVICE_MODULES = (
    "preflight.twin.managed_identity",
    "preflight.twin.azcli",
    "preflight.twin.arm",
    "preflight.twin.resource_graph",
    "preflight.twin.graph",
    "preflight.twin.dataplane",
    "preflight.twin.entra",
)

_MAX_BODY = 16 * 1024 * 1024


def build_router(modules: tuple[str, ...] = SERVICE_MODULES) -> Router:
    """One router from every service module present (helper modules may not exist yet in a given checkout)."""
    router = Router()
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(router)
    return router


def parse_request(method: str, target: str, headers: Mapping[str, str], body: bytes) -> TwinRequest:
    """The contract's parsing rules: decoded path with ``//`` collapsed; lower-cased query keys, decoded values."""
    raw_path, _, raw_query = target.partition("?")
    if raw_path.startswith(("http://", "https://")):  # absolute-form request target
        raw_path = "/" + raw_path.split("/", 3)[3] if raw_path.count("/") >= 3 else "/"
    path = re.sub(r"/{2,}", "/", unquote(raw_path)) or "/"
    query = {k.lower(): v for k, v in parse_qsl(raw_query, keep_blank_values=True)}
    return TwinRequest(
        method=method.upper(),
        path=path,
        query=query,
        headers={k.lower(): v for k, v in headers.items()},
        body=body,
        raw_path=target,
    )


def _json_or_text(body: Any) -> tuple[bytes, str]:
    if isinstance(body, str):
        try:
            json.loads(body)
            return body.encode("utf-8"), "application/json; charset=utf-8"
        except ValueError:
            return body.encode("utf-8"), "text/plain; charset=utf-8"
    return json.dumps(body).encode("utf-8"), "application/json; charset=utf-8"


def fault_response(fault: Fault, service: str | None) -> TwinResponse:
    """The answer a status / ``malformed`` / ``html`` fault gives, in the matched service's error shape."""
    status = fault.status if fault.status is not None else (200 if fault.action else 500)
    headers: dict[str, str] = dict(fault.headers)
    if fault.retry_after is not None:
        headers["Retry-After"] = fault.retry_after
    if fault.action == "html":
        title = f"{status} {'Service Unavailable' if status >= 500 else 'Sign in required'}"
        body = (
            fault.body
            if isinstance(fault.body, str)
            else (
                f"<!DOCTYPE html><html><head><title>{title}</title></head>"
                f"<body><h1>{title}</h1><p>The request was intercepted by a proxy.</p></body></html>"
            )
        )
        headers["Content-Type"] = "text/html; charset=utf-8"
        return TwinResponse(status, body.encode("utf-8"), headers)
    if fault.action == "malformed":
        body = fault.body if isinstance(fault.body, str) else '{"value": [{"id": "/subscriptions/'
        headers["Content-Type"] = "application/json; charset=utf-8"
        return TwinResponse(status, body.encode("utf-8"), headers)
    if fault.body is not None:
        data, ctype = _json_or_text(fault.body)
        headers["Content-Type"] = ctype
        return TwinResponse(status, data, headers)
    if service in (ENTRA,):
        payload: Any = {
            "error": "temporarily_unavailable" if status != 429 else "too_many_requests",
            "error_description": f"The service is temporarily unavailable ({status}).",
        }
    elif service == MANAGED_IDENTITY:
        payload = {"error": "service_unavailable", "error_description": f"Managed identity endpoint {status}."}
    elif status == 429:
        payload = {
            "error": {
                "code": "TooManyRequests",
                "message": (
                    "The request is being throttled as the limit has been reached for operation type - Read. For more "
                    "information, see - https://aka.ms/srpthrottlinglimits"
                ),
            }
        }
    else:
        payload = {
            "error": {
                "code": "InternalServerError" if status >= 500 else "BadRequest",
                "message": f"Injected fault: HTTP {status}.",
            }
        }
    return TwinResponse.json(status, payload, headers)


class _Handler(BaseHTTPRequestHandler):
    """Reads one request at a time on a keep-alive connection and hands it to :meth:`TwinServer.handle`."""

    protocol_version = "HTTP/1.1"
    server: _HttpServer
    # Idle keep-alive connections end on their own, so a long soak in one process does not accumulate threads;
    # clients (urllib3) notice the closed connection and open a new one.
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the request log replaces stderr noise

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(min(length, _MAX_BODY)) if length else b""

    def _dispatch(self) -> None:
        body = self._read_body()
        headers: dict[str, str] = {}
        for key, value in self.headers.items():
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        request = parse_request(self.command, self.path, headers, body)
        self.server.twin.handle(request, self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _dispatch

    def send_twin_response(self, response: TwinResponse, *, truncate: bool = False) -> None:
        body = b"" if self.command == "HEAD" else response.body
        self.send_response(response.status)
        sent = {k.lower() for k in response.headers}
        for key, value in response.headers.items():
            self.send_header(key, value)
        if "content-type" not in sent and response.body:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        if "x-ms-request-id" not in sent:
            self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.send_header("Content-Length", str(len(response.body)))
        if truncate:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if truncate else body)
        self.wfile.flush()

    def reset(self) -> None:
        """Close with a TCP RST (SO_LINGER 0), like a middlebox dropping the connection."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, twin: TwinServer, port: int, context: ssl.SSLContext) -> None:
        self.twin = twin
        self.context = context
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", port), _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the connection's thread, not in the accept loop.
        request.settimeout(10)
        # Headers and body go out in separate writes: without TCP_NODELAY, Nagle + the client's delayed ACK
        # add ~40 ms to every answer.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            conn = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        with self.connections_lock:
            self.connections.add(conn)
        try:
            conn.settimeout(_Handler.timeout)
            _Handler(conn, client_address, self)
        except (ConnectionError, TimeoutError, ssl.SSLError, OSError):
            pass
        finally:
            with self.connections_lock:
                self.connections.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def close_all(self) -> None:
        with self.connections_lock:
            conns = list(self.connections)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class TwinServer:
    """The running twin: listener, router, token issuer, faults, request log and per-scenario state.

    Implements :class:`~preflight.twin.http.TwinState`. ``store`` is a scratch dict services may keep mutable
    state in (e.g. issued refresh tokens); :meth:`reset` empties it together with the log and fault counters.
    """

    def __init__(
        self,
        scenario: Mapping[str, Any],
        *,
        tls: TlsFiles,
        workdir: Path,
        port: int = 0,
        latency_ms: int = 0,
        request_log_path: str | Path | None = None,
        router: Router | None = None,
        named_hosts: bool = False,
    ) -> None:
        self.workdir = workdir
        # Named hosts (preflight.twin.hosts): each service under its own name and audience; else one origin.
        self.named_hosts = named_hosts
        self.issuer = tokens.TokenIssuer()
        self.log = RequestLog(request_log_path)
        self.latency_ms = latency_ms
        self.router = router or build_router()
        self.store: dict[str, Any] = {}
        self.store_lock = threading.RLock()
        self.errors: list[str] = []  # handler crashes (tracebacks): a twin bug, never silent
        self.clock_offset = 0.0
        # The App Service managed-identity secret (IDENTITY_HEADER) this twin expects.
        self.identity_header = secrets.token_hex(16)
        self._scenario: Mapping[str, Any] = scenario
        self._faults = FaultSet(scenario.get("faults"))
        self._stopping = threading.Event()
        self._httpd = _HttpServer(self, port, tls.server_context())
        self.port: int = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    # -- TwinState ---------------------------------------------------------------------------------------
    @property
    def scenario(self) -> Mapping[str, Any]:
        return self._scenario

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def origin(self, service: str) -> str:
        """Where clients reach ``service``: its named host (``https://management.twin.test``) with named hosts,
        else the one origin every service shares."""
        return hosts.origin(service) if self.named_hosts else self.base_url

    def now(self) -> float:
        return time.time() + self.clock_offset

    def inner_fault(self, service: str, request: TwinRequest) -> TwinResponse | None:
        """See :meth:`TwinState.inner_fault`. The faulted inner request is logged (``fault`` ``status:…``,
        ``extra`` ``{"inBatch": "true"}``) so tests can see it happened; answered inner requests are not."""
        fault = self._faults.take(service, request.method, request.path, status_only=True)
        if fault is None:
            return None
        response = fault_response(fault, service)
        self.log.append(
            LogEntry.of(
                request,
                service=service,
                principal=None,
                status=response.status,
                duration_ms=0.0,
                fault=f"status:{fault.status}",
                extra={"inBatch": "true"},
            )
        )
        return response

    @property
    def tenant_id(self) -> str:
        return str((self._scenario.get("tenant") or {}).get("id", ""))

    def verify_bearer(
        self, request: TwinRequest, audiences: tuple[str, ...], *, service: str, tenant_id: str | None = None
    ) -> Caller:
        """See :meth:`TwinState.verify_bearer`; ``tenant_id`` (extension) overrides the scenario's tenant,
        e.g. ARM checks against the tenant of the subscription being accessed."""
        return tokens.verify_bearer(
            self.issuer,
            request,
            audiences,
            service=service,
            base_url=self.origin(ENTRA),
            tenant_id=self.tenant_id if tenant_id is None else tenant_id,
            now=self.now(),
        )

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> TwinServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"twin:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes hanging / delayed handlers
        self._httpd.shutdown()
        self._httpd.close_all()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.log.close()

    def reset(self, scenario: Mapping[str, Any] | None = None) -> None:
        """Swap the scenario (if given) and forget all state: log, fault counters, store, clock, errors."""
        with self.store_lock:
            if scenario is not None:
                self._scenario = scenario
            self._faults = FaultSet(self._scenario.get("faults"))
            self.store.clear()
            self.clock_offset = 0.0
            self.errors.clear()
        self.log.clear()

    # -- request handling --------------------------------------------------------------------------------
    def _on_host(self, request: TwinRequest) -> tuple[TwinRequest, frozenset[str] | None]:
        """The request as the services see it, and which services answer on the host it was sent to (None: all,
        the one loopback origin). A data-plane name stands for its ``/dataplane/<subdomain>`` path prefix."""
        host = hosts.host_of(request.header("host"))
        if not self.named_hosts or not hosts.is_twin_name(host):
            return request, None
        route = hosts.route_for(host)
        if route is None:
            return request, frozenset()
        if route.prefix:
            request = dataclasses.replace(request, path=route.prefix + request.path)
        return request, route.services

    def _route(
        self, request: TwinRequest, services: frozenset[str] | None
    ) -> tuple[Route | None, re.Match[str] | None, bool]:
        resolved = self.router.resolve(request.method, request.path, services)
        if resolved:
            return resolved[0], resolved[1], False
        other_method = any(
            r.pattern.fullmatch(request.path) and (services is None or r.service in services)
            for r in self.router.routes
        )
        return None, None, other_method

    def handle(self, request: TwinRequest, conn: _Handler) -> None:
        started = time.perf_counter()
        generation = self.log.generation()
        request, services = self._on_host(request)
        route, match, wrong_method = self._route(request, services)
        service = route.service if route else None
        fault = self._faults.take(service, request.method, request.path)
        delay_ms = self.latency_ms + (fault.latency_ms if fault else 0)
        if delay_ms and self._stopping.wait(delay_ms / 1000):
            return

        def record(status: int, principal: str | None = None) -> None:
            self.log.append(
                LogEntry.of(
                    request,
                    service=service,
                    principal=principal,
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                    fault=(fault.action or (f"status:{fault.status}" if fault.status else "latency"))
                    if fault
                    else None,
                    extra=body_summary(request.method, request.header("content-type"), request.body),
                ),
                generation,
            )

        if fault and fault.action == "hang":
            self._stopping.wait(fault.hang_ms / 1000)
            conn.close_connection = True
            record(0)
            return
        if fault and fault.action == "reset":
            conn.reset()
            record(0)
            return
        if fault and fault.answers and fault.action != "truncate":
            response = fault_response(fault, service)
        elif route is None or match is None:
            response = self._not_found(request, wrong_method)
        else:
            response = self._call(route, match, request)
        # Log before answering: a test that reads the log right after its response must find the entry.
        record(response.status, response.principal)
        conn.send_twin_response(response, truncate=bool(fault and fault.action == "truncate"))

    def _call(self, route: Route, match: re.Match[str], request: TwinRequest) -> TwinResponse:
        try:
            response: TwinResponse = route.handler(self, request, match)
            return response
        except AuthError as exc:
            return exc.response
        except Exception:
            tb = traceback.format_exc()
            self.errors.append(f"{request.method} {request.path}\n{tb}")
            return TwinResponse.json(
                500,
                {
                    "error": {
                        "code": "InternalServerError",
                        "message": (
                            f"The twin failed while handling {request.method} {request.path}: "
                            f"{tb.strip().splitlines()[-1]}"
                        ),
                    }
                },
            )

    def _not_found(self, request: TwinRequest, wrong_method: bool) -> TwinResponse:
        if wrong_method:
            return TwinResponse.json(
                405,
                {
                    "error": {
                        "code": "MethodNotAllowed",
                        "message": (f"The requested resource does not support http method '{request.method}'."),
                    }
                },
            )
        return TwinResponse.json(
            404,
            {
                "error": {
                    "code": "NotFound",
                    "message": (
                        f"The requested path '{request.path}' was not found. (The Azure twin has no route for "
                        f"{request.method} {request.path}.)"
                    ),
                }
            },
        )
