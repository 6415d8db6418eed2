"""``preflight can-i ACTION``: an Azure ``kubectl auth can-i`` — may this principal perform this action here?

Exit 0 allowed, 1 not allowed (denied, conditional or not granted), 2 bad input, 3 could not decide (the answer
is still printed: ``allowed: null`` and the reason in JSON, ``undecided: <reason>`` in the table).

Which plane the action belongs to (``actions`` vs ``dataActions`` — they never grant each other) comes from
Azure's operation metadata (``isDataAction``), see :mod:`preflight.operations`: ``--data-action`` /
``--control-action``; else the shipped catalogue; else ARM's provider operations for the namespace; else, said
so in the answer, the role-pattern rule.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import click

from preflight import shell
from preflight.errors import ConfigError, FactError, TargetError
from preflight.guid import GUID_PATTERN

if TYPE_CHECKING:
    from preflight.context import Context
    from preflight.rbac import AppliedAssignment, RoleDefinition
    from preflight.redact import Redactor
    from preflight.verdict import Verdict

# Provider.Namespace/type[/…]/operation — every Azure operation ends in read, write, delete or action.
ACTION = re.compile(
    r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9]+)+(/[A-Za-z0-9_.\-]+)*/(read|write|delete|action)$", re.IGNORECASE
)
SCOPE = re.compile(
    r"^/$|^/providers/Microsoft\.Management/managementGroups/[^/]+$"
    rf"|^/subscriptions/{GUID_PATTERN}(/resourceGroups/[^/]+(/providers/[^/]+(/[^/]+/[^/]+)+)?)?$",
    re.IGNORECASE,
)
PRINCIPAL_TYPES = {"user": "User", "servicePrincipal": "ServicePrincipal", "managedIdentity": "ServicePrincipal"}
EXAMPLE = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"


@dataclass(frozen=True, slots=True)
class Answer:
    """Everything ``can-i`` prints, in both formats."""

    verdict: Verdict
    scope: str
    principal_id: str
    principal_type: str
    plane_reason: str
    fix: str | None
    notes: tuple[str, ...]

    @property
    def allowed(self) -> bool | None:
        """True / False when decided; None when no source could decide or the sources disagree."""
        return None if self.verdict.status in ("undecided", "disputed") else self.verdict.allowed

    @property
    def explanation(self) -> str:
        """The verdict in plain words: the role-assignment evaluation's when it spoke, else what did."""
        v, head = self.verdict, f"'{self.verdict.action}' at {self.scope}"
        if (
            v.decision is not None
            and v.status in ("granted", "denied", "conditional")
            and v.decision.status == v.status
        ):
            return v.decision.explanation
        if v.decision is not None and v.status == "not-granted" and v.decision.status == "not-granted":
            return v.decision.explanation
        return {
            "granted": f"Granted: ARM's effective permissions include {head}.",
            "not-granted": f"Not granted: ARM's effective permissions do not include {head}.",
            "conditional": f"Conditional: {head} is granted only under an ABAC condition that cannot be evaluated "
            "offline.",
            "disputed": f"Undecided: the sources disagree about {head} — the role assignments say "
            f"{v.decision.status if v.decision else 'nothing'}, ARM's effective permissions say "
            f"{v.effective or 'nothing'}.",
            "undecided": f"Undecided: no source could be read to decide {head}.",
        }.get(v.status, f"{v.status}: {head}")

    def to_json(self) -> dict[str, Any]:
        """The documented JSON contract (exactly these keys; ``allowed`` is null when undecided)."""
        d = self.verdict.decision
        return {
            "allowed": self.allowed,
            "action": self.verdict.action,
            "scope": self.scope,
            "principal": {"id": self.principal_id, "type": self.principal_type},
            "grantedBy": [_grant(a) for a in d.granted_by] if d else [],
            "deniedBy": [{"denyAssignmentId": x.id, "name": x.name, "scope": x.scope} for x in d.denied_by]
            if d
            else [],
            "conditional": [{**_grant(a), "condition": a.assignment.condition} for a in d.conditional] if d else [],
            "decidedBy": list(self.verdict.decided_by),
            "unread": [
                {"source": u.source, "permission": u.permission, "reason": u.reason} for u in self.verdict.unread
            ],
            "reason": " ".join([self.explanation, *(n if n.endswith(".") else f"{n}." for n in self.notes)]),
        }


def _grant(applied: AppliedAssignment) -> dict[str, Any]:
    full = applied.as_evidence()
    return {k: full[k] for k in ("roleAssignmentId", "roleDefinitionId", "roleName", "scope", "viaGroup")}


