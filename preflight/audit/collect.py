"""Collect every role assignment in the audited scope, the role definitions they name and classic admins.

The scale path is ONE Azure Resource Graph query over ``authorizationresources`` for all subscriptions at once,
paged with ``$skipToken``, aggregated (``summarize … make_list(pack(…)) by subscriptionId``) so that a page
of at most 1,000 rows carries whole subscriptions, with the plain one-row-per-assignment query as fallback.
When the caller cannot use Resource Graph (403, or any other refusal), the audit falls back to ARM: one
role-assignment listing per subscription (at, above and below it), run concurrently with a bounded pool. Rows
of both paths become the product's one :class:`~preflight.rbac.RoleAssignment`, built compact at once
(:func:`compact_assignment`: slots, interned strings), so 100,000 assignments fit comfortably in memory.

Every request here is a GET or a read-only query POST; nothing is ever written.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from preflight.audit.rest import RestClient, RestError
from preflight.daemon import map_bounded  # daemon threads: a hung listing must not hold the process at exit
from preflight.rbac import RoleAssignment

ARG_PATH = "/providers/Microsoft.ResourceGraph/resources"
ARG_API = "2022-10-01"
AUTHZ_API = "2022-04-01"
SUBSCRIPTIONS_API = "2022-12-01"
CLASSIC_API = "2015-07-01"
MANAGEMENT_GROUPS_API = "2023-04-01"
ARG_PAGE = 1000  # ARG's maximum $top
ARM_WORKERS = 8  # concurrent per-subscription listings in the fallback
MG_PREFIX = "/providers/microsoft.management/managementgroups/"

Progress = Callable[[str], None]


def _no_progress(message: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class AuditPlan:
    """What to audit, from the command line: explicit scopes, subscriptions, management groups or all."""

    subscriptions: tuple[str, ...] = ()
    management_groups: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    all_subscriptions: bool = False

    @property
    def roots(self) -> tuple[str, ...]:
        """The audited scopes, normalised: an assignment above all of them is *inherited*."""
        if self.all_subscriptions:
            return ("/",)
        found = [f"/subscriptions/{s}" for s in self.subscriptions]
        found += [f"/providers/Microsoft.Management/managementGroups/{g}" for g in self.management_groups]
        found += list(self.scopes)
        return tuple(norm_scope(s) for s in found)


def compact_assignment(item: Mapping[str, Any]) -> RoleAssignment | None:
    """An ARM role assignment or an ARG ``authorizationresources`` row (same ``properties``) as the
    :class:`~preflight.rbac.RoleAssignment` every other reader makes too, built compact for 100,000 of them: the
    strings that repeat (scopes, roles, principals, creators) interned, the creator lowercased to join the
    directory by id. ``None`` for an item with no id or no properties (nothing to audit)."""
    props = item.get("properties")
    if not isinstance(props, Mapping) or not item.get("id"):
        return None
    intern = sys.intern
    return RoleAssignment(
        id=str(item["id"]),
        scope=intern(str(props.get("scope") or "/")),
        role_definition_id=intern(str(props.get("roleDefinitionId") or "")),
        principal_id=intern(str(props.get("principalId") or "").lower()),
        principal_type=intern(str(props.get("principalType") or "Unknown")),
        created_on=_opt(props.get("createdOn")),
        created_by=_interned(props.get("createdBy")),
        updated_on=_opt(props.get("updatedOn")),
        condition=_opt(props.get("condition")),
        condition_version=_opt(props.get("conditionVersion")),
        description=_opt(props.get("description")),
    )


def _opt(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _interned(value: Any) -> str | None:
    return None if value in (None, "") else sys.intern(str(value).lower())


@dataclass(frozen=True, slots=True)
class Collected:
    """The assignments found, how (``resource-graph`` or ``arm``), why ARG was not used, and what could not
    be read (a subscription that refused the listing is reported, never silently left out). ``unknown``: the
    subscriptions, management groups or scopes the user NAMED that ARM does not know or will not show the
    caller (404 / 403) — nothing was audited there, so the audit is not a pass."""

    assignments: tuple[RoleAssignment, ...]
    source: str
    fallback_reason: str | None = None
    errors: tuple[str, ...] = ()
    subscriptions: tuple[str, ...] = field(default=())
    unknown: tuple[str, ...] = ()


@lru_cache(maxsize=65536)  # scopes repeat (a few per subscription): 100,000 rows, a few thousand distinct
def norm_scope(scope: str) -> str:
    """Lower-case, ``/``-led, no trailing or doubled slashes (``/`` for the tenant root)."""
    parts = [p for p in scope.strip().split("/") if p]
    return ("/" + "/".join(parts)).lower() if parts else "/"


@lru_cache(maxsize=65536)
def scope_level(scope: str) -> str:
    """``tenant``, ``managementGroup``, ``subscription``, ``resourceGroup`` or ``resource``."""
    parts = norm_scope(scope).strip("/").split("/")
    if parts == [""]:
        return "tenant"
    if norm_scope(scope).startswith(MG_PREFIX):
        return "managementGroup"
    if parts[0] == "subscriptions":
        if len(parts) == 2:
            return "subscription"
        if len(parts) == 4 and parts[2] == "resourcegroups":
            return "resourceGroup"
        return "resource"
    return "resource"


def is_inherited(scope: str, roots: Sequence[str]) -> bool:
    """True when the assignment sits above every audited root (it applies there from a parent scope)."""
    s = norm_scope(scope)
    for root in roots:
        if root == "/" or s == root or s.startswith(root + "/"):
            return False
        if root.startswith(MG_PREFIX) and s.startswith("/subscriptions/"):
            return False  # a subscription the management-group query returned lies beneath it
    return True


def dedupe(items: Iterable[RoleAssignment]) -> tuple[RoleAssignment, ...]:
    """One entry per assignment id (ARM lists an inherited assignment under every subscription)."""
    seen: dict[str, RoleAssignment] = {}
    for item in items:
        seen.setdefault(item.id.lower(), item)
    return tuple(seen.values())


# ------------------------------------------------------------------------------------------------ Resource Graph

ARG_BUDGET_BYTES = 10 * 1024 * 1024  # aim each aggregated page at ~60 % of ARG's 16 MiB response limit
ARG_FIRST_GROUPS = 10  # groups (subscriptions) on the first aggregated page, before their size is known
TOO_LARGE = "ResponsePayloadTooLarge"  # ARG's error detail for a page beyond its response limit
MAX_ARG_RESPONSE = 16_777_216  # bytes; the limit ARG names in that detail ("exceeded the limit of …")


def _payload_limit(exc: RestError) -> int | None:
    found = re.search(r"limit of (\d+)", exc.detail_message(TOO_LARGE))
    return int(found[1]) if found else None


class _Unpackable(Exception):
    """The aggregated query cannot deliver every assignment (a truncated ``make_list``, a single group beyond
    the response limit, or a query shape Resource Graph refused): use the one-row-per-assignment query."""


def via_resource_graph(arm: RestClient, plan: AuditPlan, progress: Progress = _no_progress) -> list[RoleAssignment]:
    """All role assignments through Resource Graph, following ``$skipToken``. Raises RestError on refusal.

    First the aggregated query (one row per subscription carrying all its assignments: ARG's 1,000-row page
    limit then costs a handful of pages for 100,000 assignments instead of 100); when that cannot deliver
    every assignment, the plain query with one row per assignment."""
    try:
        return _aggregated(arm, plan, progress)
    except _Unpackable as exc:
        progress(f"Resource Graph: {exc}; one row per assignment instead")
    return _one_row_each(arm, plan, progress)


def _arg_body(query: str, plan: AuditPlan) -> dict[str, Any]:
    body: dict[str, Any] = {"query": query, "options": {"$top": ARG_PAGE, "resultFormat": "objectArray"}}
    if plan.management_groups:
        body["managementGroups"] = list(plan.management_groups)
    elif plan.subscriptions and not plan.all_subscriptions:
        body["subscriptions"] = list(plan.subscriptions)
    return body


def _aggregated(arm: RestClient, plan: AuditPlan, progress: Progress) -> list[RoleAssignment]:
    """The ``summarize … make_list(pack(id, properties)) by subscriptionId`` query. Page sizes adapt: ARG limits
    pages to 1,000 ROWS but also to 16 MiB of JSON, and a row here is a whole subscription, so ``$top`` (rows
    per page) is set from the bytes per assignment and the largest group seen so far, and halved when ARG
    still answers ``ResponsePayloadTooLarge``. Every group's ``n`` (``count()``) is checked against its list:
    a shorter list (``make_list``'s size limit) means the aggregated answer is incomplete → :class:`_Unpackable`."""
    from preflight.azure.resource_graph import (
        role_assignments_summary_query,  # the one definition of the query
    )

    body = _arg_body(role_assignments_summary_query(columns=("id", "properties")), plan)
    found: list[RoleAssignment] = []
    top, ceiling = ARG_FIRST_GROUPS, ARG_PAGE  # ceiling: below the $top ARG once found too large
    budget = ARG_BUDGET_BYTES
    last_count: int | None = None
    largest = 1
    groups = 0
    seen_tokens: set[str] = set()
    token: str | None = None
    while True:
        body["options"] = {"$top": top, "resultFormat": "objectArray", **({"$skipToken": token} if token else {})}
        try:
            page, size = arm.request_sized("POST", ARG_PATH, {"api-version": ARG_API}, body)
        except RestError as exc:
            if exc.status == 400 and exc.has_detail(TOO_LARGE):
                budget = min(budget, int(0.6 * (_payload_limit(exc) or MAX_ARG_RESPONSE)))
                if top == 1:
                    raise _Unpackable("one subscription's assignments exceed a Resource Graph page") from exc
                # half the rows that page would have held (ARG may send fewer than $top), and never more again
                top = ceiling = max(1, min(top, last_count or top) // 2)
                continue
            if exc.status in (401, 403) or exc.status is None:  # no access / no service: the plain query neither
                raise
            # the shape refused (400 InvalidQuery), or the heavier query failing (5xx after retries): the plain
            # query may still pass
            why = " ".join(str(x) for x in (exc.status, exc.code) if x)
            raise _Unpackable(f"the aggregated query failed ({why})") from exc
        rows, packed, biggest = _unpack(page, found)
        groups += rows
        last_count = rows or None
        largest = max(largest, biggest)
        total = page.get("totalRecords")
        progress(
            f"Resource Graph: {groups}"
            + (f"/{total}" if isinstance(total, int) else "")
            + f" subscriptions and tenant scopes, {len(found)} assignments"
        )
        if page.get("resultTruncated") == "true" and not page.get("$skipToken"):
            raise _Unpackable("Resource Graph truncated the aggregated answer")
        token = page.get("$skipToken")
        if not isinstance(token, str) or not token:
            return found
        _next_token(token, seen_tokens)
        per_assignment = size / packed if packed else 1024.0
        top = max(1, min(ceiling, int(budget / (per_assignment * largest))))
        del page  # ~50 MB of decoded JSON: not alive while the next page decodes


def _rows(page: Mapping[str, Any]) -> list[Any]:
    """A Resource Graph page's ``data``: a list, or a RestError — ``{}`` is not "no assignments"."""
    rows = page.get("data")
    if not isinstance(rows, list):
        raise RestError(
            "POST",
            ARG_PATH,
            None,
            "InvalidAnswer",
            "Resource Graph answered HTTP 200 without a data list: the listing is unusable",
        )
    return rows


def _next_token(token: str, seen: set[str]) -> None:
    """Record a ``$skipToken`` about to be sent; a repeated one (a loop) or more than ``MAX_PAGES`` pages is a
    RestError — never a silently partial inventory, never an endless listing."""
    from preflight.azure.http import MAX_PAGES

    if token in seen:
        raise RestError(
            "POST",
            ARG_PATH,
            None,
            "PageLoop",
            f"Resource Graph repeated a $skipToken after {len(seen) + 1} pages (a loop): the listing stopped",
        )
    if len(seen) + 1 >= MAX_PAGES:
        raise RestError(
            "POST",
            ARG_PATH,
            None,
            "PageLimit",
            f"Resource Graph's answer has more than {MAX_PAGES} pages: the listing stopped at the limit",
        )
    seen.add(token)


def _unpack(page: Mapping[str, Any], found: list[RoleAssignment]) -> tuple[int, int, int]:
    """Append one aggregated page's assignments to ``found``; (rows, assignments, largest group). A list shorter
    than its row's ``n`` raises :class:`_Unpackable`."""
    rows = _rows(page)
    packed = largest = 0
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        items = row.get("assignments")
        items = items if isinstance(items, list) else []
        count = row.get("n")
        if not isinstance(count, int) or count != len(items):
            raise _Unpackable(
                f"the list of subscription {row.get('subscriptionId') or '(none)'!r} holds "
                f"{len(items)} of {count} assignments"
            )
        packed += count
        largest = max(largest, count)
        found.extend(a for a in (compact_assignment(i) for i in items if isinstance(i, Mapping)) if a is not None)
    return len(rows), packed, largest


def _one_row_each(arm: RestClient, plan: AuditPlan, progress: Progress) -> list[RoleAssignment]:
    """The plain query, one row per assignment, 1,000 rows a page."""
    from preflight.azure.resource_graph import (
        role_assignments_query,  # the one definition of the query
    )

    # only the columns the audit reads: half the bytes to send and decode per 1,000-row page
    body = _arg_body(role_assignments_query(columns=("id", "properties")), plan)
    found: list[RoleAssignment] = []
    seen_tokens: set[str] = set()
    while True:
        try:
            page = arm.post(ARG_PATH, body, params={"api-version": ARG_API})
        except RestError as exc:  # 1,000 rows with long conditions can pass 16 MiB too: smaller pages
            top = int(body["options"]["$top"])
            if exc.status == 400 and exc.has_detail(TOO_LARGE) and top > 1:
                body["options"] = {**body["options"], "$top": max(1, top // 2)}
                continue
            raise
        for row in _rows(page):
            if isinstance(row, Mapping) and (item := compact_assignment(row)) is not None:
                found.append(item)
        total = page.get("totalRecords")
        progress(f"Resource Graph: {len(found)}" + (f"/{total}" if isinstance(total, int) else "") + " assignments")
        token = page.get("$skipToken")
        if not isinstance(token, str) or not token:
            return found
        _next_token(token, seen_tokens)
        body["options"] = {**body["options"], "$skipToken": token}
        del page  # not alive while the next page decodes


# ------------------------------------------------------------------------------------------------ ARM fallback


def list_subscriptions(arm: RestClient) -> list[str]:
    """Every subscription the caller can see (``GET /subscriptions``, all pages)."""
    ids: list[str] = []
    for page in arm.pages("/subscriptions", {"api-version": SUBSCRIPTIONS_API}):
        ids.extend(str(s["subscriptionId"]) for s in page if s.get("subscriptionId"))
    return ids


def _list_at(arm: RestClient, scope: str) -> list[RoleAssignment]:
    path = (
        "" if norm_scope(scope) == "/" else "/" + scope.strip("/")
    ) + "/providers/Microsoft.Authorization/roleAssignments"
    found: list[RoleAssignment] = []
    for page in arm.pages(path, {"api-version": AUTHZ_API}):
        found.extend(a for a in (compact_assignment(i) for i in page) if a is not None)
    return found


def via_arm(
    arm: RestClient, scopes: Sequence[str], progress: Progress = _no_progress, workers: int = ARM_WORKERS
) -> tuple[list[RoleAssignment], list[tuple[str, RestError]]]:
    """Role assignments at, above and below each scope, listed concurrently (at most ``workers`` at once).
    Returns the assignments and, per scope that could not be read, the scope and why."""
    found: list[RoleAssignment] = []
    failed: list[tuple[str, RestError]] = []
    done = 0

    def one(scope: str) -> tuple[str, list[RoleAssignment] | RestError]:
        try:
            return scope, _list_at(arm, scope)
        except RestError as exc:
            return scope, exc

    for scope, outcome in map_bounded(one, scopes, workers, "preflight-audit"):
        done += 1
        if isinstance(outcome, RestError):
            failed.append((scope, outcome))
        else:
            found.extend(outcome)
        progress(f"ARM: {done}/{len(scopes)} scopes, {len(found)} assignments")
    return found, failed


def _unreadable(scope: str, exc: RestError) -> str:
    return f"{scope}: {exc.status or ''} {exc.code or ''} {exc.message}".strip()


NOT_THERE = (403, 404)  # ARM's answers for a scope that does not exist or that the caller may not see


def unknown_roots(arm: RestClient, plan: AuditPlan, found: Sequence[RoleAssignment]) -> list[str]:
    """The subscriptions and management groups the plan names that ARM does not show the caller (404, or 403:
    ARM answers a missing management group like a hidden one) — a mistyped id audits nothing and must not look
    like a clean estate. Resource Graph answers such a query with no rows (or refuses it), so each named group is
    read once, and each named subscription that returned no assignment (one that did evidently exists)."""
    listed = {norm_scope(a.scope).split("/")[2] for a in found if norm_scope(a.scope).startswith("/subscriptions/")}
    wanted = [(f"/subscriptions/{s}", SUBSCRIPTIONS_API) for s in plan.subscriptions if s.lower() not in listed]
    wanted += [
        (f"/providers/Microsoft.Management/managementGroups/{g}", MANAGEMENT_GROUPS_API) for g in plan.management_groups
    ]
    unknown = []
    for path, api in wanted:
        try:
            arm.get(path, {"api-version": api})
        except RestError as exc:
            if exc.status in NOT_THERE:
                unknown.append(_unreadable(path, exc))
    return unknown


def arm_scopes(arm: RestClient, plan: AuditPlan) -> list[str]:
    """The scopes the ARM path lists: explicit scopes, management groups and subscriptions (all of them for
    ``--all-subscriptions``)."""
    scopes = [norm_scope(s) for s in plan.scopes]
    scopes += [f"/providers/Microsoft.Management/managementGroups/{g}" for g in plan.management_groups]
    subscriptions = list(plan.subscriptions)
    if plan.all_subscriptions:
        subscriptions = list_subscriptions(arm)
    scopes += [f"/subscriptions/{s}" for s in subscriptions]
    return scopes


def collect(arm: RestClient, plan: AuditPlan, progress: Progress = _no_progress) -> Collected:
    """Resource Graph first (unless explicit ``--scope``s ask for ARM's at/above/below semantics), ARM when
    Resource Graph refuses. Named scopes ARM does not show the caller are ``unknown`` (see :func:`unknown_roots`)."""
    reason = None
    if not plan.scopes:
        try:
            found = dedupe(via_resource_graph(arm, plan, progress))
        except RestError as exc:
            reason = f"Resource Graph refused the query ({exc.status or ''} {exc.code or ''}); listed through ARM"
        else:
            return Collected(found, "resource-graph", unknown=tuple(unknown_roots(arm, plan, found)))
    scopes = arm_scopes(arm, plan)
    listed, failed = via_arm(arm, scopes, progress)
    named = set() if plan.all_subscriptions else {norm_scope(r) for r in plan.roots}
    unknown = tuple(_unreadable(s, e) for s, e in failed if e.status in NOT_THERE and norm_scope(s) in named)
    errors = tuple(_unreadable(s, e) for s, e in failed if _unreadable(s, e) not in unknown)
    return Collected(dedupe(listed), "arm", reason, errors, unknown=unknown)


# ------------------------------------------------------------------------------------------------ definitions


def role_definitions(
    arm: RestClient, assignments: Sequence[RoleAssignment], workers: int = ARM_WORKERS
) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Each distinct role definition the assignments name, by lower-case GUID: one listing at a subscription
    the assignments live in (built-ins plus the custom roles assignable there), then one GET per GUID that
    listing did not contain (custom roles assignable elsewhere). Returns the definitions and read errors."""
    wanted: dict[str, str] = {}
    for a in assignments:
        wanted.setdefault(a.role_guid, a.role_definition_id)
    found: dict[str, dict[str, Any]] = {}
    errors: list[str] = []
    if not wanted:
        return found, errors
    subscription = next(
        (a.scope.split("/")[2] for a in assignments if norm_scope(a.scope).startswith("/subscriptions/")), None
    )
    base = f"/subscriptions/{subscription}" if subscription else ""
    try:
        for page in arm.pages(base + "/providers/Microsoft.Authorization/roleDefinitions", {"api-version": AUTHZ_API}):
            for rd in page:
                guid = str(rd.get("name", "")).lower()
                if guid in wanted:
                    found[guid] = rd
    except RestError as exc:
        errors.append(f"role definitions at {base or '/'}: {exc}")
    missing = [wanted[g] for g in wanted if g not in found]

    def one(definition_id: str) -> dict[str, Any] | RestError:
        try:
            return arm.get(definition_id, {"api-version": AUTHZ_API})
        except RestError as exc:
            return exc

    if missing:
        for definition_id, outcome in zip(missing, map_bounded(one, missing, workers, "preflight-audit"), strict=True):
            if isinstance(outcome, RestError):
                errors.append(f"{definition_id}: {outcome.status or ''} {outcome.code or ''}".strip())
            else:
                found[str(outcome.get("name", "")).lower()] = outcome
    return found, errors


def classic_administrators(
    arm: RestClient, subscriptions: Sequence[str], workers: int = ARM_WORKERS
) -> tuple[list[dict[str, Any]], list[str]]:
    """Classic (co-)administrators per subscription, where readable; returns rows and refusals."""

    def one(subscription: str) -> list[dict[str, Any]] | RestError:
        try:
            items: list[dict[str, Any]] = []
            for page in arm.pages(
                f"/subscriptions/{subscription}/providers/Microsoft.Authorization/classicAdministrators",
                {"api-version": CLASSIC_API},
            ):
                items.extend({"subscription": subscription, **(i.get("properties") or {})} for i in page)
            return items
        except RestError as exc:
            return exc

    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    if not subscriptions:
        return rows, errors
    for subscription, outcome in zip(
        subscriptions, map_bounded(one, subscriptions, workers, "preflight-audit"), strict=True
    ):
        if isinstance(outcome, RestError):
            errors.append(f"{subscription}: {outcome.status or ''} {outcome.code or ''}".strip())
        else:
            rows.extend(outcome)
    return rows, errors
