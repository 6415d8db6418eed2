"""Shared Azure REST plumbing: the capped retry policy, one failure type, one sender, one error decoder.

ARM, Resource Graph and Microsoft Graph answer errors in the same shape (``{"error": {"code", "message"}}``),
so the Graph adapter (preflight.azure.graph) and the audit's ARM client (preflight.audit.rest) share both
instead of each carrying its own copy. No SDK import here: this sits on the lazy-import path.
"""

from __future__ import annotations

import json
from typing import Any


class HttpError(Exception):
    """A request that failed for good (after retries): the HTTP status (None: transport) and the error code."""

    def __init__(self, method: str, url: str, status: int | None, code: str | None, message: str) -> None:
        super().__init__(f"{method} {url.split('?', 1)[0]}: {status or ''} {code or ''} {message}".replace("  ", " "))
        self.status = status
        self.code = code
        self.message = message


def capped_retry_policy(max_retry_after: float, **retry: Any) -> Any:
    """azure-core's RetryPolicy (``retry`` its keyword arguments) with ``Retry-After`` capped at
    ``max_retry_after`` seconds: azure-core obeys it without an upper bound, so a hostile or buggy value could
    stall a run for an hour, while ordinary throttling answers (429 / 503 with Retry-After) are still honoured."""
    from azure.core.pipeline.policies import RetryPolicy

    class CappedRetryPolicy(RetryPolicy):  # type: ignore[misc]
        def get_retry_after(self, response: Any) -> float | None:
            value = super().get_retry_after(response)
            return None if value is None else min(float(value), max_retry_after)

    return CappedRetryPolicy(**retry)


def send_json(client: Any, request: Any, error: type[HttpError] = HttpError) -> dict[str, Any]:
    """Send ``request`` (an azure-core ``HttpRequest``) through ``client`` (a ``PipelineClient``): the decoded
    JSON object, or ``error`` — for a transport failure, an error status, or an answer that is not an object."""
    from azure.core.exceptions import AzureError

    method, url = request.method, request.url
    try:
        response = client.send_request(request)
    except AzureError as exc:
        raise error(method, url, None, type(exc).__name__, str(exc).splitlines()[0]) from exc
    if response.status_code >= 400:
        raise error(method, url, response.status_code, *error_of(response))
    try:
        data = response.json()
    except ValueError as exc:
        raise error(method, url, response.status_code, "InvalidJson", f"the answer is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise error(method, url, response.status_code, "InvalidJson", "the answer is not a JSON object")
    return data


def error_of(response: Any) -> tuple[str | None, str]:
    """(code, message) of an error answer: Azure's ``{"error": {...}}`` shape, else the start of the body."""
    try:
        data = response.json()
    except ValueError:
        return None, (response.text() or "")[:200]
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict):
        return error.get("code"), str(error.get("message") or "")[:500]
    return None, json.dumps(data)[:200]
