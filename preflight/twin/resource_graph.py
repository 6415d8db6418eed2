"""Azure Resource Graph on the twin: ``POST /providers/Microsoft.ResourceGraph/resources``.

Two roads. The queries preflight sends, defined by the product's builders in :mod:`preflight.azure.resource_graph`
and named below (one definition, no drift; the product never imports the twin), take a fast path tuned for
100,000 assignments. Every other query — what a person types into ``az graph query`` — is parsed and evaluated
by the KQL subset of :mod:`preflight.twin.kql` (where / project / extend / summarize / join / order / take / top
/ distinct / count over ``resources``, ``authorizationresources`` and ``resourcecontainers``, each limited to
what the caller may read); syntax outside it gets the real 400 ``BadRequest`` / ``InvalidQuery`` answer:

1. role assignments, tenant-wide (:func:`role_assignments_query`)::

       authorizationresources | where type =~ 'microsoft.authorization/roleassignments'
         [| where properties.principalId in~ ('<id>', …)]
         [| where properties.scope in~ ('<scope>', …)]

2. Cognitive Services accounts (:func:`accounts_query`), e.g. to find the account behind an endpoint::

       resources | where type =~ 'microsoft.cognitiveservices/accounts'
         [| where properties.endpoint =~ '<url>' | where properties.customSubDomainName =~ '<sub>'
          | where name =~ '<name>']

   or, aggregated so that one row carries many assignments (:func:`role_assignments_summary_query`; ARG
   pages hold at most 1,000 ROWS, so 100,000 assignments need 100 pages one by one, but far fewer packed)::

       authorizationresources | where type =~ 'microsoft.authorization/roleassignments'
         | summarize n = count(), assignments = make_list(pack('id', id, 'properties', properties)) by subscriptionId
         | order by subscriptionId asc

   The twin implements exactly this subset of ``summarize`` (KQL semantics): aggregates ``count()`` and
   ``make_list(expr [, maxSize])`` with ``expr`` a column or ``pack``/``bag_pack('key', column, …)``, one
   ``by`` column, then an optional ``order by``/``sort by`` column (``desc`` by default, as in KQL). Group-by
   columns come first in each row. ``make_list`` keeps at most ``maxSize`` elements (default and maximum
   1,048,576; the scenario option ``x-argMakeListMaxSize`` lowers the twin's cap to exercise truncation).

3. subscriptions with their management-group ancestry (:func:`subscriptions_query`; each row's
   ``properties.managementGroupAncestorsChain`` lists ``{name, displayName}`` nearest first, as ARG does)::

       resourcecontainers | where type =~ 'microsoft.resources/subscriptions'
         [| where subscriptionId in~ ('<id>', …)]

Request body (api-version 2021-03-01 / 2022-10-01): ``subscriptions``, ``managementGroups``, ``query``,
``options`` {``$top``, ``$skip``, ``$skipToken``, ``resultFormat`` (only ``objectArray``)}. Response:
``totalRecords``, ``count``, ``data`` (rows), ``facets`` [], ``resultTruncated`` "false", ``$skipToken`` when
more rows follow (pages of ``options.pageSize`` of the scenario, or ``$top`` if smaller). Like ARG, no
``$skipToken`` when every output column is dynamic (``resultTruncated`` "true" instead), and a 400
``ResponsePayloadTooLarge`` when a page's JSON exceeds 16,777,216 bytes (scenario option
``x-argMaxResponseBytes`` lowers the limit).
Rows are limited, like ARG, to subscriptions the caller holds a role in (and, for ``resources``, to resources
it may read; for ``authorizationresources``, to assignments at scopes where it may read role assignments —
``Microsoft.Authorization/roleAssignments/read``, which Reader has and Cognitive Services User has not);
tenant and management-group level assignments are included when the request names no subscriptions or names
management groups.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from preflight.quoting import Quotes
from preflight.twin import access, kql
from preflight.twin.arm_common import arm_error, authenticate
from preflight.twin.http import (
    RESOURCE_GRAPH,
    Caller,
    Router,
    TwinRequest,
    TwinResponse,
    TwinState,
    strip_twin_fields,
)
from preflight.twin.scenario import ACCOUNT_TYPE, iso_time, option

SUBSCRIPTION_TYPE = "microsoft.resources/subscriptions"
_MAX_TOP = 1000


# ------------------------------------------------------------------------------------------------ parsing

_STR = r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\""
_STR_RE = re.compile(_STR)


def _strings(text: str) -> list[str]:
    return [re.sub(r"\\(.)", r"\1", a or b) for a, b in _STR_RE.findall(text)]


def _split_stages(query: str) -> list[str]:
    """Split on ``|`` outside string literals; collapse whitespace."""
    stages, current, quote = [], "", ""
    for ch in query:
        if quote:
            current += ch
            if ch == quote and not current.endswith("\\" + quote):
                quote = ""
        elif ch in "'\"":
            quote, current = ch, current + ch
        elif ch == "|":
            stages.append(current)
            current = ""
        else:
            current += ch
    stages.append(current)
    return [" ".join(s.split()) for s in stages]


@dataclass(frozen=True, slots=True)
class Aggregate:
    """One ``name = count()`` or ``name = make_list(expr [, maxSize])``; ``pack`` is the (key, column) pairs of
    a ``pack``/``bag_pack`` expression, or empty when ``make_list`` takes the bare ``column``."""

    name: str
    function: str  # "count" | "make_list"
    column: str | None = None
    pack: tuple[tuple[str, str], ...] = ()
    max_size: int | None = None


@dataclass(frozen=True, slots=True)
class Summary:
    """``| summarize <aggregates> by <by> [| order by <column> [asc|desc]]``."""

    aggregates: tuple[Aggregate, ...]
    by: str
    order: tuple[str, bool] | None = None  # (column, descending)

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.by, *(a.name for a in self.aggregates))

    @property
    def dynamic(self) -> frozenset[str]:
        return frozenset(a.name for a in self.aggregates if a.function == "make_list")


class Query:
    """A recognised query: the table and its ``where`` predicates (field, operator, values)."""

    def __init__(
        self,
        table: str,
        wheres: list[tuple[str, str, list[str]]],
        columns: tuple[str, ...] = (),
        summary: Summary | None = None,
    ) -> None:
        self.table = table
        self.wheres = wheres
        self.columns = columns  # a final ``| project a, b``: only these columns (KQL: names are case-sensitive)
        self.summary = summary  # a final ``| summarize … by …`` (see the module docstring)

    @property
    def needed(self) -> frozenset[str] | None:
        """The row columns the query reads (``where`` fields live in ``properties``), None for all of them."""
        if self.summary is not None:
            used = {self.summary.by}
            for agg in self.summary.aggregates:
                used |= {agg.column} if agg.column else set()
                used |= {column for _, column in agg.pack}
        elif self.columns:
            used = set(self.columns)
        else:
            return None
        return frozenset(used | ({"properties"} if self.wheres else set()))

    @property
    def all_dynamic(self) -> bool:
        """Every output column is dynamic: ARG cannot page such a result (no ``$skipToken``)."""
        if self.summary is not None:
            return set(self.summary.columns) <= self.summary.dynamic
        return bool(self.columns) and set(self.columns) <= _DYNAMIC


# the columns every row has (see _row), which ``project`` may name
_COLUMNS = frozenset(
    {
        "id",
        "name",
        "type",
        "tenantId",
        "kind",
        "location",
        "resourceGroup",
        "subscriptionId",
        "managedBy",
        "sku",
        "plan",
        "properties",
        "tags",
        "identity",
        "zones",
        "extendedLocation",
    }
)
_DYNAMIC = frozenset({"sku", "plan", "properties", "tags", "identity", "zones", "extendedLocation"})
MAKE_LIST_MAX = 1_048_576  # make_list's default and maximum maxSize (KQL)
MAX_RESPONSE_BYTES = 16_777_216  # ARG's limit on one response (400 ResponsePayloadTooLarge beyond it)
_TABLES = {
    "authorizationresources": "microsoft.authorization/roleassignments",
    "resources": ACCOUNT_TYPE,
    "resourcecontainers": SUBSCRIPTION_TYPE,
}
_FIELDS = {
    "authorizationresources": ("properties.principalid", "properties.scope", "properties.roledefinitionid"),
    "resources": ("properties.endpoint", "properties.customsubdomainname", "name", "resourcegroup", "subscriptionid"),
    "resourcecontainers": ("subscriptionid", "name"),
}


def _split_args(text: str) -> list[str] | None:
    """Split on commas outside parentheses and string literals; None when parentheses do not balance."""
    parts, current, depth, quotes = [], "", 0, Quotes()
    for ch in text:
        if quotes.code(ch):
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
                if depth < 0:
                    return None
            elif ch == "," and depth == 0:
                parts.append(current.strip())
                current = ""
                continue
        current += ch
    if depth or quotes.open:
        return None
    parts.append(current.strip())
    return parts


def _call(text: str, names: tuple[str, ...]) -> tuple[str, list[str]] | None:
    """``name(arg, …)`` with ``name`` one of ``names`` (case-sensitive, as KQL) → (name, args)."""
    m = re.fullmatch(r"(\w+)\s*\((.*)\)", text.strip(), re.DOTALL)
    if not m or m[1] not in names:
        return None
    args = _split_args(m[2]) if m[2].strip() else []
    return None if args is None else (m[1], args)


def _aggregate(text: str) -> Aggregate | None:
    m = re.fullmatch(r"(?:(\w+)\s*=\s*)?(.+)", text.strip(), re.DOTALL)
    if not m:
        return None
    called = _call(m[2], ("count", "make_list"))
    if called is None:
        return None
    function, args = called
    if function == "count":
        return None if args else Aggregate(m[1] or "count_", "count")
    if not 1 <= len(args) <= 2:
        return None
    max_size = None
    if len(args) == 2:
        if not re.fullmatch(r"\d+", args[1]):
            return None
        max_size = int(args[1])
    if args[0] in _COLUMNS:
        return Aggregate(m[1] or f"list_{args[0]}", "make_list", column=args[0], max_size=max_size)
    packed = _call(args[0], ("pack", "bag_pack"))
    if packed is None or not m[1] or not packed[1] or len(packed[1]) % 2:
        return None  # KQL names a make_list of an expression list_; the twin asks for an explicit name
    pairs = []
    for key, column in zip(packed[1][::2], packed[1][1::2], strict=False):
        keys = _strings(key)
        if len(keys) != 1 or not _STR_RE.fullmatch(key) or column not in _COLUMNS:
            return None
        pairs.append((keys[0], column))
    return Aggregate(m[1], "make_list", pack=tuple(pairs), max_size=max_size)


def _summary(stages: list[str]) -> Summary | None:
    """``summarize … by <column>`` and an optional following ``order by`` / ``sort by``."""
    m = re.fullmatch(r"summarize\s+(.+)\s+by\s+(\w+)", stages[0], re.DOTALL)
    if not m or m[2] not in _COLUMNS or m[2] in _DYNAMIC:  # KQL cannot group by a dynamic column
        return None
    texts = _split_args(m[1])
    aggregates = tuple(a for a in (_aggregate(t) for t in texts or []) if a is not None)
    if not texts or len(aggregates) != len(texts) or len({a.name for a in aggregates} | {m[2]}) != len(texts) + 1:
        return None
    order = None
    if len(stages) == 2:
        o = re.fullmatch(r"(?:order|sort)\s+by\s+(\w+)(?:\s+(asc|desc))?", stages[1])
        if not o or o[1] not in (m[2], *(a.name for a in aggregates)):
            return None
        order = (o[1], o[2] != "asc")  # KQL sorts descending unless asked otherwise
    elif len(stages) > 2:
        return None
    return Summary(aggregates, m[2], order)


def parse_query(query: str) -> Query | None:
    """Recognise one of the supported queries (loosely: case, whitespace and quote style are free)."""
    stages = _split_stages(query)
    table = stages[0].strip().lower()
    if table not in _TABLES or len(stages) < 2:
        return None
    columns: tuple[str, ...] = ()
    summary: Summary | None = None
    at = next((i for i, stage in enumerate(stages) if i > 1 and stage.startswith("summarize ")), None)
    if at is not None:
        summary = _summary(stages[at:])
        if summary is None:
            return None
        stages = stages[:at]
    project = re.fullmatch(r"project\s+(\w+(?:\s*,\s*\w+)*)", stages[-1])
    if summary is None and project and len(stages) > 2:
        columns = tuple(c.strip() for c in project[1].split(","))
        if not set(columns) <= _COLUMNS:
            return None
        stages = stages[:-1]
    type_where = re.fullmatch(r"where type\s*(=~|==)\s*(?:" + _STR + ")", stages[1], re.IGNORECASE)
    if not type_where or _strings(stages[1])[0].lower() != _TABLES[table]:
        return None
    wheres: list[tuple[str, str, list[str]]] = []
    for stage in stages[2:]:
        m = re.fullmatch(r"where\s+(?:tolower\()?([\w.\[\]']+)\)?\s*(=~|==|in~|in)\s*(.+)", stage, re.IGNORECASE)
        if not m:
            return None
        field = m[1].lower().replace("['", ".").replace("']", "")
        if field not in _FIELDS[table]:
            return None
        values = _strings(m[3])
        if not values:
            return None
        wheres.append((field, m[2].lower(), values))
    return Query(table, wheres, columns, summary)


def _field(row: Mapping[str, Any], field: str) -> str:
    cur: Any = row
    for part in field.split("."):
        if not isinstance(cur, Mapping):
            return ""
        cur = next((v for k, v in cur.items() if k.lower() == part), None)
    return "" if cur is None else str(cur)


def _matches(row: Mapping[str, Any], wheres: Sequence[tuple[str, str, list[str]]]) -> bool:
    for field, op, values in wheres:
        actual = _field(row, field)
        if field in ("properties.endpoint", "properties.scope"):
            actual = actual.rstrip("/")
            values = [v.rstrip("/") for v in values]
        if op in ("==", "in"):
            if actual not in values:
                return False
        elif actual.lower() not in {v.lower() for v in values}:
            return False
    return True


# ------------------------------------------------------------------------------------------------ rows


def _row(item: Mapping[str, Any], tenant_id: str, table_type: str) -> dict[str, Any]:
    """An ARG row: the ARM object with ARG's lower-cased ``type``/``resourceGroup`` and standard columns."""
    rid = str(item.get("id", ""))
    parts = rid.strip("/").split("/")
    sub = parts[1] if len(parts) > 1 and parts[0].lower() == "subscriptions" else ""
    rg = parts[3].lower() if len(parts) > 3 and parts[2].lower() == "resourcegroups" else ""
    if table_type == "microsoft.authorization/roleassignments":
        # from the scope; a management-group scope has neither (its 4th segment is the group, not a resource group)
        sub, rg = _scope_parts(str(item["properties"].get("scope", "")))
    return {
        "id": rid,
        "name": item.get("name", ""),
        "type": table_type,
        "tenantId": tenant_id,
        "kind": item.get("kind", ""),
        "location": str(item.get("location", "")).lower(),
        "resourceGroup": rg,
        "subscriptionId": sub,
        "managedBy": item.get("managedBy", ""),
        "sku": item.get("sku"),
        "plan": item.get("plan"),
        "properties": item.get("properties", {}),
        "tags": item.get("tags"),
        "identity": item.get("identity"),
        "zones": item.get("zones"),
        "extendedLocation": item.get("extendedLocation"),
    }


