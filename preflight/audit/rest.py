"""A minimal azure-core REST client for the audit: bearer auth, bounded retries, JSON in and out.

The audit moves tens of thousands of rows through a few dozen requests, so it talks REST directly (plain dicts,
no SDK model objects per row) through one ``PipelineClient`` per audience. azure-core's own retry policy obeys
``Retry-After`` with no upper bound; the shared capped retry policy (preflight.azure.http) caps it so a hostile
or buggy value cannot stall an audit for an hour, while still honouring ordinary throttling answers (429 / 503
with ``Retry-After``).

Only ARM GETs and the read-only Resource Graph POST query go through here; Microsoft Graph goes through the
shared pipeline of :mod:`preflight.azure.graph`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from preflight.azure.http import (
    Deadline,
    HttpError,
    Pages,
    RefusedRequest,
    page_values,
    rest_client,
    send_json_sized,
)

MAX_RETRY_AFTER = 10.0  # seconds; longer Retry-After values are shortened to this
RETRY_TOTAL = 4


class RestError(HttpError):
    """A request to ARM or Resource Graph that failed for good (after retries). ``details`` are the codes of
    ``error.details`` (Resource Graph says what went wrong there: ``InvalidQuery``, ``ResponsePayloadTooLarge``
    under a generic ``BadRequest``)."""

    def __init__(
        self,
        method: str,
        url: str,
        status: int | None,
        code: str | None,
        message: str,
        details: tuple[tuple[str, str], ...] = (),
    ) -> None:
        super().__init__(method, url, status, code, message)
        self.details = details  # (code, message) of each entry of error.details

    def has_detail(self, code: str) -> bool:
        return any(c == code for c, _ in self.details)

    def detail_message(self, code: str) -> str:
        return next((m for c, m in self.details if c == code), "")


def _details(response: Any) -> tuple[tuple[str, str], ...]:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ()
    details = error.get("details") if isinstance(error, dict) else None
    return tuple(
        (str(d["code"]), str(d.get("message") or "")[:500])
        for d in details or []
        if isinstance(d, dict) and d.get("code")
    )


RETRY = {
    "retry_total": RETRY_TOTAL,
    "retry_backoff_factor": 0.2,
    "retry_backoff_max": 4,
    "retry_on_methods": ["GET", "POST"],
}  # our POSTs are read-only queries: safe to repeat


class RestClient:
    """JSON over ARM (and Resource Graph) with a bearer token from ``credential``, bound to ``base_url``'s host
    (preflight.azure.http.rest_client: no redirects, timeouts from ``deadline``, answers under a size cap)."""

    def __init__(
        self,
        base_url: str,
        credential: Any,
        scope: str,
        *,
        verify: str | bool = True,
        max_retry_after: float = MAX_RETRY_AFTER,
        deadline: Deadline | None = None,
        max_body: int | None = None,
        max_pages: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.deadline = deadline or Deadline(None)
        self.max_body = max_body
        self.max_pages = max_pages
        self._client: Any = rest_client(
            self.base_url,
            credential=credential,
            scope=scope,
            deadline=self.deadline,
            retry=RETRY,
            max_retry_after=max_retry_after,
            verify=verify,
        )

    def url(self, path: str) -> str:
        return path if path.startswith(("https://", "http://")) else self.base_url + path

    def request(
        self, method: str, path: str, params: Mapping[str, str] | None = None, body: Any = None
    ) -> dict[str, Any]:
        """One call; the decoded JSON object, or :class:`RestError` (also for transport failures)."""
        return self.request_sized(method, path, params, body)[0]

    def request_sized(
        self, method: str, path: str, params: Mapping[str, str] | None = None, body: Any = None
    ) -> tuple[dict[str, Any], int]:
        """Like :meth:`request`, plus the size of the answer's body in bytes (what Resource Graph's response
        limit counts), so a caller can size its next page."""
        from azure.core.rest import HttpRequest

        request = HttpRequest(
            method, self.url(path), params=dict(params or {}), json=body if body is not None else None
        )
        return send_json_sized(
            self._client, request, RestError, details=_details, max_body=self.max_body, deadline=self.deadline
        )

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self.request("GET", path, params)

    def post(self, path: str, body: Any, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self.request("POST", path, params, body)

    def pages(
        self, path: str, params: Mapping[str, str] | None = None, next_key: str = "nextLink"
    ) -> Iterator[list[dict[str, Any]]]:
        """The ``value`` of each page, following absolute ``nextLink`` / ``@odata.nextLink`` URLs (which carry
        their own query, so ``params`` apply to the first request only) — only on the first request's origin,
        never a link twice, at most ``max_pages`` pages: anything else is a :class:`RestError` naming the host
        or the limit, and no request (preflight.azure.http.Pages)."""
        guard = Pages(self.url(path), self.max_pages)
        page = self.get(path, params)
        while True:
            yield page_values(page, self.url(path), RestError)
            link = page.get(next_key)
            if not isinstance(link, str) or not link:
                return
            try:
                guard.next(link)
            except RefusedRequest as exc:
                raise RestError("GET", self.url(path), None, exc.code, exc.message) from exc
            page = self.get(link)
