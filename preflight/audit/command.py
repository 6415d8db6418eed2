"""``preflight audit``: every role assignment in scope, principal resolved, and what is risky about them.

A thin shell like ``preflight check``: parse and validate (bad input → one line, exit 2), run
:func:`preflight.audit.run.run_audit`, render with the report registry, write files atomically. Exit codes
are those of ``preflight check``: 0 nothing at or above ``--fail-on``, 1 something is, 2 bad input, 3 the run
could not complete.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

import click

from preflight import shell
from preflight.errors import ConfigError
from preflight.target import GUID

if TYPE_CHECKING:
    from preflight.audit.collect import AuditPlan
    from preflight.model import CheckMeta, Result

# A management group's id (name): \Z, not $ (which accepts a trailing newline); not "." or "..", which would move
# the request to another ARM path (issue 17 item 6).
MANAGEMENT_GROUP_ID = re.compile(r"^(?!\.{1,2}\Z)[A-Za-z0-9_.()\-]{1,90}\Z")


class _Progress:
    """One rewritten status line on stderr (only on an interactive terminal): collection progress, then which
    audit checks are running."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.lock = threading.Lock()

    def message(self, text: str) -> None:
        with self.lock:
            self.stream.write("\r\033[K" + text[:200])
            self.stream.flush()

    def started(self, meta: CheckMeta) -> None:
        return None

    def finished(self, meta: CheckMeta, results: Sequence[Result]) -> None:
        self.message(f"done {meta.id}")

    def close(self) -> None:
        with self.lock:
            self.stream.write("\r\033[K")
            self.stream.flush()


def _scope(value: str) -> str:
    """An ARM scope validated segment by segment (issue 17 item 6): no empty, ``.`` or ``..`` segment, no ``?``,
    ``#`` or control character, each of which would rewrite the ARM URLs the scope is pasted into."""
    from preflight.target import has_bad_segment

    scope = value.strip()
    scope = scope if scope == "/" else scope.rstrip("/")
    parts = scope.split("/")[1:] if scope != "/" else []
    valid = (
        scope.startswith("/")
        and not has_bad_segment(scope)
        and (
            not parts
            or (parts[0].lower() == "subscriptions" and len(parts) >= 2 and bool(GUID.match(parts[1])))
            or (
                len(parts) >= 4
                and parts[0].lower() == "providers"
                and parts[1].lower() == "microsoft.management"
                and parts[2].lower() == "managementgroups"
            )
        )
    )
    if not valid:
        raise ConfigError(
            f"{value!r} is not an ARM scope",
            remediation="e.g. /subscriptions/<GUID>[/resourceGroups/<group>…] or "
            "/providers/Microsoft.Management/managementGroups/<id>",
        )
    return "/" + "/".join(parts) if parts else "/"


def build_plan(
    scopes: Sequence[str],
    subscriptions: Sequence[str],
    all_subscriptions: bool,
    management_groups: Sequence[str],
    default_subscription: str | None,
) -> AuditPlan:
    """Validate the scope flags into an AuditPlan; nothing given → the target subscription, else all."""
    from preflight.audit.collect import AuditPlan

    for sub in subscriptions:
        if not GUID.match(sub):
            raise ConfigError(f"subscription {sub!r} is not a GUID")
    for group in management_groups:
        if not MANAGEMENT_GROUP_ID.match(group):
            raise ConfigError(
                f"management group id {group!r} is not valid",
                remediation="pass the group's id (name), e.g. --management-group corp",
            )
    if all_subscriptions and (subscriptions or management_groups or scopes):
        raise ConfigError("--all-subscriptions cannot be combined with --subscription, --management-group or --scope")
    plan = AuditPlan(
        subscriptions=tuple(s.lower() for s in subscriptions),
        management_groups=tuple(management_groups),
        scopes=tuple(_scope(s) for s in scopes),
        all_subscriptions=all_subscriptions,
    )
    if not (plan.subscriptions or plan.management_groups or plan.scopes or plan.all_subscriptions):
        if default_subscription:
            return AuditPlan(subscriptions=(default_subscription.lower(),))
        return AuditPlan(all_subscriptions=True)
    return plan


@click.command("audit", context_settings=shell.CONTEXT_SETTINGS)
@shell.scopes_option("Audit assignments at, above and below this ARM scope.")
@shell.repeatable(
    "--subscription", "subscriptions", "ID", "Audit this subscription (default: AZURE_SUBSCRIPTION_ID, else all)."
)
@click.option("--all-subscriptions", is_flag=True, help="Audit every subscription the caller can read.")
@shell.repeatable("--management-group", "management_groups", "ID", "Audit everything under this management group.")
@shell.report_options("Format printed on stdout (csv: one row per role assignment).")
@shell.expiry_days_option("Credentials expiring within this many days are reported.")
@click.option("--classic-admins", is_flag=True, help="Also read classic administrators (one request per subscription).")
@shell.engine_options(timeout=300.0, deadline=600.0, what="audit", example="audit.orphaned, audit.*")
@shell.cloud_options
@shell.common_options
def audit(
    scopes: Sequence[str],
    subscriptions: Sequence[str],
    all_subscriptions: bool,
    management_groups: Sequence[str],
    fmt: str,
    outputs: Sequence[str],
    fail_on: str,
    expiry_days: int,
    classic_admins: bool,
    only: Sequence[str],
    skip: Sequence[str],
    timeout: float,
    deadline: float,
    cloud: shell.CloudFlags,
    display: shell.Display,
) -> int:
    """List every role assignment in scope (principal resolved, role, scope, inherited or direct, created
    on / by, condition) and report orphaned, over-privileged and misplaced ones.

    Exit 0: no finding at or above --fail-on; 1: some finding is; 2: bad input; 3: the audit could not
    complete.
    """
    from preflight.audit.facts import AuditOptions
    from preflight.audit.run import run_audit
    from preflight.engine import RunOptions, split_patterns
    from preflight.run import exit_code
    from preflight.target import build_target

    environ = dict(os.environ)
    target = build_target(environ, **cloud.target_args(), credential_warn_days=expiry_days)
    # An environment-level resource/endpoint is irrelevant to an audit: keep only the identity of the run.
    plan = build_plan(scopes, subscriptions, all_subscriptions, management_groups, target.subscription_id)
    files = shell.output_files(outputs, fmt)  # refused before the run: a bad --output must not cost a run
    with shell.live_progress(environ, _Progress) as progress:
        options = AuditOptions(
            plan=plan,
            expiry_days=expiry_days,
            classic_administrators=classic_admins,
            progress=progress.message if progress else None,
        )
        report = run_audit(
            target,
            options,
            RunOptions(timeout=timeout, deadline=deadline),
            only=split_patterns(only),
            skip=split_patterns(skip),
            observer=progress,
        )
    shell.emit_report(report, fmt, files, display=display, environ=environ)
    return exit_code(report, fail_on)
