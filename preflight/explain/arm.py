"""ARM's refusals, read by error code first and ARM's own wording second: AuthorizationFailed (with the action,
scope and principal it names), a token from the wrong tenant, expired or for the wrong audience, and a refusal
on a linked resource."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace

from preflight.chain import login_command
from preflight.explain.advice import from_fragment, role_fix
from preflight.explain.model import Explanation, Fragment, Source
from preflight.guid import GUID_PATTERN as GUID

_ARM_ACTION = re.compile(r"perform action '([^']+)'(?: (?:over|on) scope '([^']+)')?", re.IGNORECASE)
_TENANT_IN_ISSUER = re.compile(rf"must match the tenant '[^']*?({GUID})", re.IGNORECASE)
_LINKED_SUBSCRIPTION = re.compile(rf"linked subscription '({GUID})'", re.IGNORECASE)
_ARM_ERRORS_DOCS = "https://learn.microsoft.com/azure/azure-resource-manager/troubleshooting/common-deployment-errors"


def read_arm(fragment: Fragment) -> Explanation | None:
    """ARM's explanation of the fragment, or None when it is not one of ARM's refusals."""
    code, message = fragment.code or "", fragment.message
    low = message.lower()
    rule = next((handler for test, handler in _ARM_RULES if test(code, low)), None)
    return rule(fragment) if rule is not None else None


def _authorization_failed(fragment: Fragment) -> Explanation:
    found = _ARM_ACTION.search(fragment.message)
    action, scope = (found.group(1), found.group(2)) if found else (None, None)
    fix = role_fix(
        fragment.message,
        action,
        scope,
        data_action=False,
        no_role="a built-in role granting it (least privilege: the role with the fewest actions that includes it)",
    )
    explanation = _arm(
        fragment,
        "authorization_failed",
        f"ARM refused {action or 'an action'}",
        f"No role assigned to the principal grants {action or 'the action'} at {scope or 'that scope'} or above "
        "(or the scope does not exist). A role assigned minutes ago may not be effective yet.",
        f"assign {fix.describe} at the scope, then sign in again to refresh the token",
        code="AuthorizationFailed",
        rank=5,
        commands=(fix.command,),
    )
    return replace(explanation, action=action, scope=scope, principal=fix.principal, role=fix.role)


def _token_tenant(fragment: Fragment) -> Explanation:
    found = _TENANT_IN_ISSUER.search(fragment.message)
    tenant = found.group(1) if found else None
    return _arm(
        fragment,
        "token_tenant",
        "Token from the wrong tenant",
        "The access token was issued by another tenant than the one the subscription belongs to (a guest account, "
        "or a CLI signed in to its home tenant).",
        f"sign in to the subscription's tenant{f' ({tenant})' if tenant else ''} and retry",
        code="InvalidAuthenticationTokenTenant",
        rank=8,
        commands=(login_command(tenant),),
    )


def _token_expired(fragment: Fragment) -> Explanation:
    return _arm(
        fragment,
        "token_expired",
        "Expired access token",
        "ARM received a token past its expiry: a cached token was reused (a long-running process, a token copied "
        "into a variable) instead of asking the credential for a fresh one.",
        "let the SDK's credential fetch tokens on each call instead of caching one; for the CLI, sign in again",
        code="ExpiredAuthenticationToken",
        rank=8,
        commands=("az account get-access-token --output none",),
    )


def _token_audience(fragment: Fragment) -> Explanation:
    explanation = _arm(
        fragment,
        "token_audience",
        "Token for another audience",
        "ARM accepts only tokens for https://management.azure.com/ — this one was requested for another resource "
        "(e.g. the Cognitive Services scope).",
        "request the token for the scope https://management.azure.com/.default",
        code="InvalidAuthenticationTokenAudience",
        rank=8,
    )
    return replace(explanation, expected_audience="https://management.azure.com/")


def _linked(fragment: Fragment) -> Explanation:
    found = _ARM_ACTION.search(fragment.message)
    linked = _LINKED_SUBSCRIPTION.search(fragment.message)
    explanation = _arm(
        fragment,
        "linked_authorization_failed",
        "Refused on a linked resource",
        "You may perform the action on the resource itself, but it references another resource (a subnet, an "
        "identity, an image) in a scope or tenant where you lack the linked permission"
        + (f" (linked subscription {linked.group(1)})" if linked else "")
        + ".",
        "get the linked permission on the referenced resource (e.g. .../join/action or .../assign/action), or sign "
        "in with an account of the tenant that owns the linked subscription",
        code="LinkedAuthorizationFailed",
        rank=6,
    )
    return replace(explanation, action=found.group(1) if found else None, scope=found.group(2) if found else None)


def _arm(
    fragment: Fragment,
    category: str,
    title: str,
    cause: str,
    fix: str,
    *,
    code: str,
    rank: int,
    commands: tuple[str, ...] = (),
) -> Explanation:
    """One of ARM's refusals: ``code`` is ARM's for it (a fragment without one gets it), the docs its errors page."""
    return from_fragment(
        fragment,
        Source.ARM,
        category,
        title,
        cause,
        fix,
        rank=rank,
        code=code,
        commands=commands,
        docs=_ARM_ERRORS_DOCS,
    )


_ARM_RULES: tuple[tuple[Callable[[str, str], bool], Callable[[Fragment], Explanation]], ...] = (
    (
        lambda code, low: code == "LinkedAuthorizationFailed" or "linked subscription" in low or "linked scope" in low,
        _linked,
    ),
    (
        lambda code, low: code == "AuthorizationFailed" or "does not have authorization to perform action" in low,
        _authorization_failed,
    ),
    (
        lambda code, low: code == "InvalidAuthenticationTokenTenant" or "access token is from the wrong issuer" in low,
        _token_tenant,
    ),
    (
        lambda code, low: (
            code == "ExpiredAuthenticationToken" or "lifetime validation failed, the token is expired" in low
        ),
        _token_expired,
    ),
    (
        lambda code, low: (
            code == "InvalidAuthenticationTokenAudience" or "access token has been obtained for wrong audience" in low
        ),
        _token_audience,
    ),
)