@functools.lru_cache(maxsize=65536)  # scopes repeat: 100,000 assignments, a few thousand distinct scopes
def _scope_parts(scope: str) -> tuple[str, str]:
    """(subscription id as written, lower-cased resource group) of a scope; "" where it has none."""
    parts = [p for p in scope.split("/") if p]
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        return "", ""
    return parts[1], (parts[3].lower() if len(parts) > 3 else "")


_ASSIGNMENT_TYPE = "microsoft.authorization/roleassignments"


def _assignment_row(
    ra: Mapping[str, Any], tenant_id: str, sub: str, rg: str, needed: frozenset[str] | None
) -> dict[str, Any]:
    """An ``authorizationresources`` row of a role assignment — only the ``needed`` columns (None: all), and
    its flat properties without twin-only fields: the first query over 100,000 assignments builds them all."""
    props = ra["properties"]
    if "x-twin" in "|".join(props):  # one C-level scan instead of a generator per key
        props = {k: v for k, v in props.items() if not k.startswith("x-twin")}
    if needed is None:
        return _row(dict(ra, properties=props), tenant_id, _ASSIGNMENT_TYPE)
    row: dict[str, Any] = {}
    for column in needed:
        if column == "id":
            row["id"] = str(ra.get("id", ""))
        elif column == "properties":
            row["properties"] = props
        elif column == "subscriptionId":
            row["subscriptionId"] = sub
        elif column == "resourceGroup":
            row["resourceGroup"] = rg
        elif column == "type":
            row["type"] = _ASSIGNMENT_TYPE
        elif column == "tenantId":
            row["tenantId"] = tenant_id
        elif column == "name":
            row["name"] = ra.get("name", "")
        else:
            row[column] = _row(ra, tenant_id, _ASSIGNMENT_TYPE)[column]
    return row


