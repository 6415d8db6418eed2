"""What a sign-in's failure and a token say, read without I/O: the token endpoint's JSON error body behind an
azure-identity exception, a link's failure through the AADSTS knowledge base, a 401's claims challenge, a probe
token's claims (decoded, never verified or printed). Pure; the facts and the sign-in checks share it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from preflight.aadsts import AadstsInfo


class LinkOutcome(Protocol):
    """What these helpers read of a credential link's probe (``preflight.azure.chain.LinkProbe``)."""

    @property
    def error(self) -> BaseException | None: ...

    @property
    def message(self) -> str: ...

    @property
    def token(self) -> Any: ...


def error_body(exc: BaseException) -> Mapping[str, Any] | None:
    """The token endpoint's JSON error body when the SDK attached the response (workload identity does)."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    try:
        body = json_or_none(response.text())
    except (AttributeError, TypeError, ValueError):
        return None
    return body if isinstance(body, Mapping) else None


def classify_probe_error(probe: LinkOutcome) -> AadstsInfo | None:
    """A link's failure through the AADSTS knowledge base: the token endpoint's body (``error_codes``) when the
    SDK attached it, else the exception's message (azure-identity's text, or ``az`` stderr for the CLI)."""
    from preflight.aadsts import classify_error

    body = error_body(probe.error) if probe.error is not None else None
    if body is not None and (info := classify_error(body)) is not None:
        return info
    return classify_error(probe.message)


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (azure-core's ``message`` when it has one)."""
    text = getattr(exc, "message", None) or str(exc)
    return " ".join(str(text).split())


_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


def claims_challenge(www_authenticate: str) -> str | None:
    """The ``claims`` of a 401's ``WWW-Authenticate: Bearer … error="insufficient_claims", claims="…"`` (a
    Conditional Access / CAE claims challenge), or ``None`` when the header carries no such challenge (pure).
    An ``insufficient_claims`` error without a claims value returns an empty string: still a challenge."""
    params: dict[str, str] = {k.lower(): v for k, v in _CHALLENGE_PARAM.findall(www_authenticate or "")}
    if params.get("error") != "insufficient_claims":
        return None
    return params.get("claims", "")


def json_or_none(text: str) -> Any:
    """The JSON value of ``text``, or None when it is not JSON."""
    import json

    try:
        return json.loads(text)
    except ValueError:
        return None


def probe_claims(probe: LinkOutcome) -> dict[str, Any]:
    """The decoded claims of a link probe's token (empty when it has none or it is not a JWT)."""
    from preflight.claims import ClaimsError, decode_claims

    if probe.token is None:
        return {}
    try:
        return decode_claims(probe.token.token)
    except ClaimsError:
        return {}
