"""The prerequisites built-in checks declare in ``CheckMeta.requires`` and the engine enforces before ``run``.

Each is a small frozen value whose ``check(ctx)`` returns a :class:`~preflight.model.Skip` when the check does
not apply, or None to go on. They hold the Azure knowledge the engine must not have (what "a target" is, which
principal kinds the directory checks examine, when sign-in has started), so a check body starts at its
decision instead of repeating the same guards. Importing this module costs nothing: facts and SDKs are imported
inside ``check``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from preflight.context import Context, Fact
from preflight.model import Evidence, Skip

#: What a check that needs a resource says when the run names none (``rbac.*``).
NO_TARGET = "no resource given: pass --resource-id, --endpoint or --workspace"
#: What a user sign-in is told by the checks that examine service principals (``principal.*``).
NOT_SP = (
    "not a service principal: signed in as user {who}; these checks examine service principals and "
    "managed identities (an admin can pass --assignee APP_ID)"
)


@dataclass(frozen=True, slots=True)
class SigninStarted:
    """Never skips: returns once sign-in has what it needs to send its first request, so the check's own
    imports run while sign-in waits on the network (see ``preflight.azure.facts.after_signin_starts``)."""

    def check(self, ctx: Context) -> Skip | None:
        from preflight.azure.facts import after_signin_starts

        after_signin_starts(ctx)
        return None


@dataclass(frozen=True, slots=True)
class NeedsTarget:
    """The check only applies when the run names a resource. ``named_by``: the target fields that count (empty:
    any way of naming one — --resource-id, --workspace, an endpoint or an ``.azureml/config.json``).
    Checked before :data:`SIGNIN`, so a run without a target does not wait on sign-in for a SKIP."""

    summary: str = NO_TARGET
    caused_by: str | None = "resource.endpoint"
    named_by: tuple[str, ...] = ()

    def check(self, ctx: Context) -> Skip | None:
        from preflight.target import has_target

        target = ctx.target
        named = any(getattr(target, f) for f in self.named_by) if self.named_by else has_target(target)
        return None if named else Skip(self.summary, self.caused_by)


@dataclass(frozen=True, slots=True)
class ServicePrincipalOnly:
    """The check examines service principals and managed identities (the one ``--assignee`` names, else the
    signed-in one): a user is SKIP. Reads the ``graph-subject`` fact, whose failure the engine handles like any
    fact's."""

    def check(self, ctx: Context) -> Skip | None:
        from preflight.azure.graph import examined

        who = ctx.get(examined)
        if who.kind != "user":
            return None
        return Skip(NOT_SP.format(who=who.display or who.object_id), evidence=(Evidence("kind", who.kind),))


@dataclass(frozen=True, slots=True)
class Resolved:
    """The check decides nothing without this fact: it is read first, so its failure makes the check a
    dependant (SKIP pointing at the fact's teller, or ERROR by the gate rule) rather than a half-decision
    such as "none orphaned" from principals that were never resolved. Never skips by itself."""

    fact: Fact[Any]

    def check(self, ctx: Context) -> Skip | None:
        ctx.get(self.fact)
        return None


SIGNIN = SigninStarted()
TARGET = NeedsTarget()
SERVICE_PRINCIPAL = ServicePrincipalOnly()
