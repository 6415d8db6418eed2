"""The audit's scale path on small generated tenants (preflight.twin.generate): the aggregated Resource Graph
query over several ``$skipToken`` pages, its fallbacks (a truncated ``make_list``, pages beyond ARG's response
limit), throttling in the middle of the pages, and the ARM fallback — every assignment exactly once each time."""

from __future__ import annotations

import math
from typing import Any

import pytest

from helpers.audit_scenarios import audit_in_process
from helpers.scenarios import one

from preflight.model import Report, Status
from preflight.twin import Twin
from preflight.twin.generate import generate_scenario

ARG = "/providers/Microsoft.ResourceGraph/resources"
SUBSCRIPTIONS = 6
PER_SUBSCRIPTION = 5


def tenant(**options: Any) -> dict[str, Any]:
    doc = generate_scenario(SUBSCRIPTIONS, PER_SUBSCRIPTION, 20, seed=7)
    doc["options"].update({"pageSize": 2, **options})  # at most 2 rows a page: paging on every path
    return doc


def expected_ids(twin: Twin) -> list[str]:
    return sorted(str(ra["id"]).lower() for ra in twin.scenario["roleAssignments"])


def ids(report: Report) -> list[str]:
    return sorted(str(r["assignment_id"]).lower() for r in report.tables["assignments"])


def evidence(report: Report, name: str) -> Any:
    return next(e.value for e in one(report, "audit.inventory").evidence if e.name == name)


def arg_statuses(twin: Twin) -> list[int]:
    return [e.status for e in twin.requests() if e.path == ARG]


