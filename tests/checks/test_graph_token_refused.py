"""A Microsoft Graph token Entra refuses (here MFA, AADSTS50076) is a sign-in refusal, classified like every
credential error — the Graph-reading check's SKIP names the category and the fix — not "could not be reached"."""

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
    report = run_scenario(twin_session, monkeypatch, doc, only=["access.conditional-access"])  # type: ignore[arg-type]
    skipped = one(report, "access.conditional-access")
    assert skipped.status is Status.SKIP
    assert "could not get a token for Microsoft Graph" in skipped.summary
    assert "AADSTS50076 mfa_required" in skipped.summary and "could not be reached" not in skipped.summary
    assert skipped.remediation is not None and f"--scope {graph_scope}" in skipped.remediation.text