def validate_action(action: str) -> str:
    """A concrete Azure operation name; raises ConfigError (exit 2) otherwise."""
    action = action.strip()
    if "*" in action:
        raise ConfigError(
            f"{action!r} contains a wildcard: ask about one concrete operation", remediation=f"e.g. {EXAMPLE}"
        )
    if not ACTION.match(action):
        raise ConfigError(
            f"{action!r} is not an Azure action (expected Provider.Namespace/type/…/read|write|delete|action)",
            remediation=f"e.g. {EXAMPLE}",
        )
    return action


def validate_scope(scope: str) -> str:
    """A management group, subscription, resource group or resource id (or ``/``); raises TargetError."""
    cleaned = scope.strip()
    cleaned = cleaned if cleaned == "/" else cleaned.rstrip("/")
    from preflight.target import has_bad_segment

    if not SCOPE.match(cleaned) or has_bad_segment(cleaned):
        raise TargetError(
            f"--scope {scope!r} is not an Azure scope",
            remediation="expected /subscriptions/<GUID>[/resourceGroups/<group>[/providers/…]], "
            "/providers/Microsoft.Management/managementGroups/<id> or /",
        )
    return cleaned


def is_data_action(action: str, definitions: Sequence[RoleDefinition]) -> bool:
    """The role-pattern rule, now only the last resort of :func:`preflight.operations.decide_plane`. Pure."""
    from preflight.operations import pattern_rule

    return pattern_rule(action, definitions)


def _plane(ctx: Context, action: str, override: bool | None, definitions: Sequence[RoleDefinition]) -> tuple[bool, str]:
    """Data or management action, and which source said so (``preflight.operations``: override, shipped
    catalogue, ARM's provider operations, role patterns)."""
    from preflight.azure.arm import provider_operations
    from preflight.operations import decide_plane

    found = decide_plane(action, override, definitions, lambda namespace: ctx.get(provider_operations, namespace))
    return found.data, found.reason


def decide(ctx: Context, action: str, scope: str, assignee: str | None, plane: bool | None) -> Answer:
    """Gather the facts for one question and evaluate it with the pure core."""
    from preflight.azure.access import read_access, tolerant_get
    from preflight.azure.arm import role_definitions_at
    from preflight.rbac import RoleDefinition
    from preflight.verdict import Unread

    notes: list[str] = []
    principal_id, principal_type = _whom(ctx, assignee, notes)
    unread: list[Unread] = []
    listed = tolerant_get(ctx, role_definitions_at, scope, unread=unread)
    catalogue = [RoleDefinition.from_arm(d) for d in listed or ()]
    data, plane_reason = _plane(ctx, action, plane, catalogue)

    readings = read_access(ctx, scope, principal_id, is_caller=not assignee, known=catalogue)
    readings = _above_management_group(ctx, scope, replace(readings, unread=(*unread, *readings.unread)), notes)
    verdict = readings.verdict(action, data=data)
    notes.extend(u.describe() for u in readings.unread)
    fix = None
    eligible = (
        _eligible(ctx, action, scope, principal_id, assignee is not None, list(readings.definitions), data)
        if verdict.status == "not-granted"
        else None
    )
    if eligible is not None:
        notes.append(f"eligible in PIM: '{eligible.role_name}' at {eligible.scope} would grant it once activated")
        fix = (
            "activate the eligible role in Privileged Identity Management (portal: PIM → My roles → Azure "
            "resources → Activate); do not add an assignment"
        )
    elif verdict.status == "not-granted":
        held = {a.role_guid for a in readings.assignments or ()}
        fix = _assignment_to_add(
            action, scope, principal_id, principal_type, catalogue, held, data, roles_unreadable=listed is None
        )
    return Answer(verdict, scope, principal_id, principal_type, plane_reason, fix, tuple(notes))


def _whom(ctx: Context, assignee: str | None, notes: list[str]) -> tuple[str, str]:
    """(object id, ARM principal type) of the principal asked about: --assignee resolved, else the caller."""
    from preflight.azure.facts import principal

    if assignee:
        from preflight.azure.assignee import resolve_assignee

        resolved = resolve_assignee(ctx, assignee)
        if resolved.note:
            notes.append(resolved.note)
        return resolved.object_id, resolved.type
    who = ctx.get(principal)
    if not who.object_id:
        raise ConfigError("the signed-in token carries no object id (oid): pass --assignee")
    return who.object_id.lower(), PRINCIPAL_TYPES.get(who.kind, "ServicePrincipal")


