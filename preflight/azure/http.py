"""Shared Azure REST plumbing: the capped retry policy, one failure type, one sender, one error decoder.

ARM, Resource Graph and Microsoft Graph answer errors in the same shape (``{"error": {"code", "message"}}``),
so the Graph adapter (preflight.azure.graph) and the audit's ARM client (preflight.audit.rest) share both
instead of each carrying its own copy. No SDK import here: this sits on the lazy-import path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

ARM = "Azure Resource Manager"
RESOURCE_GRAPH = "Azure Resource Graph"
GRAPH = "Microsoft Graph"
TRANSPORT_ERRORS = ("ServiceRequestError", "ServiceResponseError", "ServiceRequestTimeoutError",
                    "ServiceResponseTimeoutError", "IncompleteReadError", "ConnectionError",
                    "ReadTimeout", "ConnectTimeout", "SSLError", "ChunkedEncodingError")


def service_of(url: str) -> str:
    """Which Azure service a REST URL belongs to (for messages): Microsoft Graph (``/v1.0/``, ``/beta/``),
    Resource Graph (its provider path) or Resource Manager."""
    path = urlsplit(url).path.lower()
    if path.startswith(("/v1.0/", "/beta/")):
        return GRAPH
    if "/providers/microsoft.resourcegraph/" in path:
        return RESOURCE_GRAPH
    return ARM


def host_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


_HOST_IN_TEXT = re.compile(r"host='([^']+)', port=(\d+)")
_RESOLVE = re.compile(r"Failed to resolve '([^']+)'")
_VERIFY = re.compile(r"certificate verify failed: ([^(\]'\"]+)", re.IGNORECASE)


def _chain(error: BaseException) -> list[BaseException]:
    """The error, its causes / contexts and azure-core's ``inner_exception``s (bounded, no repeats)."""
    found: list[BaseException] = []
    todo: list[BaseException] = [error]
    while todo and len(found) < 12:
        current = todo.pop(0)
        if any(current is f for f in found):
            continue
        found.append(current)
        for nxt in (getattr(current, "inner_exception", None), current.__cause__, current.__context__):
            if isinstance(nxt, BaseException):
                todo.append(nxt)
    return found


def _chain_text(error: BaseException | str) -> str:
    if isinstance(error, str):
        return error
    return " | ".join(f"{type(e).__name__}: {e}" for e in _chain(error))


def _url_in(error: BaseException | str) -> str | None:
    """The URL of the failed request when an exception in the chain carries it (requests' ``.request``)."""
    if isinstance(error, str):
        return None
    for exc in _chain(error):
        request = getattr(exc, "request", None)
        url = getattr(request, "url", None)
        if isinstance(url, str) and url:
            return url
    return None


def describe_transport(error: BaseException | str, url: str | None = None) -> str:
    """What went wrong below HTTP, in words a person understands: ``DNS: … does not resolve``, ``TLS:
    certificate not trusted for host:port``, ``connection reset by host:port``, a truncated answer, no answer in
    time, connection refused. ``error`` is the exception (its causes are read too) or its text; ``url`` names
    the host when the text does not. Falls back to the text's first line."""
    text = _chain_text(error)
    low = text.lower()
    found = _HOST_IN_TEXT.search(text)
    url = _url_in(error) or url
    host = f"{found.group(1)}:{found.group(2)}" if found else (host_of(url) if url else "the server")
    if resolve := _RESOLVE.search(text):
        return f"DNS: the host name {resolve.group(1)} does not resolve ({host})"
    if any(m in low for m in ("name or service not known", "nodename nor servname", "getaddrinfo failed",
                              "temporary failure in name resolution", "no address associated with hostname")):
        return f"DNS: the host name of {host} does not resolve"
    if "certificate_verify_failed" in low or "certificate verify failed" in low:
        why = _VERIFY.search(text)
        reason = why.group(1).strip() if why else "certificate verify failed"
        return f"TLS: certificate not trusted for {host} ({reason}: a proxy that intercepts TLS, or a missing CA " \
               "in REQUESTS_CA_BUNDLE)"
    if "[ssl" in low or "sslerror" in low or "tlsv1" in low:
        return f"TLS: the handshake with {host} failed ({text.splitlines()[0][:160]})"
    if "connection reset" in low or "errno 104" in low or "econnreset" in low:
        return f"connection reset by {host} (the connection was dropped mid-request)"
    if "incompleteread" in low or "incomplete" in low or "connection broken" in low or "chunkedencodingerror" in low:
        return f"the answer from {host} was truncated (the connection closed before the whole body arrived)"
    if "timed out" in low or "timeout" in low:
        return f"no answer from {host} in time (timed out)"
    if "connection refused" in low or "errno 111" in low:
        return f"connection refused by {host} (nothing listens there)"
    if "remote end closed" in low or "remotedisconnected" in low or "connection aborted" in low:
        return f"the connection to {host} was reset / closed without an answer"
    first = text.split(" | ", 1)[0].splitlines()[0] if text else "unknown error"
    return first[:300]


def is_transport_error(error: BaseException) -> bool:
    """An error below HTTP (no status): connection, DNS, TLS, timeout, truncated body."""
    current: BaseException | None = error
    for _ in range(8):
        if current is None:
            return False
        if type(current).__name__ in TRANSPORT_ERRORS or isinstance(current, OSError):
            return True
        current = current.__cause__ or current.__context__
    return False