def _rows(
    state: TwinState, caller: Caller, query: Query, subscriptions: list[str], tenant_level: bool
) -> list[dict[str, Any]]:
    scenario = state.scenario
    wanted = {s.lower() for s in subscriptions}
    tid = str(scenario["tenant"]["tenantId"])
    rows: list[dict[str, Any]] = []
    if query.table == "authorizationresources":
        needed = query.needed
        readable = _AssignmentReadScopes(scenario, caller.object_id)
        for ra in scenario.get("roleAssignments", []):
            # the subscription an assignment lives in, if any (management-group / tenant ones have none)
            scope = str(ra["properties"].get("scope", ""))
            sub, rg = _scope_parts(scope)
            if not sub:
                if not tenant_level:
                    continue
            elif sub.lower() not in wanted:
                continue
            if not readable(scope, sub):
                continue
            rows.append(_assignment_row(ra, tid, sub, rg, needed))
    elif query.table == "resourcecontainers":
        for sub in scenario.get("subscriptions", []):
            if str(sub.get("subscriptionId", "")).lower() not in wanted:
                continue
            rows.append(_subscription_row(scenario, sub, tid))
    else:
        for res in scenario.get("resources", []):
            if str(res.get("type", "")).lower() != ACCOUNT_TYPE:
                continue
            if res["id"].split("/")[2].lower() not in wanted:
                continue
            if not access.check(
                scenario, caller.object_id, "Microsoft.CognitiveServices/accounts/read", res["id"]
            ).allowed:
                continue
            rows.append(_row(res, tid, ACCOUNT_TYPE))
    return [r for r in rows if _matches(r, query.wheres)]


