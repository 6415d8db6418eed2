"""The RBAC verdict for the target, as one shared fact: rbac.data-action reports it, access.probe compares the
service's answer with it, and the role assignments behind it are fetched once."""

from __future__ import annotations

import threading
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from preflight.azure.arm import (
    definition_at,
    deny_assignments,
    profile,
    resource,
    role_assignments,
    role_definition,
)
from preflight.azure.facts import principal
from preflight.context import Context, Fact, fact
from preflight.errors import FactError

if TYPE_CHECKING:
    from preflight.claims import PrincipalInfo
    from preflight.profiles import Profile, Requirement
    from preflight.rbac import DenyAssignment, Permission, RoleAssignment, RoleDefinition
    from preflight.verdict import Unread, Verdict


@dataclass(frozen=True, slots=True)
class DataAccess:
    """The verdict for every action the profile needs, with what each source said and which reads failed."""

    principal: PrincipalInfo
    profile: Profile
    scope: str
    held: tuple[Mapping[str, Any], ...]  # what the principal holds here: role, scope, principal id, condition
    verdicts: tuple[tuple[Requirement, Verdict], ...]
    principal_ids: tuple[str, ...] = ()  # own object id first, then the groups ARM resolved
    definitions: tuple[RoleDefinition, ...] = ()
    mg_ancestry: Mapping[str, tuple[str, ...]] | None = None
    principal_type: str = "User"  # ARM's principalType: User, Group, ServicePrincipal (Unknown if unreadable)
    is_caller: bool = True  # False with --assignee: ARM's permissions API and PIM asTarget() speak for the caller
    unread: tuple[Unread, ...] = ()  # the sources that could not be read, once each

    @property
    def assignments_read(self) -> bool:
        """Whether the role assignments could be listed (else ``held`` is unknown, not empty)."""
        return not any(u.source == "role-assignments" for u in self.unread)

    def verdict_for(self, action: str) -> Verdict | None:
        """The verdict for one required action (None when the profile does not need it)."""
        return next((v for r, v in self.verdicts if r.action.lower() == action.lower()), None)


ARM_TYPES = {"user": "User", "servicePrincipal": "ServicePrincipal", "managedIdentity": "ServicePrincipal"}


@dataclass(frozen=True, slots=True)
class Subject:
    """Whose access is evaluated: the signed-in principal, or ``--assignee`` resolved through Graph."""

    info: PrincipalInfo
    arm_type: str
    is_caller: bool


@fact("subject", reported_by="rbac.data-action")
def subject(ctx: Context) -> Subject:
    """``--assignee`` (object id, UPN or app id) when given, else the signed-in principal. An assignee that
    names nothing is this fact's failure (``assignee``), reported by rbac.data-action."""
    from preflight.claims import PrincipalInfo
    from preflight.errors import ConfigError, FactError

    if not ctx.target.assignee:
        who = ctx.get(principal)
        return Subject(who, ARM_TYPES.get(who.kind, "ServicePrincipal"), True)
    from preflight.azure.assignee import resolve_assignee

    try:
        found = resolve_assignee(ctx, ctx.target.assignee)
    except ConfigError as exc:
        raise FactError("assignee", exc.message, reported_by="rbac.data-action") from exc
    kind = "user" if found.type == "User" else "servicePrincipal"
    info = PrincipalInfo(found.object_id, None, kind, found.display, None, None, None)  # type: ignore[arg-type]
    return Subject(info, found.type, False)


def rbac_scope(ctx: Context) -> str:
    """The scope every RBAC fact of the run is read at: ``--resource-id`` exactly as given once ARM confirmed it
    names the resource it read (ARM compares ids without case), else the id ARM returned. Keying the reads by
    the id as given is what lets them start before the resource's own GET has answered (:func:`start_reads`).

    An identity may hold a data role and still not be allowed to read the account (a custom data-only role has
    no ``accounts/read``): ARM's refusal of that GET does not stop the verdict when the id was given — the
    role assignments, deny assignments and effective permissions are all read *at* that id."""
    given = _given_id(ctx)
    try:
        found = str(ctx.get(resource)["id"])
    except FactError as exc:
        if given and exc.fact == "resource" and exc.status == 403:  # a 401 is the token's fault: reported there
            return given
        raise
    return given if given and given.lower() == found.lower() else found


def _given_id(ctx: Context) -> str | None:
    """The target's resource id when the user named it (``--resource-id``, ``--workspace``), else None."""
    named = ctx.target.resource_id or ctx.target.workspace  # a workspace is always resolved to its ARM id
    return str(named) if named else None


def _early_scope(ctx: Context) -> str:
    """:func:`rbac_scope` without waiting for the resource when ``--resource-id`` names it."""
    return _given_id(ctx) or str(ctx.get(resource)["id"])


