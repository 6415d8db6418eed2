"""``preflight whoami``: who am I signed in as — the fast path for onboarding engineers.

A compact view of the principal DefaultAzureCredential signs in as (type, names, ids, tenant, group count,
which credential), built from the same facts ``preflight check`` uses (token claims, then one Microsoft Graph
``$batch`` for names and groups). Graph is optional: without directory permissions the claims still answer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import click

from preflight.errors import FactError


def describe(ctx: Any) -> dict[str, Any]:
    """The whoami facts as plain data. Raises FactError when nobody is signed in."""
    from preflight.azure.facts import cloud, credential, principal
    from preflight.azure.graph import directory, group_view

    probe = ctx.get(credential)
    who = ctx.get(principal)
    out: dict[str, Any] = {
        "type": who.kind, "display_name": who.display, "object_id": who.object_id, "tenant_id": who.tenant_id,
        "app_id": who.app_id if who.kind != "user" else None, "credential": probe.name,
        "cloud": ctx.get(cloud).name, "user_principal_name": None, "groups": None, "directory": None,
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
    labels = [("type", "type"), ("display_name", "name"), ("user_principal_name", "upn"),
              ("object_id", "object id"), ("app_id", "app id"), ("tenant_id", "tenant"),
              ("groups", "groups"), ("credential", "credential"), ("directory", "directory")]
    rows = [(label, data.get(key)) for key, label in labels if data.get(key) not in (None, "")]
    if data.get("groups") is None:
        rows.append(("groups", "unknown"))
    width = max(len(label) for label, _ in rows)
    return "".join(f"{label:<{width}}  {value}\n" for label, value in rows)


@click.command("whoami")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--tenant", default=None, help="Tenant id or domain (default: AZURE_TENANT_ID).")
@click.option("--cloud", type=click.Choice(["AzureCloud", "AzureChinaCloud", "AzureUSGovernment"]), default=None)
@click.option("--cloud-metadata-url", default=None, help="Custom cloud metadata (default: ARM_CLOUD_METADATA_URL).")
@click.option("-v", "--verbose", is_flag=True, help="Tracebacks on errors.")
def whoami(fmt: str, tenant: str | None, cloud: str | None, cloud_metadata_url: str | None, verbose: bool) -> int:
    """Who am I signed in as: type, names, ids, tenant, groups count, which credential.

    Exit 0 when signed in, 1 when no credential can sign in, 2 on bad input."""
    from preflight.context import Context
    from preflight.redact import Redactor
    from preflight.release import close_context, end_context
    from preflight.target import build_target

    environ = dict(os.environ)
    target = build_target(environ, cloud=cloud, cloud_metadata_url=cloud_metadata_url, tenant=tenant)
    ctx = Context(target)
    redactor = Redactor.from_environ(environ)
    try:
        data = describe(ctx)
    except FactError as exc:
        end_context(ctx)
        message = redactor.value(exc.message)
        fix = redactor.value(exc.remediation) if exc.remediation else None
        if fmt == "json":
            click.echo(json.dumps({"signed_in": False, "error": message, "fix": fix}, indent=2))
        else:
            click.echo(f"not signed in: {message}", err=True)
            if fix:
                click.echo(f"  fix: {fix}", err=True)
        return 1
    except BaseException:
        close_context(ctx)
        raise
    end_context(ctx)
    data = redactor.value({"signed_in": True, **data})
    click.echo(json.dumps(data, indent=2) if fmt == "json" else render_table(data), nl=fmt == "json")
    return 0
