"""Shared Azure REST plumbing: the capped retry policy, one failure type, one sender, one error decoder.

ARM, Resource Graph and Microsoft Graph answer errors in the same shape (``{"error": {"code", "message"}}``),
so the Graph adapter (preflight.azure.graph) and the audit's ARM client (preflight.audit.rest) share both
instead of each carrying its own copy. No SDK import here: this sits on the lazy-import path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

ARM = "Azure Resource Manager"
RESOURCE_GRAPH = "Azure Resource Graph"
GRAPH = "Microsoft Graph"
TRANSPORT_ERRORS = (
    "ServiceRequestError",
    "ServiceResponseError",
    "ServiceRequestTimeoutError",
    "ServiceResponseTimeoutError",
    "IncompleteReadError",
    "ConnectionError",
    "ReadTimeout",
    "ConnectTimeout",
    "SSLError",
    "ChunkedEncodingError",
)


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
    if any(
        m in low
        for m in (
            "name or service not known",
            "nodename nor servname",
            "getaddrinfo failed",
            "temporary failure in name resolution",
            "no address associated with hostname",
        )
    ):
        return f"DNS: the host name of {host} does not resolve"
    if "certificate_verify_failed" in low or "certificate verify failed" in low:
        why = _VERIFY.search(text)
        reason = why.group(1).strip() if why else "certificate verify failed"
        return (
            f"TLS: certificate not trusted for {host} ({reason}: a proxy that intercepts TLS, or a missing CA "
            "in REQUESTS_CA_BUNDLE)"
        )
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
    if code in UNEXPECTED:  # a redirect, a foreign paging link, a cap, a 2xx without the fields it needs
        return True
    if status is None:
        return code in TRANSPORT_ERRORS
    return status in (408, 429) or status >= 500 or 200 <= status < 400


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
        if code in UNEXPECTED:
            said = f"{service}: {message}"
        elif status is None:
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


def send_json(
    client: Any,
    request: Any,
    error: type[HttpError] = HttpError,
    *,
    max_body: int | None = None,
    deadline: Deadline | None = None,
) -> dict[str, Any]:
    """Send ``request`` (an azure-core ``HttpRequest``) through ``client`` (a ``PipelineClient``): the decoded
    JSON object, or ``error`` — for a transport failure, an error status, a redirect (never followed), an answer
    over the size cap, or an answer that is not an object."""
    return send_json_sized(client, request, error, max_body=max_body, deadline=deadline)[0]


def send_json_sized(
    client: Any,
    request: Any,
    error: Callable[..., HttpError] = HttpError,
    details: Callable[[Any], Any] | None = None,
    *,
    max_body: int | None = None,
    deadline: Deadline | None = None,
) -> tuple[dict[str, Any], int]:
    """:func:`send_json`, plus the size of the answer's body in bytes (what Resource Graph's response limit
    counts, so a caller can size its next page). ``details``, when given, reads extra data from an error answer
    and is passed to ``error`` as ``details=``."""
    from azure.core.exceptions import AzureError

    method, url = request.method, request.url
    try:
        response = exchange(client, request, max_body=max_body, deadline=deadline)
    except AzureError as exc:
        raise error(method, url, None, type(exc).__name__, describe_transport(exc, url)) from exc
    except RefusedRequest as exc:
        raise error(method, url, None, exc.code, exc.message) from exc
    if 300 <= response.status_code < 400:
        raise error(method, url, None, "Redirect", redirect_text(response))
    if response.status_code >= 400:
        extra = {"details": details(response)} if details is not None else {}
        raise error(method, url, response.status_code, *error_of(response), **extra)
    try:
        data = response.json()
    except ValueError as exc:
        raise error(
            method,
            url,
            response.status_code,
            "InvalidJson",
            describe_body(response.text(), response.headers.get("Content-Type")),
        ) from exc
    if not isinstance(data, dict):
        raise error(method, url, response.status_code, "InvalidJson", "the answer is not a JSON object")
    return data, len(response.content)


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


# ------------------------------------------------------------------------------------------ the client factory
#
# Issue 17 items 1-3: every REST call of the product goes through a client built by :func:`rest_client`, and
# every answer is read by :func:`exchange`. What that guarantees, whatever a server (or something posing as
# one) answers:
#   - a bearer token is attached only to the origin (scheme, host, port) the client was built for — the cloud's
#     host for that audience (from the cloud metadata), the account's endpoint for the data plane;
#   - redirects are never followed (azure-core's RedirectPolicy is not in the pipeline; its transport asks
#     ``requests`` for ``allow_redirects=False``): a 3xx is an answer, and :func:`exchange` makes it an error
#     saying where it pointed;
#   - connection and read timeouts come from the run's remaining deadline (azure-core's default read timeout is
#     300 s, and it retries), and the body is streamed with a cap on the declared and the decompressed size;
#   - paging links (ARM ``nextLink``, Graph ``@odata.nextLink``) go through :class:`Pages`: same origin as the
#     first request, no link twice, at most a page limit.

CONNECT_TIMEOUT = 10.0  # seconds: an upper bound per attempt, lowered to what is left of the run's deadline
READ_TIMEOUT = 60.0  # seconds per socket read (azure-core's default is 300 s, retried)
MAX_BODY = 32 * 1024 * 1024  # bytes per answer, declared (Content-Length) and decompressed
MAX_PAGES = 1000  # pages per listing (ARM pages hold up to 1,000 items; Graph's 100–999)
MIN_TIMEOUT = 0.5  # seconds: never ask a transport for less (a zero timeout means "no timeout" to some)
#: Error codes for answers that are not what the protocol promises (no status of their own to blame, or a 2xx
#: that cannot be used): a check that meets one says ERROR, never PASS / FAIL.
UNEXPECTED = frozenset(
    {
        "Redirect",
        "ForeignHost",
        "PageLimit",
        "PageLoop",
        "TooLarge",
        "InvalidAnswer",
        "InvalidJson",
        "NotJson",
        "DeadlinePassed",
    }
)


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, lower-cased, the port made explicit (443 for https, 80 for http)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1  # an unparsable port never equals a real origin
    if port is None:
        port = {"https": 443, "http": 80}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def origin_text(url: str) -> str:
    scheme, host, port = origin(url)
    return f"{scheme}://{host}:{port}" if port is not None else f"{scheme}://{host}"


class RefusedRequest(Exception):
    """A request preflight will not send (a token for another origin, a paging link elsewhere, past the
    deadline). Not an azure-core error on purpose: no retry policy may try it again."""

    def __init__(self, url: str, code: str, message: str) -> None:
        super().__init__(message)
        self.url = url
        self.code = code
        self.message = message


def check_origin(url: str, allowed: str, what: str = "a bearer token") -> None:
    """Raise :class:`RefusedRequest` unless ``url`` has the origin of ``allowed``."""
    if origin(url) != origin(allowed):
        raise RefusedRequest(
            url,
            "ForeignHost",
            f"refused to send {what} to {origin_text(url)}: only "
            f"{origin_text(allowed)} may receive it (the link came from the server's answer)",
        )


class Deadline:
    """The run's end (``time.monotonic()`` seconds) or None: what the timeouts of every request derive from."""

    def __init__(self, end: float | None) -> None:
        self.end = end

    def left(self) -> float | None:
        import time

        return None if self.end is None else self.end - time.monotonic()

    def timeouts(self, connect: float = CONNECT_TIMEOUT, read: float = READ_TIMEOUT) -> tuple[float, float]:
        """(connection, read) timeouts for the next attempt: the caps, lowered to the time left."""
        left = self.left()
        if left is None:
            return connect, read
        if left <= 0:
            raise RefusedRequest("", "DeadlinePassed", "the run's deadline passed: no further request is sent")
        return max(MIN_TIMEOUT, min(connect, left)), max(MIN_TIMEOUT, min(read, left))