def _above_management_group(ctx: Context, scope: str, readings: Any, notes: list[str]) -> Any:
    """With assignments at other management groups than the scope's own, only those above it count: the
    readings learn the group's ancestry (or a note says they were not counted)."""
    from preflight.azure.management_groups import management_group_ancestors, management_group_of
    from preflight.errors import FactError

    group = management_group_of(scope)
    applied = [a.scope for a in readings.assignments or ()] + [d.scope for d in readings.denies or ()]
    if group is None or not any(management_group_of(s) not in (None, group) for s in applied):
        return readings
    try:
        above: tuple[str, ...] = ctx.get(management_group_ancestors, group)
        return replace(readings, mg_ancestry={group: tuple(above)})
    except FactError as exc:
        notes.append(f"assignments at other management groups not counted: {exc.message}")
        return readings


def _assignment_to_add(
    action: str,
    scope: str,
    principal_id: str,
    principal_type: str,
    catalogue: list[RoleDefinition],
    held: set[str],
    data: bool,
    *,
    roles_unreadable: bool,
) -> str | None:
    """The least-privilege ``az role assignment create`` that would grant the action (never a role already
    held); the shipped built-ins stand in when the roles at the scope were unreadable. Pure."""
    from preflight.rbac import roles_granting

    best = [
        (r.guid, r.role_name)
        for r in roles_granting(action, catalogue, data_action=data, scope=scope)
        if r.guid not in held
    ]
    if not best and roles_unreadable:
        from preflight.builtin_roles import least_privilege_role

        builtin = least_privilege_role(action, data_action=data)
        best = [(builtin.guid, builtin.name)] if builtin is not None and builtin.guid not in held else []
    if not best:
        return None
    kind = principal_type if principal_type in ("User", "Group", "ServicePrincipal") else "ServicePrincipal"
    return (
        f"az role assignment create --assignee-object-id {principal_id} --assignee-principal-type {kind} "
        f"--role {best[0][0]} --scope {scope}   # {best[0][1]}"
    )


def _eligible(
    ctx: Context, action: str, scope: str, principal_id: str, other: bool, definitions: list[RoleDefinition], data: bool
) -> AppliedAssignment | None:
    """The PIM eligibility that would grant the action once activated (None when none, or unreadable: the
    verdict "not allowed now" stands either way)."""
    from preflight.azure.arm import definition_at, eligible_assignments, role_definition
    from preflight.errors import FactError
    from preflight.rbac import RoleAssignment, RoleDefinition, evaluate

    try:
        eligible = [
            RoleAssignment.from_arm(e) for e in ctx.get(eligible_assignments, scope, principal_id if other else None)
        ]
        known = {d.guid for d in definitions}
        extra = [
            RoleDefinition.from_arm(ctx.get(role_definition, definition_at(scope, a.role_definition_id)))
            for a in {a.role_guid: a for a in eligible if a.role_guid not in known}.values()
        ]
    except FactError:
        return None
    groups = sorted({a.principal_id for a in eligible if a.principal_id != principal_id})
    found = evaluate(action, scope, [principal_id, *groups], eligible, definitions + extra, data_action=data)
    return found.granted_by[0] if found.granted_by else None


def render_text(answer: Answer) -> str:
    v = answer.verdict
    head = {
        "granted": "yes",
        "denied": "no (denied)",
        "conditional": "no (conditional)",
        "not-granted": "no",
        "disputed": "undecided (the sources disagree)",
        "undecided": "undecided",
    }[v.status]
    lines = [
        head,
        f"  {answer.explanation}",
        f"  action:    {v.action} ({answer.plane_reason})",
        f"  scope:     {answer.scope}",
        f"  principal: {answer.principal_id} ({answer.principal_type})",
    ]
    if v.decided_by:
        lines.append(f"  decided:   from {', '.join(v.decided_by)}")
    lines.extend(f"  note:      {n}" for n in answer.notes)
    if answer.fix:
        lines.append(f"  fix:       {answer.fix}")
    elif v.status == "denied":
        lines.append(
            "  fix:       deny assignments override every role; ask the owner of the deny assignment "
            "(a managed application, Blueprint or deployment stack)"
        )
    return "\n".join(lines) + "\n"