def test_aggregated_pages_return_every_assignment_exactly_once(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages: list[str] = []
    report = audit_in_process(twin_session, monkeypatch, tenant(), only=["audit.inventory"], progress=messages.append)
    assert evidence(report, "source") == "resource-graph"
    assert ids(report) == expected_ids(twin_session) and len(ids(report)) == SUBSCRIPTIONS * PER_SUBSCRIPTION + 1
    groups = SUBSCRIPTIONS + 1  # six subscriptions and the auditor's management-group assignment
    assert arg_statuses(twin_session) == [200] * math.ceil(groups / 2)  # pages of whole subscriptions
    assert (
        messages[-2] == f"Resource Graph: {groups}/{groups} subscriptions and tenant scopes, {len(ids(report))} "
        "assignments"
    )
    assert twin_session.errors() == []


def test_a_truncated_list_falls_back_to_one_row_per_assignment(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages: list[str] = []
    report = audit_in_process(
        twin_session,
        monkeypatch,
        tenant(**{"x-argMakeListMaxSize": 3}),
        only=["audit.inventory"],
        progress=messages.append,
    )
    assert evidence(report, "source") == "resource-graph"
    assert ids(report) == expected_ids(twin_session)  # complete, and no assignment twice
    # the first aggregated page shows the short list; then the plain query, 2 rows a page
    assert arg_statuses(twin_session) == [200] * (1 + math.ceil(len(ids(report)) / 2))
    assert any("holds 3 of 5 assignments" in m for m in messages), messages


def test_pages_beyond_the_response_limit_shrink_then_fall_back(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ~3.7 KB per subscription row (5 assignments of ~730 bytes). Page 1 holds the management-group row
    # (~0.8 KB) and one subscription; sized from it, page 2 asks for all the rest (too large: 400), then
    # $top drops to half the rows a page held (1) and stays there
    report = audit_in_process(
        twin_session, monkeypatch, tenant(**{"x-argMaxResponseBytes": 6000}), only=["audit.inventory"]
    )
    assert evidence(report, "source") == "resource-graph"
    assert ids(report) == expected_ids(twin_session)
    assert arg_statuses(twin_session) == [200, 400] + [200] * (SUBSCRIPTIONS - 1)
    # a single subscription beyond the limit: the plain query's pages (2 rows, ~1.6 KB) still pass
    report = audit_in_process(
        twin_session, monkeypatch, tenant(**{"x-argMaxResponseBytes": 2500}), only=["audit.inventory"]
    )
    assert evidence(report, "source") == "resource-graph"
    assert ids(report) == expected_ids(twin_session)
    statuses = arg_statuses(twin_session)
    assert statuses[-math.ceil(len(ids(report)) / 2) :] == [200] * math.ceil(len(ids(report)) / 2)
    assert statuses[: -math.ceil(len(ids(report)) / 2)][-1] == 400  # gave up on the aggregated query
    # and the plain query shrinks its pages too (1 row, ~0.8 KB) before Resource Graph is given up
    report = audit_in_process(
        twin_session, monkeypatch, tenant(**{"x-argMaxResponseBytes": 1200}), only=["audit.inventory"]
    )
    assert evidence(report, "source") == "resource-graph"
    assert ids(report) == expected_ids(twin_session)


def test_throttled_middle_page_completes_without_duplicates(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    faults = [
        {"match": {"service": "resource_graph"}, "latencyMs": 1, "count": 1},  # the first page goes through
        {
            "match": {"service": "resource_graph"},
            "status": 429,
            "retryAfter": 1,
            "count": 2,
            "body": {"error": {"code": "RateLimiting", "message": "Please provide below info when asking for support"}},
        },
    ]
    doc = tenant()
    doc["faults"] = faults
    report = audit_in_process(twin_session, monkeypatch, doc, only=["audit.inventory"])
    assert evidence(report, "source") == "resource-graph"
    assert ids(report) == expected_ids(twin_session)
    assert arg_statuses(twin_session) == [200, 429, 429, 200, 200, 200]  # page 2 retried twice, then 3 and 4


def test_arm_fallback_when_resource_graph_answers_403(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = tenant()
    doc["faults"] = [
        {
            "match": {"service": "resource_graph"},
            "status": 403,
            "body": {
                "error": {
                    "code": "AuthorizationFailed",
                    "message": "The client does not have authorization to perform action "
                    "'Microsoft.ResourceGraph/resources/read'.",
                }
            },
        }
    ]
    report = audit_in_process(twin_session, monkeypatch, doc, only=["audit.inventory"])
    assert evidence(report, "source") == "arm" and "403" in evidence(report, "fallback")
    assert ids(report) == expected_ids(twin_session)  # the management-group one listed under every subscription once
    listed = [e.path.lower() for e in twin_session.requests() if e.path.lower().endswith("/roleassignments")]
    assert len(set(listed)) == SUBSCRIPTIONS and len(listed) == SUBSCRIPTIONS * 3  # 6 rows each: 3 pages of 2
    assert twin_session.errors() == []


def test_a_refused_aggregated_query_falls_back_to_the_plain_one(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = tenant()
    doc["faults"] = [
        {
            "match": {"service": "resource_graph"},
            "status": 400,
            "count": 1,
            "body": {
                "error": {
                    "code": "BadRequest",
                    "message": "Please provide below info when asking for support",
                    "details": [{"code": "InvalidQuery", "message": "Query is invalid."}],
                }
            },
        }
    ]
    messages: list[str] = []
    report = audit_in_process(twin_session, monkeypatch, doc, only=["audit.inventory"], progress=messages.append)
    assert evidence(report, "source") == "resource-graph"
    assert ids(report) == expected_ids(twin_session)
    assert arg_statuses(twin_session) == [400] + [200] * math.ceil(len(ids(report)) / 2)
    assert "Resource Graph: the aggregated query failed (400 BadRequest); one row per assignment instead" in messages


def test_credentials_of_few_role_holding_apps_in_a_large_directory_are_read_by_app_id(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    only = ["audit.inventory", "audit.expiring-credentials"]
    reference = audit_in_process(twin_session, monkeypatch, tenant(), only=only)  # one listing page holds all
    listed = [e for e in twin_session.requests() if e.path == "/v1.0/applications"]
    assert len(listed) == 1
    doc = tenant()
    apps = doc["directory"]["applications"]
    holders = [a for a in apps if a["displayName"] != "auditor"]
    assert holders, "the generated tenant has role-holding applications"
    gone = holders[0]  # registered in another tenant: Graph answers 404 for it
    apps.remove(gone)
    # a directory far larger than the role holders, listed first: page 1 (999 apps, Graph's maximum) has none
    apps[:0] = [
        {
            "id": f"00000000-0000-4000-8000-{n:012d}",
            "appId": f"11111111-0000-4000-8000-{n:012d}",
            "displayName": f"unrelated-{n}",
        }
        for n in range(3000)
    ]
    report = audit_in_process(twin_session, monkeypatch, doc, only=only)
    requests = twin_session.requests()
    assert len([e for e in requests if e.path == "/v1.0/applications"]) == 1  # not 4 pages
    # the missing ones (role holders, the 404 one included) in ONE $batch of app-id reads
    assert [(e.method, e.path, e.status) for e in requests if "$batch" in e.path or "applications(" in e.path] == [
        ("POST", "/v1.0/$batch", 200)
    ]
    assert len(holders) >= 2 and flagged(reference)  # something to find, and an app left after the 404 one
    assert flagged(report) == [a for a in flagged(reference) if a != gone["appId"].lower()]
    assert twin_session.errors() == []


def flagged(report: Report) -> list[str]:
    """App ids the expiring-credentials finding names."""
    found = [r for r in report.results if r.check_id == "audit.expiring-credentials" and r.status is not Status.PASS]
    each = [e.value for r in found for e in r.evidence if e.name == "app_id"]  # one result per credential …
    more = [i["app_id"] for r in found for e in r.evidence if e.name == "items" for i in e.value]  # … then the rest
    return sorted(set(each) | set(more))