def deadline_of(ctx: Any) -> Deadline:
    """The run's deadline from the Context's services (``deadline``: monotonic end), else none (caps only)."""
    services = getattr(ctx, "services", None) or {}
    end = services.get("deadline")
    return Deadline(float(end) if isinstance(end, int | float) else None)


def _deadline_policy(deadline: Deadline, connect: float, read: float) -> Any:
    from azure.core.pipeline.policies import SansIOHTTPPolicy

    class DeadlinePolicy(SansIOHTTPPolicy[Any, Any]):
        """Per attempt (it sits after the retry policy): timeouts from what is left of the run."""

        def on_request(self, request: Any) -> None:
            conn, rd = deadline.timeouts(connect, read)
            request.context.options["connection_timeout"] = conn
            request.context.options["read_timeout"] = rd

    return DeadlinePolicy()


def bearer_policy(credential: Any, scope: str, allowed: str) -> Any:
    """azure-core's bearer policy (with its claims-challenge handling) that attaches the token only to requests
    for the origin of ``allowed``; any other URL — a paging link, a redirect target, a misconfigured base — is
    :class:`RefusedRequest`, never sent. Also the ``authentication_policy`` of the ARM SDK clients."""
    from azure.core.pipeline.policies import BearerTokenCredentialPolicy

    class HostBoundBearerPolicy(BearerTokenCredentialPolicy[Any, Any]):
        def on_request(self, request: Any) -> None:
            check_origin(request.http_request.url, allowed)
            super().on_request(request)

    return HostBoundBearerPolicy(credential, scope)


