"""A minimal azure-core REST client for the audit: bearer auth, bounded retries, JSON in and out.

The audit moves tens of thousands of rows through a few dozen requests, so it talks REST directly (plain dicts,
no SDK model objects per row) through one ``PipelineClient`` per audience. azure-core's own retry policy obeys
``Retry-After`` with no upper bound; :class:`CappedRetryPolicy` caps it so a hostile or buggy value cannot stall
an audit for an hour, while still honouring ordinary throttling answers (429 / 503 with ``Retry-After``).

Only GETs and the read-only POST queries (Resource Graph, ``directoryObjects/getByIds``) go through here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

MAX_RETRY_AFTER = 10.0  # seconds; longer Retry-After values are shortened to this
RETRY_TOTAL = 4


class RestError(Exception):
    """A request that failed for good (after retries): the HTTP status and the service's error code."""

    def __init__(self, method: str, url: str, status: int | None, code: str | None, message: str) -> None:
        super().__init__(f"{method} {url.split('?', 1)[0]}: {status or ''} {code or ''} {message}".replace("  ", " "))
        self.status = status
        self.code = code
        self.message = message


def _capped_retry_policy(max_retry_after: float) -> Any:
    from azure.core.pipeline.policies import RetryPolicy

    class CappedRetryPolicy(RetryPolicy):  # type: ignore[misc]
        """azure-core's RetryPolicy with ``Retry-After`` capped (see the module docstring)."""

        def get_retry_after(self, response: Any) -> float | None:
            value = super().get_retry_after(response)
            return None if value is None else min(float(value), max_retry_after)

    return CappedRetryPolicy(retry_total=RETRY_TOTAL, retry_backoff_factor=0.2, retry_backoff_max=4,
                             retry_on_methods=["GET", "POST"])  # our POSTs are read-only queries: safe to repeat


class RestClient:
    """JSON over one audience (ARM or Microsoft Graph) with a bearer token from ``credential``."""

    def __init__(self, base_url: str, credential: Any, scope: str, *, verify: str | bool = True,
                 max_retry_after: float = MAX_RETRY_AFTER) -> None:
        from azure.core import PipelineClient
        from azure.core.pipeline.policies import (
            BearerTokenCredentialPolicy,
            HeadersPolicy,
            UserAgentPolicy,
        )

        from preflight import __version__

        self.base_url = base_url.rstrip("/")
        policies = [
            HeadersPolicy({"Accept": "application/json"}),
            UserAgentPolicy(user_agent=f"azure-preflight/{__version__}"),
            _capped_retry_policy(max_retry_after),
            BearerTokenCredentialPolicy(credential, scope),
        ]
        self._client: Any = PipelineClient(self.base_url, policies=policies, connection_verify=verify)

    def url(self, path: str) -> str:
        return path if path.startswith(("https://", "http://")) else self.base_url + path

    def request(self, method: str, path: str, params: Mapping[str, str] | None = None,
                body: Any = None) -> dict[str, Any]:
        """One call; the decoded JSON object, or :class:`RestError` (also for transport failures)."""
        from azure.core.exceptions import AzureError
        from azure.core.rest import HttpRequest

        url = self.url(path)
        request = HttpRequest(method, url, params=dict(params or {}),
                              json=body if body is not None else None)
        try:
            response = self._client.send_request(request)
        except AzureError as exc:
            raise RestError(method, url, None, type(exc).__name__, str(exc).splitlines()[0]) from exc
        if response.status_code >= 400:
            code, message = _error_of(response)
            raise RestError(method, url, response.status_code, code, message)
        try:
            data = response.json()
        except (ValueError, json.JSONDecodeError) as exc:
            raise RestError(method, url, response.status_code, "InvalidJson", f"the answer is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise RestError(method, url, response.status_code, "InvalidJson", "the answer is not a JSON object")
        return data

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self.request("GET", path, params)

    def post(self, path: str, body: Any, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        return self.request("POST", path, params, body)

    def pages(self, path: str, params: Mapping[str, str] | None = None,
              next_key: str = "nextLink") -> Iterator[list[dict[str, Any]]]:
        """The ``value`` of each page, following absolute ``nextLink`` / ``@odata.nextLink`` URLs (which carry
        their own query, so ``params`` apply to the first request only)."""
        page = self.get(path, params)
        while True:
            yield [v for v in page.get("value") or [] if isinstance(v, dict)]
            link = page.get(next_key)
            if not isinstance(link, str) or not link:
                return
            page = self.get(link)


def _error_of(response: Any) -> tuple[str | None, str]:
    """ARM (``{"error": {"code", "message"}}``) and Graph share this error shape."""
    try:
        data = response.json()
    except ValueError:
        return None, (response.text() or "")[:200]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return error.get("code"), str(error.get("message") or "")[:500]
    return None, json.dumps(data)[:200]
