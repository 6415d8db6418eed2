"""The custom cloud's metadata document, fetched with the standard library.

It is the first request of every run against a custom cloud (the twin, Azure Stack) and everything else waits
for it, so it must leave at once: ``requests`` costs ~0.15 s to import alone, and several times that while the
other checks import their SDKs on the same interpreter lock. ``urllib`` is already loaded or cheap, honours the
same proxy variables (``HTTPS_PROXY`` / ``NO_PROXY``), and trusts the same CA bundle the SDKs are told to use
(``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``, else certifi's, as ``requests`` does). No SDK import here.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

TIMEOUT = 10.0  # seconds per attempt
ATTEMPTS = 3
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 5.0  # a hostile or buggy Retry-After must not stall the run
TRANSIENT_PAUSE = 0.3  # seconds before asking again after a dropped connection or a garbled body
MAX_BODY = 1024 * 1024  # bytes: the real document is ~4 KB; more is not a metadata document


class MetadataError(Exception):
    """The document could not be had: ``status`` is the final HTTP status, or None for a transport failure
    (DNS, TLS, refused, reset, timeout), whose cause is chained."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    reason: str
    body: bytes
    retry_after: str | None
    location: str | None = None


def _opener(context: Any) -> Any:
    """urllib with the CA context and without redirects: a 3xx is an answer (issue 17: no client follows a
    redirect to wherever a server points — a link-local address included)."""
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None  # urllib then raises HTTPError for the 3xx, read below as an answer

    return urllib.request.build_opener(urllib.request.HTTPSHandler(context=context), NoRedirect)


def _read_capped(stream: Any) -> bytes:
    body: bytes = stream.read(MAX_BODY + 1) if stream is not None else b""
    if len(body) > MAX_BODY:
        raise MetadataError(f"the answer is larger than {MAX_BODY:,} bytes: not a cloud metadata document")
    return body


def ca_bundle(environ: Mapping[str, str]) -> str | None:
    """The CA file (or directory) to trust: what the SDKs' ``requests`` would use, certifi's bundle by default."""
    configured = environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE")
    if configured:
        return configured
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with requests, which azure-core needs
        return None
    return str(certifi.where())


def _context(environ: Mapping[str, str]) -> Any:
    import ssl

    bundle = ca_bundle(environ)
    if bundle and os.path.isdir(bundle):
        return ssl.create_default_context(capath=bundle)
    return ssl.create_default_context(cafile=bundle)


def _get_once(url: str, context: Any, timeout: float) -> _Answer:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with _opener(context).open(request, timeout=timeout) as response:
            return _Answer(
                response.status, response.reason, _read_capped(response), response.headers.get("Retry-After")
            )
    except urllib.error.HTTPError as exc:  # an answer, just not a 2xx
        body = _read_capped(exc) if exc.fp is not None else b""
        headers = exc.headers
        return _Answer(
            exc.code,
            str(exc.reason),
            body,
            headers.get("Retry-After") if headers else None,
            headers.get("Location") if headers else None,
        )


def _retry_after(value: str | None) -> float:
    try:
        return max(0.0, float(value)) if value else 1.0
    except ValueError:
        return 1.0


def fetch_metadata(url: str, environ: Mapping[str, str], *, timeout: float = TIMEOUT, attempts: int = ATTEMPTS) -> Any:
    """The decoded JSON document at ``url``. Throttling and server errors are retried (``attempts`` in all),
    ``Retry-After`` honoured up to :data:`MAX_RETRY_AFTER`. Raises :class:`MetadataError` for a transport
    failure or a final error status, ``ValueError`` for a body that is not JSON."""
    import http.client
    from urllib.parse import urlsplit

    if urlsplit(url).scheme.lower() not in ("https", "http"):
        raise MetadataError(f"{url!r} is not an http(s) URL")
    context = _context(environ)
    for attempt in range(attempts):
        last = attempt == attempts - 1
        try:
            answer = _get_once(url, context, timeout)
        except (OSError, http.client.HTTPException) as exc:  # URLError, TLS, refused, reset, timeout, truncated
            if last or not _transient(exc):
                from preflight.azure.http import describe_transport

                raise MetadataError(describe_transport(exc, url)) from exc
            time.sleep(TRANSIENT_PAUSE)
            continue
        if answer.status in RETRY_STATUSES and not last:
            time.sleep(min(_retry_after(answer.retry_after), MAX_RETRY_AFTER))
            continue
        if 300 <= answer.status < 400:
            where = f" to {answer.location[:200]}" if answer.location else ""
            raise MetadataError(f"HTTP {answer.status}: a redirect{where}, not followed", answer.status)
        if answer.status >= 400:
            raise MetadataError(f"HTTP {answer.status} {answer.reason}".strip(), answer.status)
        try:
            return json.loads(answer.body.decode("utf-8"))
        except ValueError:  # a garbled or cut answer from a proxy: asked again, it is usually whole
            if last:
                raise
            time.sleep(TRANSIENT_PAUSE)
    raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover


def _transient(exc: BaseException) -> bool:
    """A connection dropped mid-answer (reset, closed, truncated) is worth one more try; a name that does not
    resolve, a certificate not trusted, a refused port or a timeout (already a long wait) is not."""
    import http.client
    import socket
    import ssl
    import urllib.error

    cause = exc.reason if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException) else exc
    if isinstance(cause, (socket.gaierror, ssl.SSLCertVerificationError, ConnectionRefusedError, TimeoutError)):
        return False
    return isinstance(
        cause,
        (
            ConnectionResetError,
            ConnectionAbortedError,
            BrokenPipeError,
            http.client.RemoteDisconnected,
            http.client.IncompleteRead,
            ssl.SSLEOFError,
        ),
    )