def _table_rows(
    state: TwinState, caller: Caller, subscriptions: list[str], tenant_level: bool, table: str
) -> list[dict[str, Any]]:
    """Every row of ``table`` the caller may see (for the general KQL subset): ``resources`` holds each
    resource of the scenario the caller may read (``<type>/read``), ``resourcecontainers`` the subscriptions and
    their resource groups, ``authorizationresources`` the readable role assignments."""
    scenario = state.scenario
    wanted = {s.lower() for s in subscriptions}
    tid = str(scenario["tenant"]["tenantId"])
    if table == "authorizationresources":
        return _rows(state, caller, Query(table, []), subscriptions, tenant_level)
    rows: list[dict[str, Any]] = []
    if table == "resourcecontainers":
        rows = [
            _subscription_row(scenario, s, tid)
            for s in scenario.get("subscriptions", [])
            if str(s.get("subscriptionId", "")).lower() in wanted
        ]
        for group in scenario.get("resourceGroups", []):
            rid = str(group.get("id", ""))
            if rid.split("/")[2].lower() in wanted and access.has_any_access(scenario, caller.object_id, rid):
                rows.append(_row(group, tid, RESOURCE_GROUP_TYPE))
        return [_strip_row(r) for r in rows]
    for res in scenario.get("resources", []):
        rid, rtype = str(res.get("id", "")), str(res.get("type", ""))
        if rid.split("/")[2].lower() not in wanted:
            continue
        if access.check(scenario, caller.object_id, f"{rtype}/read", rid).allowed:
            rows.append(_strip_row(_row(res, tid, rtype.lower())))
    return rows


