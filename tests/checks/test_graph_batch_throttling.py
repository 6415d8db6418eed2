"""Graph throttles each request inside a ``$batch`` on its own (an inner answer 429 with ``Retry-After``), and
retrying it is the client's job: preflight asks for that one again, alone, after its Retry-After — the check
still passes. The twin applies a scenario's status faults to inner requests (and logs them)."""

from __future__ import annotations

import pytest

from helpers.principal_world import no_ci, service_principal  # noqa: F401  (fixture)
from helpers.scenarios import one, run_scenario

from preflight.model import Status
from preflight.twin import Twin


def test_a_throttled_inner_request_is_asked_again(
    twin_session: Twin,
    monkeypatch: pytest.MonkeyPatch,
    no_ci: None,  # noqa: F811
) -> None:
    scenario = service_principal("@now+400d")
    scenario["faults"] = [
        {
            "match": {"service": "graph", "method": "GET", "path": "^/v1\\.0/servicePrincipals"},
            "status": 429,
            "retryAfter": 1,
            "count": 1,
        }
    ]
    twin_session.clear_log()
    report = run_scenario(twin_session, monkeypatch, scenario, only=("principal.exists",))  # type: ignore[arg-type]
    assert one(report, "principal.exists").status is Status.PASS
    graph = [e for e in twin_session.requests() if e.service == "graph"]
    [throttled] = [e for e in graph if e.extra.get("inBatch")]
    assert throttled.status == 429 and throttled.fault == "status:429"
    [again] = [e for e in graph if e.method == "GET" and e.path == throttled.path and not e.extra.get("inBatch")]
    assert again.status == 200
    assert again.time - again.duration_ms / 1000 >= throttled.time + 1.0, "asked again before its Retry-After"
