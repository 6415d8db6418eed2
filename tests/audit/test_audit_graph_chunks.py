"""The audit resolves principals through the shared Graph adapter's ``get_by_ids``: one ``getByIds`` per
chunk of ids (1,000 on the wire; lowered here so a small scenario needs several), same answer either way."""

from __future__ import annotations

import math
import os

import pytest

from helpers.audit_scenarios import audit_in_process, audit_scenario

from preflight.azure.graph import get_by_ids, graph_reader
from preflight.context import Context
from preflight.target import build_target
from preflight.twin import Twin

GET_BY_IDS = "/v1.0/directoryObjects/getByIds"


def _principals(report: object) -> list[tuple[str, str]]:
    rows = report.tables["assignments"]  # type: ignore[attr-defined]
    return sorted((str(r["principal_id"]), str(r["principal_exists"])) for r in rows)


def test_get_by_ids_chunks_and_the_rows_do_not_change(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = audit_in_process(twin_session, monkeypatch, audit_scenario())
    assert sum(e.path == GET_BY_IDS for e in twin_session.requests()) == 1  # 1,000 ids a call: one call here
    rows = whole.tables["assignments"]
    ids = sorted({str(r["principal_id"]) for r in rows} | {str(r["created_by"]) for r in rows if r.get("created_by")})
    assert len(ids) >= 5
    # The same adapter the audit uses, signed in as the audit was, with a chunk small enough to need several calls.
    reader = Context(build_target(dict(os.environ))).get(graph_reader)
    types = ["user", "group", "servicePrincipal"]
    one_call = get_by_ids(reader, ids, types)
    twin_session.clear_log()
    chunked = get_by_ids(reader, ids, types, chunk=2)
    calls = [e for e in twin_session.requests() if e.path == GET_BY_IDS]
    assert len(calls) == math.ceil(len(ids) / 2) and all(e.status == 200 for e in calls)
    assert sorted(o["id"] for o in chunked) == sorted(o["id"] for o in one_call)
    found = {o["id"] for o in one_call}
    assert _principals(whole) == sorted((pid, str(pid in found)) for pid, _ in _principals(whole))
