"""The audit resolves principals through the shared Graph adapter's ``get_by_ids``: one ``getByIds`` per
chunk of ids (1,000 on the wire; lowered here so a small scenario needs several), same answer either way."""

from __future__ import annotations

import math

import pytest
from helpers.audit_scenarios import audit_in_process, audit_scenario

from preflight.twin import Twin

GET_BY_IDS = "/v1.0/directoryObjects/getByIds"


def _principals(report: object) -> list[tuple[str, str]]:
    rows = report.tables["assignments"]  # type: ignore[attr-defined]
    return sorted((str(r["principal_id"]), str(r["principal_exists"])) for r in rows)


def test_get_by_ids_chunks_and_the_rows_do_not_change(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = audit_in_process(twin_session, monkeypatch, audit_scenario())
    assert sum(e.path == GET_BY_IDS for e in twin_session.requests()) == 1
    monkeypatch.setattr("preflight.azure.graph.MAX_IDS", 2)
    chunked = audit_in_process(twin_session, monkeypatch, audit_scenario())
    calls = [e for e in twin_session.requests() if e.path == GET_BY_IDS]
    rows = whole.tables["assignments"]
    ids = {str(r["principal_id"]) for r in rows} | {str(r["created_by"]) for r in rows if r.get("created_by")}
    assert len(ids) >= 5 and len(calls) == math.ceil(len(ids) / 2) and all(e.status == 200 for e in calls)
    assert _principals(chunked) == _principals(whole)
