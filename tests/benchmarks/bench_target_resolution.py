"""Benchmark: find the account behind an endpoint among many subscriptions — one Resource Graph query versus
the ARM fallback (subscription list + concurrent per-subscription account listings).

Not collected by default; run explicitly::

    /work/venv/bin/pytest tests/benchmarks/bench_target_resolution.py --benchmark-only -s

Goal (issue 6): one ARG round trip whatever the number of subscriptions; the fallback stays bounded by the
concurrency (8) rather than growing linearly in wall time.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest

from helpers import rbac_scenarios as sc
from helpers.twin_fixtures import apply_environment

from preflight.azure.arm import resource
from preflight.context import Context
from preflight.target import build_target
from preflight.twin import Twin

SUBSCRIPTIONS = 40


def _many_subscriptions(graph: bool) -> dict[str, Any]:
    doc = sc.builtin("healthy")
    base_sub = doc["subscriptions"][0]
    account = next(r for r in doc["resources"] if r["type"] == "Microsoft.CognitiveServices/accounts")
    for index in range(1, SUBSCRIPTIONS):
        sid = f"44444444-4444-4444-8444-{index:012d}"
        doc["subscriptions"].append({**copy.deepcopy(base_sub), "id": f"/subscriptions/{sid}", "subscriptionId": sid})
        rg = f"/subscriptions/{sid}/resourceGroups/rg-{index}"
        doc["resourceGroups"].append({"id": rg, "name": f"rg-{index}", "location": "eastus"})
        other = copy.deepcopy(account)
        other["id"] = f"{rg}/providers/Microsoft.CognitiveServices/accounts/acct-{index}"
        other["name"] = f"acct-{index}"
        other["properties"]["customSubDomainName"] = f"acct-{index}"
        doc["resources"].append(other)
        doc["roleAssignments"].append(sc.assignment("Reader", sc.ALICE, rg))
    if not graph:
        doc["faults"] = [
            {
                "match": {"service": "resource_graph"},
                "status": 403,
                "body": {"error": {"code": "AuthorizationFailed", "message": "no"}},
            }
        ]
    return doc


@pytest.mark.parametrize("graph", [True, False], ids=["resource-graph", "arm-fallback"])
def test_find_account_by_endpoint(
    benchmark: Any, graph: bool, twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    twin_session.use(_many_subscriptions(graph))
    apply_environment(monkeypatch, twin_session.environment())
    monkeypatch.delenv("PREFLIGHT_RESOURCE_ID", raising=False)
    target = build_target(dict(os.environ))

    def resolve() -> str:
        twin_session.clear_log()
        return str(Context(target).get(resource)["id"])

    found = benchmark.pedantic(resolve, rounds=3, iterations=1, warmup_rounds=1)
    arm_calls = [
        e
        for e in twin_session.requests()
        if e.service in ("arm", "resource_graph") and not e.path.startswith("/metadata/")
    ]
    print(
        f"\n{'ARG' if graph else 'ARM fallback'}: {len(arm_calls)} ARM/ARG requests for {SUBSCRIPTIONS} subscriptions"
    )
    assert found == sc.ACCOUNT
    # ARG: the query + reading the one match; fallback: the refused query, the subscription list, one listing each
    assert len(arm_calls) == (2 if graph else SUBSCRIPTIONS + 2), [e.path for e in arm_calls]
