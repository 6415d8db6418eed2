"""A Microsoft Graph token Entra refuses (here MFA, AADSTS50076) is a sign-in refusal, classified like every
credential error — named with its category and fix by tokens.scope (the Graph-reading check points there), or by
that check itself when tokens.scope is not in the run — not "could not be reached"."""

from __future__ import annotations

import copy

import pytest

from helpers.scenarios import one, run_scenario

from preflight.model import Status
from preflight.twin import Twin
from preflight.twin.entra import aadsts_body
from preflight.twin.scenario import load_scenario


def test_a_refused_graph_token_is_classified(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = copy.deepcopy(load_scenario("ca-policies"))
    twin_session.use(doc)
    graph_scope = twin_session.base_url + "/.default"  # the twin's Graph audience is its own root
    body = aadsts_body(twin_session.server, None, 50076, "invalid_grant", "MFA is required for Microsoft Graph.")
    doc["tokenErrors"] = [{"match": {"scope": graph_scope}, "status": 400, "body": body}]
    # the check alone: the token check that owns this cause is not in the run, so it tells it, as ERROR
    report = run_scenario(twin_session, monkeypatch, doc, only=["access.conditional-access"])  # type: ignore[arg-type]
    told = one(report, "access.conditional-access")
    assert told.status is Status.ERROR
    assert "could not get a token for Microsoft Graph" in told.summary
    assert "AADSTS50076 mfa_required" in told.summary and "could not be reached" not in told.summary
    assert told.remediation is not None  # the sign-in is a command of its own, lifted out of the AADSTS prose
    assert any(f"--scope {graph_scope}" in command for command in told.remediation.commands)
    # with tokens.scope, which asks for the Graph token itself: it FAILs naming the refusal, the check points there
    report = run_scenario(
        twin_session,
        monkeypatch,
        doc,  # type: ignore[arg-type]
        only=["tokens.scope", "access.conditional-access"],
    )
    assert any(
        r.status is Status.FAIL and "AADSTS50076" in r.summary for r in report.results if r.check_id == "tokens.scope"
    )
    skipped = one(report, "access.conditional-access")
    assert skipped.status is Status.SKIP and skipped.summary == "skipped: graph is unavailable (see tokens.scope)"
