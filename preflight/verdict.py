"""The access verdict from every source that can decide it — pure, no I/O.

Why: real users are set up least-privilege. A developer holding only "Cognitive Services OpenAI User" can read
role assignments and definitions but not deny assignments; "Cognitive Services User" at a subscription reads no
``Microsoft.Authorization`` data at all; a custom data-only role reads nothing. Insisting on every read would
leave exactly those users without an answer. So each source decides what it can:

- ``effective-permissions``: ARM's ``Microsoft.Authorization/permissions`` for the caller at the target (any
  caller may read their own) — what ARM itself computes from every assignment, including ones preflight cannot
  list; deny assignments are not reflected in it;
- ``role-assignments``: assignments + role definitions through :func:`preflight.rbac.evaluate` — they name
  *which* assignment grants, and its conditions;
- ``deny-assignments``: they can only take access away;
- ``data-plane``: the service's own answer to the ``--probe`` call, for the action the probe exercises.

The rules (docs/rbac.md, "How the verdict is decided"):

1. a readable deny assignment that applies → ``denied``;
2. sources that could be read agree on a grant → ``granted`` (an unreadable deny list is a caveat, not a
   doubt: deny assignments come from managed applications, deployment stacks, Blueprints or, in preview, an
   administrator's user-assigned deny assignment — uncommon);
3. they agree that nothing grants it → ``not-granted``, whatever the deny list says (a deny only subtracts);
4. only ABAC-conditioned grants → ``conditional``;
5. one grants, another does not → ``disputed`` (explained, never silently resolved);
6. nothing could be read → ``undecided`` — never a pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from preflight.rbac import Decision, Permission

__all__ = ["READ_PERMISSION", "Unread", "Verdict", "VerdictStatus", "combine", "effective_says"]

VerdictStatus = Literal["granted", "denied", "conditional", "not-granted", "disputed", "undecided"]
Says = Literal["allowed", "not-allowed", "conditional"]

#: The permission that allows each read (what a refused read's fix names).
READ_PERMISSION = {
    "role-assignments": "Microsoft.Authorization/roleAssignments/read",
    "role-definitions": "Microsoft.Authorization/roleDefinitions/read",
    "deny-assignments": "Microsoft.Authorization/denyAssignments/read",
    "effective-permissions": None,  # anyone may read their own
    "data-plane": None,
}


@dataclass(frozen=True, slots=True)
class Unread:
    """A source that could not be read: which, why, and the permission that would allow the read.
    ``refused`` is ARM's 401/403; otherwise the read was inconclusive (throttled, 5xx, unreachable)."""

    source: str
    reason: str
    refused: bool = True

    @property
    def permission(self) -> str | None:
        """The permission whose absence refused the read (None when no permission would help)."""
        return READ_PERMISSION.get(self.source) if self.refused else None

    def describe(self) -> str:
        """One clause: ``role assignments could not be read (needs Microsoft.Authorization/…/read)``."""
        what = self.source.replace("-", " ")
        if self.permission:
            return f"{what} could not be read (needs {self.permission})"
        return f"{what} could not be read ({self.reason})"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What every readable source says about one action, and the combined answer."""

    action: str
    data_action: bool
    status: VerdictStatus
    decision: Decision | None  # role assignments + definitions (+ deny assignments when readable)
    effective: Says | None  # ARM's effective permissions (None: not read, or not asked — --assignee)
    probe: Says | None  # the data plane, for the probed action only
    deny_checked: bool  # the deny list was read (so a "granted" is not subject to the deny caveat)
    decided_by: tuple[str, ...]
    unread: tuple[Unread, ...]

    @property
    def allowed(self) -> bool:
        """Only an unconditional grant no readable source contradicts can be relied on."""
        return self.status == "granted"

    def unread_source(self, source: str) -> Unread | None:
        """The failure to read ``source`` in this verdict, if it was not read."""
        return next((u for u in self.unread if u.source == source), None)


def effective_says(blocks: Sequence[Permission], action: str, *, data: bool) -> Says:
    """ARM's permission blocks' answer for one action: a block without a condition that grants it wins."""
    from preflight.rbac import condition_restricts, permission_grants

    granting = [p for p in blocks if permission_grants(p, action, data=data)]
    if any(not condition_restricts(p.condition, action) for p in granting):
        return "allowed"
    return "conditional" if granting else "not-allowed"


def _assignments_say(decision: Decision | None) -> Says | None:
    """The role-assignment evaluation's answer, or None when it cannot speak: a "not granted" with a role
    definition that could not be read proves nothing (that role may be the one that grants)."""
    if decision is None:
        return None
    if decision.granted_by:
        return "allowed"
    if decision.conditional:
        return "conditional"
    return None if decision.unresolved else "not-allowed"


def combine(
    action: str,
    *,
    data_action: bool,
    decision: Decision | None,
    effective: Says | None = None,
    probe: Says | None = None,
    deny_checked: bool,
    unread: Sequence[Unread] = (),
) -> Verdict:
    """Apply the module's rules to what each source said (None: the source was not read)."""
    said = {"role-assignments": _assignments_say(decision), "effective-permissions": effective, "data-plane": probe}
    decided_by = tuple(name for name, answer in said.items() if answer is not None)
    answers = {answer for answer in said.values() if answer is not None}
    status: VerdictStatus
    if decision is not None and decision.denied_by:
        status, decided_by = "denied", (*decided_by, "deny-assignments")
    elif "allowed" in answers and "not-allowed" in answers:
        status = "disputed"
    elif "allowed" in answers:
        status = "granted"
    elif "conditional" in answers:
        status = "conditional"
    elif "not-allowed" in answers:
        status = "not-granted"
    else:
        status = "undecided"
    return Verdict(action, data_action, status, decision, effective, probe, deny_checked, decided_by, tuple(unread))