def inconclusive(status: int | None, code: str | None) -> bool:
    """Whether a failed read says nothing about the thing read: no answer (transport failure), throttled,
    a server error, or a 2xx that could not be read — an ERROR for the check, never a FAIL."""
    if status is None:
        return code in TRANSPORT_ERRORS
    return status in (408, 429) or status >= 500 or 200 <= status < 300


def describe_body(text: str | None, content_type: str | None = None) -> str:
    """What an answer that is not JSON was: an HTML page (a proxy, firewall or captive portal answered, not
    Azure — its title quoted), an empty body, or a malformed / truncated JSON body."""
    body = (text or "").strip()
    head = body[:200].lower()
    if "html" in (content_type or "").lower() or head.startswith(("<!doctype html", "<html")):
        title = re.search(r"<title>(.*?)</title>", body, re.IGNORECASE | re.DOTALL)
        named = f" ('{' '.join(title.group(1).split())[:80]}')" if title else ""
        return f"an HTML page{named} instead of JSON: a proxy, firewall or captive portal answered, not Azure"
    if not body:
        return "an empty body instead of JSON"
    return f"a body that is not valid JSON (malformed or truncated): {body[:60]!r}"


def answered(service: str, status: int, code: str | None, message: str) -> str:
    """``{service} answered HTTP {status} {code}: {message}`` — what every HTTP error message says first."""
    text = f"{service} answered HTTP {status}"
    if status == 429:
        text += " (throttled)"
    if code:
        text += f" {code}"
    return f"{text}: {message}" if message else text


class HttpError(Exception):
    """A request that failed for good (after retries): the HTTP status (None: transport) and the error code.

    The text names the service (from the URL), what happened — ``answered HTTP 503 …``, or for a transport
    failure (``status`` None) DNS / TLS / reset / truncated / timeout in words — and the request."""

    def __init__(self, method: str, url: str, status: int | None, code: str | None, message: str) -> None:
        where = f"{method} {url.split('?', 1)[0]}"
        service = service_of(url)
        if status is None:
            said = f"{service}: {describe_transport(message, url)}"
        else:
            said = answered(service, status, code, message)
        super().__init__(f"{said} ({where})")
        self.status = status
        self.code = code
        self.message = message


def capped_retry_policy(max_retry_after: float, **retry: Any) -> Any:
    """azure-core's RetryPolicy (``retry`` its keyword arguments) with ``Retry-After`` capped at
    ``max_retry_after`` seconds: azure-core obeys it without an upper bound, so a hostile or buggy value could
    stall a run for an hour, while ordinary throttling answers (429 / 503 with Retry-After) are still honoured."""
    return capped_retry_policy_class(max_retry_after)(**retry)


def capped_retry_policy_class(max_retry_after: float) -> Any:
    """The class behind :func:`capped_retry_policy`, for azure-identity's ``retry_policy_class=`` keyword (its
    credentials build their own pipelines, so a token endpoint's Retry-After is capped the same way)."""
    from azure.core.pipeline.policies import RetryPolicy

    class CappedRetryPolicy(RetryPolicy):  # type: ignore[type-arg]
        def get_retry_after(self, response: Any) -> float | None:
            value = super().get_retry_after(response)
            return None if value is None else min(float(value), max_retry_after)

    return CappedRetryPolicy


def send_json(client: Any, request: Any, error: type[HttpError] = HttpError) -> dict[str, Any]:
    """Send ``request`` (an azure-core ``HttpRequest``) through ``client`` (a ``PipelineClient``): the decoded
    JSON object, or ``error`` — for a transport failure, an error status, or an answer that is not an object."""
    return send_json_sized(client, request, error)[0]


def send_json_sized(client: Any, request: Any, error: Callable[..., HttpError] = HttpError,
                    details: Callable[[Any], Any] | None = None) -> tuple[dict[str, Any], int]:
    """:func:`send_json`, plus the size of the answer's body in bytes (what Resource Graph's response limit
    counts, so a caller can size its next page). ``details``, when given, reads extra data from an error answer
    and is passed to ``error`` as ``details=``."""
    from azure.core.exceptions import AzureError

    method, url = request.method, request.url
    try:
        response = client.send_request(request)
    except AzureError as exc:
        raise error(method, url, None, type(exc).__name__, describe_transport(exc, url)) from exc
    if response.status_code >= 400:
        extra = {"details": details(response)} if details is not None else {}
        raise error(method, url, response.status_code, *error_of(response), **extra)
    try:
        data = response.json()
    except ValueError as exc:
        raise error(method, url, response.status_code, "InvalidJson",
                    describe_body(response.text(), response.headers.get("Content-Type"))) from exc
    if not isinstance(data, dict):
        raise error(method, url, response.status_code, "InvalidJson", "the answer is not a JSON object")
    return data, len(response.content or b"")


def error_of(response: Any) -> tuple[str | None, str]:
    """(code, message) of an error answer: Azure's ``{"error": {...}}`` shape, else the start of the body."""
    try:
        data = response.json()
    except ValueError:
        return None, describe_body(response.text(), response.headers.get("Content-Type"))
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return error.get("code"), str(error.get("message") or "")[:500]
    return None, json.dumps(data)[:200]
