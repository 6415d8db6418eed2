"""``run_audit(target, options) -> Report``: the work behind ``preflight audit``, free of terminal and file
handling so tests and the benchmark call exactly what the CLI calls.

The audit checks are discovered from their own entry-point group and run by the ordinary engine (concurrency,
deadlines, crash isolation); the inventory rows ride along in ``Report.tables["assignments"]``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

from preflight import __version__
from preflight.audit.collect import AuditPlan
from preflight.audit.facts import AuditOptions, inventory
from preflight.engine import Observer, RunOptions, discover, load, run_checks, select
from preflight.errors import FactError
from preflight.model import Report
from preflight.run import session
from preflight.target import Target

AUDIT_GROUP = "preflight.audit"
AUDIT_ENGINE = RunOptions(timeout=300.0, deadline=600.0, workers=8)


def audit_checks(only: Sequence[str] = (), skip: Sequence[str] = ()) -> list[str]:
    return [s.id for s in select(discover(AUDIT_GROUP), only, skip)]


def describe_plan(plan: AuditPlan) -> str:
    """``all subscriptions``, or ``subscription …, management group corp, scope …``: what the audit covered."""
    if plan.all_subscriptions:
        return "all readable subscriptions"
    parts = [f"subscription {s}" for s in plan.subscriptions]
    parts += [f"management group {g}" for g in plan.management_groups]
    parts += [f"scope {s}" for s in plan.scopes]
    return ", ".join(parts) or "nothing"


def run_audit(
    target: Target,
    options: AuditOptions,
    engine: RunOptions = AUDIT_ENGINE,
    *,
    only: Sequence[str] = (),
    skip: Sequence[str] = (),
    observer: Observer | None = None,
) -> Report:
    """Run the audit checks; always returns a complete Report (an unreadable scope is a result, not a crash)."""
    started_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    start = time.perf_counter()
    checks = load(select(discover(AUDIT_GROUP), only, skip))
    from preflight.azure.services import describe_fact

    services = {"audit": options, "describe-fact": describe_fact}
    # the Context is released however the audit ends (settled first when it ends normally: see run.session)
    with session(target, services=services, deadline=engine.deadline, start=start) as active:
        ctx, redactor = active.ctx, active.redactor
        results = run_checks(checks, ctx, engine, observer=observer, sanitize=redactor.result)
        try:
            # Never wait for an inventory still being fetched by a check abandoned at its timeout or the
            # deadline: the report is due now (the inventory check already says it timed out).
            rows = () if ctx.in_progress(inventory) else ctx.get(inventory)
        except FactError:
            rows = ()  # the inventory check already reports why
    plan = options.plan
    # Only what identifies the audited estate: a resource or endpoint from the environment plays no part.
    described = {
        k: v for k, v in redactor.value(target.to_dict()).items() if k in ("cloud", "cloud_metadata_url", "tenant_id")
    }
    # One readable line in every header (the table prints ``key=value``): what was audited, in words.
    described["audited"] = describe_plan(plan)
    return Report(
        tool_version=__version__,
        target=described,
        started_at=started_at,
        duration=time.perf_counter() - start,
        results=tuple(results),
        checks=tuple(c.meta for c in checks),
        tables={"assignments": rows} if rows else {},
    )