RESOURCE_GROUP_TYPE = "microsoft.resources/subscriptions/resourcegroups"
READ_ASSIGNMENTS = "Microsoft.Authorization/roleAssignments/read"


class _AssignmentReadScopes:
    """Where the caller may read role assignments, for trimming ``authorizationresources`` rows as ARG does.

    The roots are the scopes of the caller's own assignments (direct or through groups) at which the twin's RBAC
    check grants ``roleAssignments/read``; a row is readable when a root is at or above its scope, or when its
    scope is above a root (an inherited assignment, which ARM's own list at the root shows too). Computed once
    per query, then a prefix test per row (100,000 rows must not each walk the management-group tree); a deny
    assignment on ``roleAssignments/read`` below a root is not applied (no built-in scenario has one)."""

    def __init__(self, scenario: Mapping[str, Any], object_id: str) -> None:
        self.scenario = scenario
        by_principal = access.assignments_by_principal(scenario)
        roots = {
            access.norm_scope(str(ra["properties"].get("scope", "/")))
            for who in access.principal_ids(scenario, object_id)
            for _, ra in by_principal.get(who, ())
        }
        granted = [r for r in roots if access.check(scenario, object_id, READ_ASSIGNMENTS, r).allowed]
        self.everywhere = "/" in granted
        self.groups = {r for r in granted if r.startswith("/providers/microsoft.management/managementgroups/")}
        self.prefixes = tuple(r for r in granted if r.startswith("/subscriptions/"))
        self.above = {a for r in granted for a in access.ancestors(scenario, r)}
        self._by_subscription: dict[str, bool] = {}
        self._by_scope: dict[str, bool] = {}  # scopes repeat (thousands distinct among 100,000 rows)

    def __call__(self, scope: str, subscription: str) -> bool:
        if self.everywhere:
            return True
        known = self._by_scope.get(scope)
        if known is None:
            known = self._by_scope[scope] = self._readable(scope, subscription)
        return known

    def _readable(self, scope: str, subscription: str) -> bool:
        scope_n = access.norm_scope(scope)
        if scope_n in self.above or any(scope_n.startswith(p + "/") for p in self.prefixes):
            return True
        if not self.groups:
            return False
        if subscription:
            key = subscription.lower()
            if key not in self._by_subscription:
                chain = access.management_group_chain(self.scenario, subscription)
                self._by_subscription[key] = bool(self.groups.intersection(chain))
            return self._by_subscription[key]
        chain = access.management_group_chain(self.scenario, None, scope_n) if scope_n != "/" else []
        return bool(self.groups.intersection(chain))


