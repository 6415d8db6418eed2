"""tokens.scope tests the Microsoft Graph token when a selected check reads Graph (issue 5: "Graph when a
check needs it"), and that token is the very one the Graph reads use: one token request (one ``az`` call for
the Azure CLI, which caches nothing) per scope per run."""

from __future__ import annotations

import pytest

from helpers.scenarios import one, results, run_scenario

from preflight.azure.facts import GRAPH_REASON
from preflight.model import Report, Result, Status
from preflight.twin import Twin


def _graph_rows(report: Report) -> list[Result]:
    return [
        r
        for r in results(report, "tokens.scope")
        if {e.name: e.value for e in r.evidence}.get("requested_because") == GRAPH_REASON
    ]


def test_graph_row_when_a_graph_check_runs(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    twin_session.clear_log()
    report = run_scenario(
        twin_session, monkeypatch, "principal-secret-expiring", only=("tokens.scope", "principal.exists")
    )
    [row] = _graph_rows(report)
    assert row.status is Status.PASS, row
    # the twin is a custom cloud: its Graph audience is its own, as the metadata document says — and the row is
    # named by the service that audience belongs to, not by the loopback URL (issue 19 item 4)
    scope = {e.name: e.value for e in row.evidence}["scope"]
    assert scope == f"{twin_session.base_url.rstrip('/')}/.default"
    assert row.subject == "Microsoft Graph" and "127.0.0.1" not in row.summary
    assert one(report, "principal.exists").status is Status.PASS
    token_requests = [
        e for e in twin_session.requests() if e.path.endswith("/oauth2/v2.0/token") and e.extra.get("scope") == scope
    ]
    assert len(token_requests) == 1  # the row's token is the one the Graph reads used


def test_no_graph_row_without_a_graph_check(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "principal-secret-expiring", only=("tokens.scope",))
    assert results(report, "tokens.scope") and not _graph_rows(report)


def test_the_azure_cli_is_asked_once_for_graph(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    """Alice signs in with az: the Graph row and access.conditional-access's Graph reads share one token call."""
    twin_session.clear_log()
    report = run_scenario(twin_session, monkeypatch, "healthy", only=("tokens.scope", "access.conditional-access"))
    [row] = _graph_rows(report)
    assert row.status is Status.PASS, row
    assert results(report, "access.conditional-access")
    assert any(e.service == "graph" for e in twin_session.requests())  # Graph was read with a token
    calls = [e for e in twin_session.requests() if e.path == "/_twin/az"]
    scopes = [r.subject for r in results(report, "tokens.scope")]
    # one `az account get-access-token` per scope (the ARM one is the chain probe's), none more for Graph
    assert len(calls) == len(scopes) == len(set(scopes)), (scopes, [c.extra for c in calls])