def prefetch(ctx: Context, which: Fact[Any], *args: Hashable) -> None:
    """Start computing a fact on a daemon thread and return at once. Its value — or its failure, which the
    Context remembers and re-raises to the real caller — is then ready (or in flight) when a check asks."""

    def compute() -> None:
        try:
            ctx.get(which, *args)
        except FactError:
            pass  # recorded in the fact's slot: whoever needs it gets this very error

    threading.Thread(target=compute, name=f"prefetch:{which.name}", daemon=True).start()


def start_reads(ctx: Context, *, permissions: bool = False) -> None:
    """Put the independent RBAC reads in flight at once, so the run waits for the longest *dependent* chain
    (token → role assignments → role definitions) rather than for the sum of the reads: the role assignments,
    the deny assignments and (``permissions``: the caller's ``Microsoft.Authorization/permissions``) start as
    soon as a token exists — with ``--resource-id``, without waiting for the resource's GET — and every role
    definition the assignments name starts as soon as they are listed. Idempotent: facts are computed once."""

    def reads() -> None:
        try:
            # Whose access (the ARM token's principal) first: no read can be sent before that token anyway, and
            # building the ARM clients earlier would only compete for the interpreter with the sign-in's own
            # imports, which are on the critical path.
            who = ctx.get(subject).info.object_id
            scope = _early_scope(ctx)
            prefetch(ctx, deny_assignments, scope)
            if permissions:
                from preflight.azure.arm import arm_permissions

                prefetch(ctx, arm_permissions, scope)
            listed = ctx.get(role_assignments, scope, who)
        except FactError:
            return  # the fact that failed is remembered; data_access reports it in its own order
        from preflight.rbac import RoleAssignment

        for definition_id in sorted({RoleAssignment.from_arm(a).role_definition_id for a in listed}):
            prefetch(ctx, role_definition, definition_at(scope, definition_id))

    threading.Thread(target=reads, name="prefetch:rbac", daemon=True).start()


#: The reads a verdict can do without, by fact name → the source they are in :mod:`preflight.verdict`.
_SOURCES = {
    "role-assignments": "role-assignments",
    "deny-assignments": "deny-assignments",
    "arm-permissions": "effective-permissions",
    "role-definition": "role-definitions",
    "role-definitions-at": "role-definitions",
}


def tolerant_get(ctx: Context, which: Fact[Any], *args: Hashable, unread: list[Unread]) -> Any:
    """The fact, or None with the failure recorded in ``unread`` — only the fact's *own* failure (a refused or
    throttled read); a failure of what it depends on (the credential, the cloud) is re-raised, so its owner
    reports it and the verdict points there."""
    from preflight.azure.http import inconclusive
    from preflight.verdict import Unread

    try:
        return ctx.get(which, *args)
    except FactError as exc:
        if exc.fact != which.name or exc.status == 401:  # 401: ARM refused the token itself, not this read
            raise
        source = _SOURCES[which.name]
        if not any(u.source == source for u in unread):
            unread.append(Unread(source, exc.message, refused=not inconclusive(exc.status, exc.code)))
        return None


@dataclass(frozen=True, slots=True)
class Readings:
    """What could be read about one principal's access at one scope — the input of every verdict, so
    ``check`` and ``can-i`` decide the same action from the same reads in the same way. ``None`` marks a
    source that could not be read (the reason is in ``unread``), never an empty answer."""

    scope: str
    assignments: tuple[RoleAssignment, ...] | None
    definitions: tuple[RoleDefinition, ...]
    denies: tuple[DenyAssignment, ...] | None
    blocks: tuple[Permission, ...] | None  # ARM's effective permissions: the caller's only
    principal_ids: tuple[str, ...]  # own object id first, then the groups ARM resolved
    mg_ancestry: Mapping[str, tuple[str, ...]] | None
    unread: tuple[Unread, ...]

    def verdict(self, action: str, *, data: bool) -> Verdict:
        """Every readable source's answer for ``action``, combined (:func:`preflight.verdict.combine`)."""
        from preflight.rbac import evaluate
        from preflight.verdict import combine, effective_says

        decision = (
            None
            if self.assignments is None
            else evaluate(
                action,
                self.scope,
                self.principal_ids,
                self.assignments,
                self.definitions,
                self.denies or (),
                data_action=data,
                mg_ancestry=self.mg_ancestry,
            )
        )
        effective = None if self.blocks is None else effective_says(self.blocks, action, data=data)
        return combine(
            action,
            data_action=data,
            decision=decision,
            effective=effective,
            deny_checked=self.denies is not None,
            unread=self.unread,
        )