_CACHE_LOCK = threading.Lock()
_CACHE: list[Any] = [None, -1, {}]  # [scenario, number of assignments, key -> rows]


def _cached_rows(
    state: TwinState, caller: Caller, query_text: str, query: Query, subscriptions: list[str], tenant_level: bool
) -> list[dict[str, Any]]:
    """The rows of one query, computed once per served scenario and reused for its ``$skipToken`` pages: like
    ARG's own result snapshot, and what keeps 100 pages over 100,000 assignments from rescanning them 100 times.
    Dropped when another scenario is served or assignments are appended."""
    scenario = state.scenario
    size = len(scenario.get("roleAssignments", []))
    key = (caller.object_id.lower(), query_text, tuple(sorted(s.lower() for s in subscriptions)), tenant_level)
    with _CACHE_LOCK:
        if _CACHE[0] is not scenario or _CACHE[1] != size:
            _CACHE[:] = [scenario, size, {}]
        cache: dict[Any, list[dict[str, Any]]] = _CACHE[2]
        if key not in cache:
            if len(cache) >= 16:
                cache.clear()
            rows = _rows(state, caller, query, subscriptions, tenant_level)
            if query.table != "authorizationresources":  # assignment rows come out stripped
                rows = [_strip_row(row) for row in rows]
            if query.summary is not None:
                rows = summarize(
                    rows, query.summary, int((scenario.get("options") or {}).get("x-argMakeListMaxSize", MAKE_LIST_MAX))
                )
            elif query.columns:
                rows = [{c: row.get(c) for c in query.columns} for row in rows]
            cache[key] = rows
        return cache[key]


