"""What every explanation ends with: the check that verifies the fix, the least-privilege built-in role for an
action, and the role assignment command — shared by the ARM and data-plane readings, kept in one place so a
recommendation never has two sources."""

from __future__ import annotations

import re
from dataclasses import dataclass

from preflight.explain.model import Explanation, Fragment, Source
from preflight.guid import GUID_PATTERN as GUID

_PRINCIPAL = re.compile(rf"(?:principal|object id)\s*[`'\"]?({GUID})", re.IGNORECASE)

# The `preflight check --only …` that shows a fix worked, by category (docs/explain.md lists them).
VERIFY: dict[str, str] = {
    "permission_denied": "preflight check --only rbac.data-action,rbac.deny,access.probe --probe",
    "audience": "preflight check --only tokens.scope,access.probe --probe",
    "tenant": "preflight check --only signin.tenants,tokens.scope,access.probe --probe",
    "custom_subdomain": "preflight check --only resource.endpoint,access.probe --probe",
    "keys_disabled": "preflight check --only resource.endpoint,rbac.data-action,access.probe --probe",
    "network": "preflight check --only resource.endpoint,access.probe --probe",
    "invalid_key": "preflight check --only env.config,resource.endpoint",
    "gateway_key": "preflight check --only resource.endpoint,access.probe --probe",
    "throttled": "preflight check --only access.probe --probe",
    "not_found": "preflight check --only resource.endpoint,access.probe --probe",
    "authorization_failed": "preflight check --only rbac.data-action,rbac.deny,rbac.propagation",
    "token_tenant": "preflight check --only signin.tenants,tokens.scope",
    "token_expired": "preflight check --only signin.chain,tokens.scope",
    "token_audience": "preflight check --only tokens.scope",
    "linked_authorization_failed": "preflight check --only signin.tenants,rbac.data-action",
    "credential_unavailable": "preflight check --only signin.chain",
    "credential_failed": "preflight check --only signin.chain,signin.identity",
    "entra": "preflight check --only signin.chain,signin.identity",
    "conditional_access": "preflight check --only signin.chain,access.conditional-access",
    "unknown": "preflight check",
}


def least_privilege_role(action: str, data_action: bool) -> tuple[str, str] | None:
    """The least-privilege built-in role granting ``action`` as (role definition GUID, name), or None.

    The one place the recommendation comes from: all built-in role definitions, shipped compact with the package
    (:mod:`preflight.builtin_roles`), ranked by how many known operations each grants, under Azure's matching
    rules — after the role a profile names for its own required actions. None (the command keeps a ``<ROLE>``
    placeholder) when no built-in role grants it."""
    from preflight.builtin_roles import least_privilege_role as smallest
    from preflight.profiles import profiles

    wanted = action.lower()
    for profile in profiles().values():  # the roles Microsoft's guides name for these uses come first: the
        # catalogue's strict minimum can be a service's own role (e.g. "Defender CSPM" reads agents)
        if any(r.action.lower() == wanted and r.data == data_action for r in profile.requirements):
            return profile.role_id, profile.role_name
    found = smallest(action, data_action=data_action)
    return (found.guid, found.name) if found is not None else None


def assign_command(principal: str | None, role: tuple[str, str] | None, scope: str | None) -> str:
    """The assignment command; what the text does not say stays a ``<PLACEHOLDER>`` the user fills in."""
    return (
        f"az role assignment create --assignee-object-id {principal or '<PRINCIPAL_ID>'} "
        f"--role {role[0] if role else '<ROLE>'} --scope {scope or '<SCOPE>'}"
    )


def principal_in(text: str) -> str | None:
    """The object id a refusal names ("The principal `…`", "with object id '…'"), for the assignment command."""
    match = _PRINCIPAL.search(text)
    return match.group(1) if match else None


@dataclass(frozen=True, slots=True)
class RoleFix:
    """The fix for a refused action: the least-privilege built-in role granting it (None when none does or the
    text names no action), the principal the refusal names, the assignment command, and how the fix names the
    role (``describe``)."""

    role: tuple[str, str] | None
    principal: str | None
    command: str
    describe: str


def role_fix(message: str, action: str | None, scope: str | None, *, data_action: bool, no_role: str) -> RoleFix:
    """The :class:`RoleFix` for ``action`` at ``scope`` refused with ``message``; ``no_role`` names the role when
    no built-in one is known."""
    role = least_privilege_role(action, data_action=data_action) if action else None
    principal = principal_in(message)
    describe = f"the built-in role {role[1]} ({role[0]})" if role else no_role
    return RoleFix(role, principal, assign_command(principal, role, scope), describe)


def from_fragment(
    fragment: Fragment,
    source: Source,
    category: str,
    title: str,
    cause: str,
    fix: str,
    *,
    rank: int,
    code: str | None = None,
    commands: tuple[str, ...] = (),
    docs: str | None = None,
) -> Explanation:
    """An explanation that keeps the fragment's own evidence — its code (else ``code``, the one its service uses
    for this error), status and the first 600 characters of its message — with the check that verifies the fix
    for ``category``."""
    return Explanation(
        category,
        source,
        title,
        cause,
        fix,
        VERIFY[category],
        code=fragment.code if code is None else (fragment.code or code),
        status=fragment.status,
        message=fragment.message[:600],
        commands=commands,
        docs=docs,
        rank=rank,
    )


def unknown(fragment: Fragment, source: Source) -> Explanation:
    """A recognised Azure error whose cause preflight does not know (exit 1): the service's words are kept and
    the full run of checks is the way forward."""
    return from_fragment(
        fragment,
        source,
        "unknown",
        f"Unrecognised error{f' {fragment.code}' if fragment.code else ''}",
        "preflight recognises this as an Azure error but does not know its cause.",
        "run the checks, which look at the sign-in, the token, the roles and the resource",
        rank=90,
    )