def read_access(
    ctx: Context, scope: str, principal_id: str, *, is_caller: bool, known: Sequence[RoleDefinition] = ()
) -> Readings:
    """Read every source of the verdict for ``principal_id`` at ``scope``, each as far as it can be read:
    role assignments (``assignedTo()``: groups resolved by ARM) and their definitions (``known`` ones are not
    fetched again), deny assignments, and — for the caller — ARM's effective permissions."""
    from preflight.azure.arm import arm_permissions
    from preflight.rbac import DenyAssignment, Permission, RoleAssignment, RoleDefinition

    unread: list[Unread] = []
    listed = tolerant_get(ctx, role_assignments, scope, principal_id, unread=unread)
    assignments = [RoleAssignment.from_arm(a) for a in listed or ()]
    have = {d.guid: d for d in known}
    definition_ids = sorted(
        {definition_at(scope, a.role_definition_id) for a in assignments if a.role_guid not in have}
    )
    for definition_id in definition_ids:  # all in flight at once (no-op for those start_reads began)
        prefetch(ctx, role_definition, definition_id)
    for definition_id in definition_ids:
        if (raw := tolerant_get(ctx, role_definition, definition_id, unread=unread)) is not None:
            definition = RoleDefinition.from_arm(raw)
            have[definition.guid] = definition
    raw_denies = tolerant_get(ctx, deny_assignments, scope, unread=unread)
    denies = [DenyAssignment.from_arm(d) for d in raw_denies or ()]
    blocks = None
    if is_caller:
        raw_blocks = tolerant_get(ctx, arm_permissions, scope, unread=unread)
        blocks = None if raw_blocks is None else tuple(Permission.from_arm(b) for b in raw_blocks)
    # assignedTo() returns only assignments that apply to the principal or its (transitive) groups, so any
    # other principal id among them is one of its groups.
    own = principal_id.lower()
    groups = sorted({a.principal_id for a in assignments if a.principal_id.lower() != own})
    return Readings(
        scope,
        None if listed is None else tuple(assignments),
        tuple(have.values()),
        None if raw_denies is None else tuple(denies),
        blocks,
        (principal_id, *groups),
        ancestry_from(scope, [a.scope for a in assignments] + [d.scope for d in denies]),
        tuple(unread),
    )


@fact("data-access", reported_by="rbac.data-action")
def data_access(ctx: Context) -> DataAccess:
    """The verdict for each required action from every source that can decide it (:mod:`preflight.verdict`):
    a refused read narrows what is known, it never stops the verdict by itself."""
    whom = ctx.get(subject)
    start_reads(ctx, permissions=whom.is_caller)
    scope = rbac_scope(ctx)
    who = whom.info
    wanted = ctx.get(profile)
    readings = read_access(ctx, scope, who.object_id or "", is_caller=whom.is_caller)
    names = {d.guid: d.role_name for d in readings.definitions}
    held = tuple(
        {
            "role": names.get(a.role_guid, a.role_guid),
            "role_id": a.role_guid,
            "scope": a.scope,
            "principal_id": a.principal_id,
            "condition": a.condition,
            "created_on": a.created_on,
        }
        for a in readings.assignments or ()
    )
    verdicts = tuple((r, _with_probe(ctx, readings.verdict(r.action, data=r.data))) for r in wanted.requirements)
    return DataAccess(
        who,
        wanted,
        scope,
        held,
        verdicts,
        readings.principal_ids,
        readings.definitions,
        readings.mg_ancestry,
        whom.arm_type,
        whom.is_caller,
        readings.unread,
    )


def _with_probe(ctx: Context, verdict: Verdict) -> Verdict:
    """An action no other source could decide is decided by the data plane's 200 when the run probes it
    (``--probe``): the service's own answer. Asked only then, so a decided run never waits for the probe."""
    from preflight.azure.probe import PROBED_ACTION, probe_says
    from preflight.verdict import combine

    if verdict.status != "undecided" or verdict.action.lower() != PROBED_ACTION.lower() or not verdict.data_action:
        return verdict
    if probe_says(ctx) != "allowed":
        return verdict
    return combine(
        verdict.action,
        data_action=True,
        decision=verdict.decision,
        effective=verdict.effective,
        probe="allowed",
        deny_checked=verdict.deny_checked,
        unread=verdict.unread,
    )


def ancestry_from(scope: str, applied_scopes: Sequence[str]) -> dict[str, tuple[str, ...]] | None:
    """Management groups above the target's subscription, learnt from the assignments ARM returned.

    ARM lists (at a scope, without ``atScope()``) only assignments at, above or below it, so a management-group
    scope among them *is* an ancestor of the target's subscription — no extra hierarchy request is needed for
    the pure evaluator to count it (it counts a management group only when told the hierarchy)."""
    parts = [p for p in scope.split("/") if p]
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        return None
    groups = tuple(
        sorted(
            {
                s.rstrip("/").rsplit("/", 1)[-1].lower()
                for s in applied_scopes
                if "/providers/microsoft.management/managementgroups/" in s.lower()
            }
        )
    )
    return {parts[1].lower(): groups} if groups else None
