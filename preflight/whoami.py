"""``preflight whoami``: who am I signed in as — the fast path for onboarding engineers.

A compact view of the principal DefaultAzureCredential signs in as (type, names, ids, tenant, group count,
which credential), built from the same facts ``preflight check`` uses (token claims, then one Microsoft Graph
``$batch`` for names and groups). Graph is optional: without directory permissions the claims still answer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from preflight.errors import FactError
from preflight.shell import (
    CONTEXT_SETTINGS,
    CloudFlags,
    Display,
    answer_format_option,
    cloud_options,
    common_options,
    print_stdout,
)

if TYPE_CHECKING:
    from preflight.context import Context
    from preflight.redact import Redactor


def describe(ctx: Context) -> dict[str, Any]:
    """The whoami facts as plain data. Raises FactError when nobody is signed in."""
    from preflight.azure.facts import cloud, credential, principal
    from preflight.azure.graph import directory, group_view

    probe = ctx.get(credential)
    who = ctx.get(principal)
    out: dict[str, Any] = {
        "type": who.kind,
        "display_name": who.display,
        "object_id": who.object_id,
        "tenant_id": who.tenant_id,
        "app_id": who.app_id if who.kind != "user" else None,
        "credential": probe.name,
        "cloud": ctx.get(cloud).name,
        "user_principal_name": None,
        "groups": None,
        "directory": None,
    }
    try:
        view = ctx.get(directory)
    except FactError as exc:
        out["directory"] = exc.message
        return out
    main = view.parts.get("user") if who.kind == "user" else view.parts.get("servicePrincipal")
    if main is not None and main.ok:
        body = main.body or {}
        out["display_name"] = body.get("displayName") or out["display_name"]
        if who.kind == "user":
            out["user_principal_name"] = body.get("userPrincipalName")
            out["user_type"] = body.get("userType")
        else:
            out["service_principal_type"] = body.get("servicePrincipalType")
            out["app_owner_tenant"] = body.get("appOwnerOrganizationId")
    elif main is not None:
        out["directory"] = f"{main.status} {main.code or ''}".strip()
    groups = view.parts.get("groups")
    if groups is not None and groups.ok:
        names, roles = group_view(groups.values())
        out["groups"] = len(names)
        out["directory_roles"] = len(roles)
    elif groups is not None:
        out["groups"] = None
        out["directory"] = out["directory"] or f"groups unreadable ({groups.status} {groups.code or ''})".strip()
    return out


def render_table(data: Mapping[str, Any]) -> str:
    labels = [
        ("type", "type"),
        ("display_name", "name"),
        ("user_principal_name", "upn"),
        ("object_id", "object id"),
        ("app_id", "app id"),
        ("tenant_id", "tenant"),
        ("groups", "groups"),
        ("credential", "credential"),
        ("directory", "directory"),
    ]
    rows = [(label, data.get(key)) for key, label in labels if data.get(key) not in (None, "")]
    if data.get("groups") is None:
        rows.append(("groups", "unknown"))
    width = max(len(label) for label, _ in rows)
    return "".join(f"{label:<{width}}  {value}\n" for label, value in rows)


@click.command("whoami", context_settings=CONTEXT_SETTINGS)
@answer_format_option
@cloud_options
@common_options
def whoami(fmt: str, cloud: CloudFlags, display: Display) -> int:
    """Who am I signed in as: type, names, ids, tenant, groups count, which credential.

    Exit 0 when signed in, 1 when no credential can sign in, 2 on bad input."""
    from preflight.run import session
    from preflight.target import build_target

    environ = dict(os.environ)
    target = build_target(environ, **cloud.target_args())
    with session(target) as active:
        try:
            data = describe(active.ctx)
        except FactError as exc:
            failure: FactError | None = exc
        else:
            failure = None
    if failure is not None:
        return _not_signed_in(failure, fmt, active.redactor)
    data = active.redactor.value({"signed_in": True, **data})
    print_stdout(json.dumps(data, indent=2) + "\n" if fmt == "json" else render_table(data))
    return 0


def _not_signed_in(exc: FactError, fmt: str, redactor: Redactor) -> int:
    """Exit 1 with the reason: the JSON answer on stdout, or the reason (and fix) on stderr for people."""
    message = redactor.value(exc.message)
    fix = redactor.value(exc.remediation) if exc.remediation else None
    if fmt == "json":
        print_stdout(json.dumps({"signed_in": False, "error": message, "fix": fix}, indent=2) + "\n")
    else:
        click.echo(f"not signed in: {message}", err=True)
        if fix:
            click.echo(f"  fix: {fix}", err=True)
    return 1