class StaticToken:
    """A TokenCredential answering one token already fetched (the data-plane probe's), for :func:`bearer_policy`."""

    def __init__(self, access_token: str, expires_on: int) -> None:
        self._token = (access_token, expires_on)

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(*self._token)


def rest_client(
    base_url: str,
    *,
    credential: Any = None,
    scope: str | None = None,
    deadline: Deadline | None = None,
    retry: dict[str, Any] | None = None,
    max_retry_after: float = 5.0,
    verify: str | bool | None = None,
    headers: dict[str, str] | None = None,
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
) -> Any:
    """THE azure-core ``PipelineClient`` factory for every REST call preflight makes (ARM, Resource Graph,
    Microsoft Graph, the audit, the data-plane probe): JSON headers and preflight's user agent, bounded retries
    with ``Retry-After`` capped, timeouts from ``deadline``, and — with ``credential`` and ``scope`` — a bearer
    token bound to ``base_url``'s origin. No redirect policy: a 3xx comes back as an answer."""
    from azure.core import PipelineClient
    from azure.core.pipeline.policies import HeadersPolicy, UserAgentPolicy

    from preflight import __version__

    policies: list[Any] = [
        HeadersPolicy({"Accept": "application/json", **(headers or {})}),
        UserAgentPolicy(f"azure-preflight/{__version__}"),
        capped_retry_policy(max_retry_after, **(retry or {"retry_total": 2, "retry_backoff_max": 8})),
        _deadline_policy(deadline or Deadline(None), connect_timeout, read_timeout),
    ]
    if credential is not None and scope is not None:
        policies.append(bearer_policy(credential, scope, base_url))
    extra: dict[str, Any] = {} if verify is None else {"connection_verify": verify}
    return PipelineClient(base_url.rstrip("/"), policies=policies, **extra)


def sdk_kwargs(credential: Any, scope: str, base_url: str, deadline: Deadline) -> dict[str, Any]:
    """Keyword arguments for an ARM SDK management client with the same guarantees: the host-bound bearer
    policy (the SDK's pager follows ``nextLink`` through it), no redirects, timeouts from the deadline."""
    connect, read = deadline.timeouts()
    return {
        "authentication_policy": bearer_policy(credential, scope, base_url),
        "permit_redirects": False,
        "connection_timeout": connect,
        "read_timeout": read,
        "transport": capped_transport(),
    }


def capped_transport(max_body: int | None = None) -> Any:
    """An azure-core ``RequestsTransport`` whose every answer is read as a stream under the size cap (declared
    ``Content-Length`` and decompressed size, :data:`MAX_BODY` by default) — for clients whose answers are read
    inside the SDK (the ARM management clients: their pager decodes whole pages), where :func:`exchange`
    cannot stand between. An answer over the cap is :class:`RefusedRequest` (``TooLarge``), not retried."""
    import requests
    from azure.core.pipeline.transport import RequestsTransport
    from azure.core.pipeline.transport._bigger_block_size_http_adapters import BiggerBlockSizeHTTPAdapter

    class CappedAdapter(BiggerBlockSizeHTTPAdapter):
        def send(self, request: Any, stream: bool = False, **kwargs: Any) -> Any:  # type: ignore[override]
            response = super().send(request, stream=True, **kwargs)
            if stream:
                return response
            cap = MAX_BODY if max_body is None else max_body
            try:
                content = read_capped(request.url, response.headers, response.iter_content(64 * 1024), cap)
            except RefusedRequest:
                response.close()
                raise
            response._content = content
            response._content_consumed = True
            return response

    session = requests.Session()
    for prefix in ("https://", "http://"):
        session.mount(prefix, CappedAdapter())
    return RequestsTransport(session=session, session_owner=True)


class Answer:
    """A whole answer, read under the caps; the parts of azure-core's response the adapters use."""

    def __init__(self, status_code: int, headers: Any, content: bytes) -> None:
        self.status_code = status_code
        self.headers = headers
        self.content = content

    def text(self) -> str:
        return self.content.decode("utf-8-sig", errors="replace")  # as azure-core: a BOM is not content

    def json(self) -> Any:
        return json.loads(self.content.decode("utf-8-sig"))


