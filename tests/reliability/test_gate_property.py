"""The gate rule as a property over the twin's scenario and fault space (issue 15): a run that could not
verify access never exits 0.

For every built-in scenario, under a fault (a token endpoint failing, throttled or slow; the role-assignment
listing refused, throttled or failing; deny assignments refused; the cloud metadata unreachable or throttled),
``preflight check`` runs in-process against one twin for the module, through the library API the CLI calls,
and its report must satisfy:

- no result SKIPs for a fact error — a SKIP whose ``caused_by`` is not a FAIL or ERROR result of the same
  report — while the run exits 0 under ``--fail-on fail``;
- every SKIP that points at a check (``(see X)``) points at one whose FAIL or ERROR is in the report, and no
  ERROR of "same cause as X" points at a check without that ERROR (the cause is told once, where it points).

The sweep is a deterministic sample, not the whole product (17 scenarios × 9 faults would take minutes): each
scenario meets one fault, in turn, and the scenarios that pass when nothing fails — where a silent pass could
hide — meet every fault of the services they use. Retry-After 0 and a hang shorter than the per-check timeout
keep each run as fast as a healthy one; the fault-matrix (fault_matrix.py) covers the slow retries and hangs
that outlive the timeout. Nothing here is timed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from helpers import no_dns
from helpers.twin_fixtures import apply_environment
from reliability.fault_matrix import _MATCH, _result_row

from preflight.engine import RunOptions
from preflight.model import Report, Status
from preflight.run import CheckOptions, exit_code, run
from preflight.target import build_target
from preflight.twin import Twin
from preflight.twin.scenario import builtin_scenario_text, list_scenarios

DENIED = {
    "error": {
        "code": "AuthorizationFailed",
        "message": "The client does not have authorization to perform "
        "action 'Microsoft.Authorization/roleAssignments/read' over scope '/subscriptions/…'.",
    }
}
TOKEN = {**_MATCH["entra"], "path": "oauth2/v2.0/token"}
ROLE_ASSIGNMENTS = {**_MATCH["arm"], "path": "providers/Microsoft.Authorization/roleAssignments$"}
DENY_ASSIGNMENTS = {**_MATCH["arm"], "path": "providers/Microsoft.Authorization/denyAssignments$"}
METADATA = {"path": "^/metadata/endpoints"}
SOON = "0.05"  # Retry-After: clients wait this long (azure-core takes "0" as no header and backs off for seconds)

FAULTS: dict[str, list[dict[str, Any]]] = {
    "token-5xx": [{"match": TOKEN, "status": 503, "retryAfter": SOON}],
    "token-429": [{"match": TOKEN, "status": 429, "retryAfter": SOON}],
    "token-hang": [{"match": TOKEN, "action": "hang", "hangMs": 1500, "count": 1}],  # well within the timeout
    "role-assignments-403": [{"match": ROLE_ASSIGNMENTS, "status": 403, "body": DENIED}],
    "role-assignments-429": [{"match": ROLE_ASSIGNMENTS, "status": 429, "retryAfter": SOON}],
    "role-assignments-5xx": [{"match": ROLE_ASSIGNMENTS, "status": 500, "retryAfter": SOON}],
    "deny-assignments-403": [{"match": DENY_ASSIGNMENTS, "status": 403, "body": DENIED}],
    "metadata-unreachable": [{"match": METADATA, "action": "reset"}],
    "metadata-throttled": [{"match": METADATA, "status": 429, "retryAfter": SOON}],
}
TOKEN_FAULTS = [f for f in FAULTS if f.startswith("token-")]
OTHER_FAULTS = [f for f in FAULTS if f not in TOKEN_FAULTS]
# Entra's token endpoint is met by the secret / workload-identity sign-ins (the Azure CLI scenarios get their
# tokens from the twin's `az`); of those, only this one signs in when nothing fails.
SECRET_SIGN_IN = "principal-secret-expiring"
LIMITS = RunOptions(timeout=20.0, deadline=40.0)


# The built-in scenarios whose run exits 0 when nothing fails: where the property can bite. (Each of their cells
# asserts its fault was met; the two meeting the most faults are also run without one, below.)
PASSING = (
    "ca-policies",
    "group-assignment",
    "healthy",
    "network-blocked",
    "principal-secret-expiring",
    "propagation-pending",
    "throttled",
)


def _cells() -> list[tuple[str, str]]:
    """Each scenario meets one fault, in turn; the scenarios where a silent pass could hide — those that pass
    when nothing fails — meet the faults of the services they use: the token faults where a secret signs in,
    each other fault in two of them, in turn, and every one in ``healthy``."""
    names = list_scenarios()
    clean = [n for n in names if n in PASSING]
    cells = [(n, OTHER_FAULTS[i % len(OTHER_FAULTS)]) for i, n in enumerate(n for n in names if n not in clean)]
    cells += [(SECRET_SIGN_IN, f) for f in TOKEN_FAULTS]
    cells += [(clean[i % len(clean)], f) for i, f in enumerate(OTHER_FAULTS * 2)]
    cells += [("healthy", f) for f in OTHER_FAULTS]
    return list(dict.fromkeys(cells))  # each once, in a stable order


@pytest.fixture(scope="module")
def twin() -> Iterator[Twin]:
    no_dns.install()  # only loopback resolves; 169.254.169.254 is refused (and recorded) should anything try it
    with Twin("healthy") as running:
        yield running
    assert not any(n == no_dns.IMDS for n in no_dns.REFUSED)


def _run(twin: Twin, scenario: str, fault: str) -> Report:
    doc = json.loads(builtin_scenario_text(scenario))
    doc["faults"] = [*doc.get("faults", []), *FAULTS[fault]]
    twin.use(doc)
    twin.clear_log()
    with pytest.MonkeyPatch.context() as monkeypatch:
        apply_environment(monkeypatch, twin.environment())
        return run(CheckOptions(build_target(dict(os.environ)), engine=LIMITS))  # azure-identity reads os.environ


def undecided_skips(report: Report) -> list[Mapping[str, Any]]:
    """SKIPs for a fact error: ``caused_by`` is not a FAIL or ERROR result of this report."""
    told = {r.check_id for r in report.results if r.status in (Status.FAIL, Status.ERROR)}
    return [
        _result_row(r) for r in report.results if r.status is Status.SKIP and r.caused_by and r.caused_by not in told
    ]


def dangling_pointers(report: Report) -> list[Mapping[str, Any]]:
    """Results whose "(see X)" / "(same cause as X)" names a check that tells no cause in this report."""
    told = {r.check_id for r in report.results if r.status in (Status.FAIL, Status.ERROR)}
    return [
        _result_row(r)
        for r in report.results
        if r.status in (Status.SKIP, Status.ERROR)
        for pointed in re.findall(r"\((?:see|same cause as) ([a-z0-9-]+\.[a-z0-9-]+)\)", r.summary)
        if pointed not in told
    ]


@pytest.mark.parametrize(("scenario", "fault"), _cells(), ids=[f"{s}+{f}" for s, f in _cells()])
def test_a_run_that_could_not_decide_never_exits_0(twin: Twin, scenario: str, fault: str) -> None:
    report = _run(twin, scenario, fault)
    assert twin.errors() == [], twin.errors()
    if scenario in PASSING:  # the fault happened (elsewhere sign-in may fail before the faulted request)
        assert any(e.fault for e in twin.requests()), f"no request met {fault}"
    skipped = undecided_skips(report)
    assert not (skipped and exit_code(report, "fail") == 0), f"exit 0 although checks could not decide: {skipped}"
    assert dangling_pointers(report) == []
    assert len({r.check_id for r in report.results}) == len(report.checks)  # every check accounted for


def test_the_sweep_covers_every_scenario_and_every_fault() -> None:
    cells = _cells()
    assert {s for s, _ in cells} == set(list_scenarios())
    assert {f for _, f in cells} == set(FAULTS)
    for fault in OTHER_FAULTS:
        assert len({s for s, f in cells if f == fault and s in PASSING}) >= 2, fault
        assert ("healthy", fault) in cells


def test_the_passing_scenarios_pass_without_a_fault(twin: Twin) -> None:
    """The sample leans on these: were one to fail anyway, its cells would prove nothing."""
    for scenario in ("healthy", SECRET_SIGN_IN):  # the two that meet the most faults
        twin.use(scenario)
        with pytest.MonkeyPatch.context() as monkeypatch:
            apply_environment(monkeypatch, twin.environment())
            report = run(CheckOptions(build_target(dict(os.environ)), engine=LIMITS))
        assert exit_code(report, "fail") == 0, [_result_row(r) for r in report.results if r.status.rank >= 2]