def summarize(
    rows: Sequence[Mapping[str, Any]], summary: Summary, list_cap: int = MAKE_LIST_MAX
) -> list[dict[str, Any]]:
    """KQL ``summarize`` over rows: one output row per distinct ``by`` value (in order of first appearance
    unless ordered), the group key first, then each aggregate. ``make_list`` keeps at most
    ``min(maxSize, list_cap)`` elements — silently, as KQL does (``count()`` still counts them all)."""
    groups: dict[Any, list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row.get(summary.by), []).append(row)
    out: list[dict[str, Any]] = []
    for key, members in groups.items():
        result: dict[str, Any] = {summary.by: key}
        for agg in summary.aggregates:
            if agg.function == "count":
                result[agg.name] = len(members)
                continue
            limit = min(agg.max_size or MAKE_LIST_MAX, list_cap, MAKE_LIST_MAX)
            chosen = members[:limit]
            if agg.pack:
                result[agg.name] = [{k: m.get(c) for k, c in agg.pack} for m in chosen]
            else:  # null values are ignored by make_list
                result[agg.name] = [m.get(agg.column or "") for m in chosen if m.get(agg.column or "") is not None]
        out.append(result)
    if summary.order is not None:
        column, descending = summary.order
        out.sort(key=lambda r: (r.get(column) is None, r.get(column)), reverse=descending)
    return out


def _strip_row(row: dict[str, Any]) -> dict[str, Any]:
    """``strip_twin_fields`` for a row, cheaply: a role assignment's properties are flat, so one level is exact
    there (a deep walk over 100,000 rows took seconds); other tables get the full walk of their properties."""
    props = row.get("properties")
    if isinstance(props, dict):
        if row["type"] == "microsoft.authorization/roleassignments":
            if any(k.startswith("x-twin") for k in props):
                row = dict(row, properties={k: v for k, v in props.items() if not k.startswith("x-twin")})
        else:
            row = dict(row, properties=strip_twin_fields(props))
    return {k: v for k, v in row.items() if not k.startswith("x-twin")}


def _subscription_row(scenario: Mapping[str, Any], sub: Mapping[str, Any], tenant_id: str) -> dict[str, Any]:
    """A ``resourcecontainers`` row for a subscription, with ``managementGroupAncestorsChain``."""
    chain = []
    groups = {access.norm_scope(str(g.get("id", ""))): g for g in scenario.get("managementGroups", [])}
    for gid in access.management_group_chain(scenario, str(sub["subscriptionId"])):
        group = groups.get(gid, {})
        chain.append(
            {
                "name": group.get("name", gid.rsplit("/", 1)[-1]),
                "displayName": (group.get("properties") or {}).get("displayName", group.get("name")),
            }
        )
    sid = str(sub["subscriptionId"])
    return {
        "id": f"/subscriptions/{sid}",
        "name": sub.get("displayName", sid),
        "type": SUBSCRIPTION_TYPE,
        "tenantId": sub.get("tenantId", tenant_id),
        "kind": "",
        "location": "",
        "resourceGroup": "",
        "subscriptionId": sid,
        "managedBy": "",
        "sku": None,
        "plan": None,
        "properties": {
            "subscriptionPolicies": sub.get("subscriptionPolicies"),
            "managementGroupAncestorsChain": chain,
            "state": sub.get("state", "Enabled"),
        },
        "tags": sub.get("tags") or {},
        "identity": None,
        "zones": None,
        "extendedLocation": None,
    }


def _invalid_query(detail: str, caller: Caller | None) -> TwinResponse:
    """ARG's 400 for a query it cannot run (the shape the real service answers)."""
    correlation = str(uuid.uuid4())
    return TwinResponse.json(
        400,
        {
            "error": {
                "code": "BadRequest",
                "message": "Please provide below info when asking for support: "
                f"timestamp = {iso_time(time.time())}, correlationId = {correlation}.",
                "details": [
                    {
                        "code": "InvalidQuery",
                        "message": "Query is invalid. Please refer to the documentation for the Azure "
                        "Resource Graph service and fix the error before retrying.",
                    },
                    {"code": "ParserFailure", "message": detail},
                ],
            }
        },
        principal=caller.object_id if caller else None,
    )


def _encode_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def _decode_token(token: str) -> int | None:
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return max(0, int(data["o"]))
    except (ValueError, KeyError, TypeError):
        return None