def exchange(client: Any, request: Any, *, max_body: int | None = None, deadline: Deadline | None = None) -> Answer:
    """Send ``request`` and read the answer as a stream: more than ``max_body`` bytes — declared or after
    decompression (a gzip bomb stops at the cap) — or the deadline passing mid-body is a :class:`RefusedRequest`
    (``TooLarge`` / ``DeadlinePassed``). Transport errors propagate as azure-core raises them."""
    cap = MAX_BODY if max_body is None else max_body
    response = client.send_request(request, stream=True)
    try:
        content = read_capped(request.url, response.headers, response.iter_bytes(), cap, deadline)
        return Answer(response.status_code, response.headers, content)
    finally:
        response.close()


def read_capped(
    url: str, headers: Mapping[str, str], chunks: Iterable[bytes], cap: int, deadline: Deadline | None = None
) -> bytes:
    """A streamed body read whole, but never past ``cap`` bytes — declared (``Content-Length``: not read at all)
    or after decompression (reading stops there) — nor past the deadline: each is a :class:`RefusedRequest`
    (``TooLarge`` / ``DeadlinePassed``). The one reader of :func:`exchange` and :func:`capped_transport`."""
    declared = headers.get("Content-Length")
    if declared is not None and declared.strip().isdigit() and int(declared) > cap:
        raise RefusedRequest(
            url,
            "TooLarge",
            f"the answer declares {int(declared):,} bytes, more than the {cap:,}-byte limit (not read)",
        )
    read: list[bytes] = []
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > cap:
            raise RefusedRequest(
                url,
                "TooLarge",
                f"the answer is larger than the {cap:,}-byte limit (after decompression; reading stopped there)",
            )
        read.append(chunk)
        left = deadline.left() if deadline is not None else None
        if left is not None and left <= 0:
            raise RefusedRequest(url, "DeadlinePassed", "the run's deadline passed while the answer was still arriving")
    return b"".join(read)


def redirect_text(answer: Any) -> str:
    """What a 3xx said, for an error: where it pointed (never followed)."""
    location = answer.headers.get("Location") if answer.headers is not None else None
    where = f" to {location[:200]}" if location else " (no Location)"
    return (
        f"a redirect (HTTP {answer.status_code}){where}, not followed: preflight never sends a token on to "
        "another address"
    )


def page_values(
    page: Mapping[str, Any], url: str, error: Callable[..., HttpError] = HttpError, key: str = "value"
) -> list[dict[str, Any]]:
    """The items of one listing page: its ``value`` (Resource Graph: ``data``) must be a list — a page without
    one (``{}``, another object) is ``error`` with code ``InvalidAnswer`` saying what was received, never an
    empty listing a verdict would read as "nothing there"."""
    items = page.get(key)
    if not isinstance(items, list):
        raise error(
            "GET",
            url,
            None,
            "InvalidAnswer",
            f"answered HTTP 200 with a listing page without a {key} list (received {json.dumps(page)[:120]})",
        )
    return [v for v in items if isinstance(v, dict)]


def sdk_items(pager: Any, max_pages: int | None = None) -> Iterator[Any]:
    """The items of an azure-core ``ItemPaged`` (an ARM SDK listing), page by page, with :class:`Pages`' loop
    and page-count checks on its continuation links (the SDK follows ``nextLink`` itself; the host-bound bearer
    policy already keeps those links at home)."""
    pages = pager.by_page()
    guard: Pages | None = None
    for page in pages:
        yield from page
        token = getattr(pages, "continuation_token", None)
        if isinstance(token, str) and token:
            guard = guard or Pages(token, max_pages)
            guard.next(token)


class Pages:
    """One listing's paging links: each must have the first request's origin (a token never follows a link
    elsewhere), no link may come twice (a loop), and there are at most ``max_pages`` pages. :meth:`next`
    returns the link to fetch, or raises :class:`RefusedRequest` naming what was wrong."""

    def __init__(self, first_url: str, max_pages: int | None = None) -> None:
        self.first_url = first_url
        self.max_pages = MAX_PAGES if max_pages is None else max_pages
        self.count = 1
        self._seen: set[str] = set()

    def next(self, link: str) -> str:
        check_origin(link, self.first_url, "the next page's request (with its token)")
        if link in self._seen:
            raise RefusedRequest(
                link,
                "PageLoop",
                f"the listing's next-page link repeats an earlier one (a loop, after {self.count} pages): stopped",
            )
        if self.count >= self.max_pages:
            raise RefusedRequest(
                link,
                "PageLimit",
                f"the listing has more than {self.max_pages} pages: stopped at the limit (the answer is incomplete)",
            )
        self._seen.add(link)
        self.count += 1
        return link