@click.command("can-i", context_settings=shell.CONTEXT_SETTINGS)
@click.argument("action")
@click.option("--scope", default=None, help="Scope to ask about (default: the target resource).")
@click.option("--assignee", default=None, help="Object id, UPN or application id (default: the signed-in one).")
@shell.answer_format_option
@click.option(
    "--data-action",
    "data_plane",
    is_flag=True,
    help="ACTION is a data action (default: from Azure's provider operations metadata).",
)
@click.option("--control-action", "control_plane", is_flag=True, help="ACTION is a control-plane action.")
@shell.resource_options
@shell.cloud_options
@shell.common_options
def can_i(
    action: str,
    scope: str | None,
    assignee: str | None,
    fmt: str,
    data_plane: bool,
    control_plane: bool,
    resource: shell.ResourceFlags,
    cloud: shell.CloudFlags,
    display: shell.Display,
) -> int:
    """Can a principal perform ACTION at a scope? Exit 0 yes, 1 no, 2 bad input, 3 could not decide."""
    from preflight.run import session
    from preflight.target import build_target

    plane = _plane_flag(data_plane, control_plane)
    action = validate_action(action)
    assignee = None if assignee is None else validate_assignee(assignee)
    scope = None if scope is None else validate_scope(scope)
    target = build_target(dict(os.environ), **cloud.target_args(), **resource.target_args())
    if resource.workspace:
        from preflight.azureml import parse_workspace

        parse_workspace(resource.workspace)
    with session(target) as active:  # its redactor: an answer may quote an SDK error quoting a secret
        text, code = _answer(active.ctx, active.redactor, action, scope, assignee, plane, fmt)
    shell.print_stdout(text)  # once the Context is released, as before
    return code


def _plane_flag(data_plane: bool, control_plane: bool) -> bool | None:
    """--data-action / --control-action as the plane override decide() takes (None: from Azure's metadata)."""
    if data_plane and control_plane:
        raise ConfigError("--data-action and --control-action are mutually exclusive")
    return True if data_plane else False if control_plane else None


def validate_assignee(assignee: str) -> str:
    """An object / application id or a UPN, checked before any request; raises ConfigError (exit 2)."""
    from preflight.target import GUID, UPN

    assignee = assignee.strip()
    if not (GUID.match(assignee) or UPN.match(assignee)):
        raise ConfigError(
            f"--assignee {assignee!r} is neither an object id, a UPN nor an application id",
            remediation="pass a GUID (object or application id) or user@domain",
        )
    return assignee


def _answer(
    ctx: Context, redactor: Redactor, action: str, scope: str | None, assignee: str | None, plane: bool | None, fmt: str
) -> tuple[str, int]:
    """The printed answer and the exit code: 0 allowed, 1 not, 3 undecided (a fact it needs is unavailable:
    undecided is an answer too, printed in the asked format)."""
    try:
        if scope is None:
            scope = _default_scope(ctx)
        answer = decide(ctx, action, scope, assignee, plane)
    except FactError as exc:
        return render_undecided(exc, action, scope, assignee, fmt, redactor), 3
    if fmt == "json":
        text = json.dumps(redactor.value(answer.to_json()), indent=2) + "\n"
    else:
        text = redactor.text(render_text(answer))
    return text, 0 if answer.allowed else 3 if answer.allowed is None else 1


def render_undecided(
    exc: FactError, action: str, scope: str | None, assignee: str | None, fmt: str, redactor: Redactor
) -> str:
    """The answer when a fact the decision needs is unavailable: the same JSON keys with ``allowed: null`` and
    the reason, or ``undecided: <reason>`` (and the fix) for people."""
    why, fix = exc.message, exc.remediation
    if fmt == "json":
        body: dict[str, Any] = {
            "allowed": None,
            "action": action,
            "scope": scope,
            "principal": {"id": assignee, "type": None},
            "grantedBy": [],
            "deniedBy": [],
            "conditional": [],
            "decidedBy": [],
            "unread": [],
            "reason": f"Could not decide: {why}" + (f" Fix: {fix}" if fix else ""),
        }
        return json.dumps(redactor.value(body), indent=2) + "\n"
    lines = [f"undecided: {why}", f"  action:    {action}", f"  scope:     {scope or '(not resolved)'}"]
    if fix:
        lines.append(f"  fix:       {fix}")
    return redactor.text("\n".join(lines) + "\n")


def _default_scope(ctx: Context) -> str:
    from preflight.target import has_target

    if not has_target(ctx.target):
        raise ConfigError(
            "no scope: pass --scope, or name the resource (--resource-id, --endpoint, --workspace, "
            "AZURE_OPENAI_ENDPOINT)"
        )
    from preflight.azure.access import rbac_scope

    return rbac_scope(ctx)  # the id as given when the account itself may not be read (a data-only role)