def query_resources(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    """``POST /providers/Microsoft.ResourceGraph/resources``: run one of the supported queries."""
    caller = authenticate(state, request, service=RESOURCE_GRAPH)
    if isinstance(caller, TwinResponse):
        return caller
    body = request.json_or_none()
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return arm_error(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: 'query' is required.",
            principal=caller.object_id,
        )
    parsed: Query | kql.Pipeline | None = parse_query(body["query"])
    if parsed is None:  # not one of the product's queries: the general KQL subset
        try:
            parsed = kql.parse(body["query"])
        except kql.KqlError as exc:
            return _invalid_query(f"{exc} (the twin evaluates a KQL subset: see preflight/twin/kql.py)", caller)
    scenario = state.scenario
    tenant_subs = [
        s["subscriptionId"]
        for s in scenario.get("subscriptions", [])
        if str(s.get("tenantId", "")).lower() == caller.tenant_id.lower()
    ]
    requested = body.get("subscriptions")
    mgs = body.get("managementGroups") or []
    if requested:
        subs = [s for s in tenant_subs if s.lower() in {str(r).lower() for r in requested}]
    elif mgs:
        subs = [
            s
            for s in tenant_subs
            if any(
                access.norm_scope(f"/providers/Microsoft.Management/managementGroups/{g}")
                in access.management_group_chain(scenario, s)
                for g in mgs
            )
        ]
    else:
        subs = tenant_subs
    subs = [s for s in subs if access.has_any_access(scenario, caller.object_id, f"/subscriptions/{s}")]
    tenant_level = not requested or bool(mgs)
    if isinstance(parsed, Query):
        rows = _cached_rows(state, caller, body["query"], parsed, subs, tenant_level=tenant_level)
    else:
        try:
            rows = kql.evaluate(parsed, functools.partial(_table_rows, state, caller, subs, tenant_level))
        except kql.KqlError as exc:
            return _invalid_query(str(exc), caller)
    opts = body.get("options") or {}
    if opts.get("resultFormat", "objectArray") != "objectArray":
        return _invalid_query("The twin supports only resultFormat 'objectArray'.", caller)
    size = int(option(scenario, "pageSize"))
    top = opts.get("$top")
    if isinstance(top, int) and top > 0:
        size = min(size, top, _MAX_TOP)
    start = int(opts.get("$skip") or 0)
    token = opts.get("$skipToken")
    if token:
        decoded = _decode_token(str(token))
        if decoded is None:
            return _invalid_query("The $skipToken is invalid.", caller)
        start = decoded
    chunk = rows[start : start + size]
    result: dict[str, Any] = {
        "totalRecords": len(rows),
        "count": len(chunk),
        "data": chunk,
        "facets": [],
        "resultTruncated": "false",
    }
    if start + size < len(rows):
        if isinstance(parsed, Query) and parsed.all_dynamic:  # ARG cannot page a result whose every column is dynamic
            result["resultTruncated"] = "true"
        else:
            result["$skipToken"] = _encode_token(start + size)
    payload = json.dumps(result).encode("utf-8")  # rows are stripped once, when cached
    limit = int((scenario.get("options") or {}).get("x-argMaxResponseBytes", MAX_RESPONSE_BYTES))
    if len(payload) > limit:
        return _payload_too_large(len(payload), limit, caller)
    return TwinResponse(200, payload, {"Content-Type": "application/json; charset=utf-8"}, caller.object_id)


def _payload_too_large(size: int, limit: int, caller: Caller) -> TwinResponse:
    """ARG's 400 for a page whose JSON would exceed its response limit (16 MiB)."""
    return TwinResponse.json(
        400,
        {
            "error": {
                "code": "BadRequest",
                "message": "Please provide below info when asking for support: "
                f"timestamp = {iso_time(time.time())}, correlationId = {uuid.uuid4()}.",
                "details": [
                    {
                        "code": "ResponsePayloadTooLarge",
                        "message": f"Response payload size is {size}, and has exceeded the limit of {limit}. Please "
                        "consider querying less data at a time and make paginated call if needed.",
                    }
                ],
            }
        },
        principal=caller.object_id,
    )


def register(router: Router) -> None:
    """Register the Resource Graph route."""
    router.add("POST", r"/providers/Microsoft\.ResourceGraph/resources", RESOURCE_GRAPH)(query_resources)
