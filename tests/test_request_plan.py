"""The request plan of ``preflight check``, read from the twin's request log (issue 11). Not timed: the
assertions are about which requests a run makes and which of them wait for which, not about seconds.

**Each fact once.** No request (method, URL, and for POSTs what was asked: the token scope, the Resource
Graph / ``$batch`` body) is sent twice in one run, except retries of throttled or failed answers.

**The minimal dependent chain is 5 requests**, for a service principal signing in to a custom cloud (the
twin) and a target named by ``--resource-id``:

1. ``GET /metadata/endpoints`` — the custom cloud's endpoints; nothing else can be addressed before them;
2. ``GET …/v2.0/.well-known/openid-configuration`` — MSAL needs the tenant's token endpoint;
3. ``POST …/oauth2/v2.0/token`` (ARM) — every ARM call needs it, and it names the principal (its ``oid``);
4. ``GET …/roleAssignments?$filter=assignedTo('oid')`` — needs that object id;
5. ``GET …/roleDefinitions/{id}`` — the ids come from the assignments.

Everything else overlaps with this chain: the resource's GET, deny assignments and ARM's own permissions start
with the role assignments (the resource id is known from ``--resource-id``), the role definitions all at once,
the other tokens, the Graph ``$batch`` (token → Graph token → batch is also 5 long), the subscription's tenant,
the managed-identity and Azure CLI probes. With a latency injected into every answer, requests that could
overlap do, so any serialised pair of independent reads shows as a chain longer than 5.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from helpers.critical_path import critical_path, duplicates
from helpers.principal_world import service_principal
from helpers.twin_fixtures import apply_environment

from preflight.engine import RunOptions
from preflight.model import Status
from preflight.run import CheckOptions, run
from preflight.target import build_target
from preflight.twin import Twin

LATENCY_MS = 200  # far above the scheduling jitter between the run's threads, so overlap is unambiguous
MINIMAL_CHAIN = 5


@pytest.fixture
def logged_run(twin: Twin, monkeypatch: pytest.MonkeyPatch) -> list:  # type: ignore[type-arg]
    """Every default check against the healthy world with a service principal signing in, latency injected;
    the run's request log (the Azure CLI shim's own helper endpoint excluded: it is a local process)."""
    twin.use(service_principal())
    apply_environment(monkeypatch, twin.environment())
    target = build_target(dict(os.environ))
    twin.clear_log()
    twin.server.latency_ms = LATENCY_MS
    try:
        report = run(CheckOptions(target, engine=RunOptions(timeout=60, deadline=120)))
    finally:
        twin.server.latency_ms = 0
    assert not [r for r in report.results if r.status in (Status.ERROR, Status.FAIL)], report.results
    return [e for e in twin.requests() if e.service != "twin"]


def test_each_fact_once_along_the_minimal_chain(logged_run: list) -> None:  # type: ignore[type-arg]
    assert duplicates(logged_run) == {}
    tokens = [e.extra.get("scope") for e in logged_run if e.path.endswith("/oauth2/v2.0/token")]
    assert len(tokens) == len(set(tokens)) >= 2, tokens  # one token request per scope

    chain = critical_path(logged_run)
    labels = [s.label for s in chain]
    assert len(chain) == MINIMAL_CHAIN, "\n".join(labels)
    assert labels[0] == "arm GET /metadata/endpoints"
    assert labels[2].startswith("entra POST ") and labels[2].endswith("/oauth2/v2.0/token")

    # The reads independent of the role assignments are in flight while those are listed, and every role
    # definition is fetched at once after them.
    def spans(matches: Callable[[str], bool]) -> list[tuple[float, float]]:
        return [(e.time - e.duration_ms / 1000, e.time) for e in logged_run if matches(e.path)]

    [(_, listed)] = spans(lambda p: p.endswith("/roleAssignments"))
    for read in ("/denyAssignments", "/Microsoft.Authorization/permissions", "/accounts/contoso-openai"):
        [(start, _)] = spans(lambda p, r=read: p.endswith(r))  # type: ignore[misc]
        assert start < listed, f"{read} waited for the role assignments"
    definitions = spans(lambda p: "/roleDefinitions/" in p)
    assert len(definitions) == 2
    assert max(start for start, _ in definitions) < min(end for _, end in definitions), "definitions one by one"


@pytest.mark.parametrize("only", [(), ("rbac.data-action",)], ids=["all-checks", "rbac-only"])
def test_the_chosen_credential_does_not_wait_for_later_links(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, only: tuple[str, ...]
) -> None:
    """DefaultAzureCredential stops at the environment's service principal, so the RBAC reads need only that
    link: a managed identity endpoint that answers slowly (later in the chain, probed for the signin.chain
    report) must not hold them. The report still shows it; and a run without signin.chain, which never waits
    for that probe, still ends only after it (no request of this run arrives after ``run`` returned)."""
    doc = service_principal()
    # the host has a managed identity endpoint (App Service): the twin sets its variables only when the scenario
    # says so (issue 19), so this test says so
    doc["signIn"]["managedIdentity"] = {"style": "appService"}
    doc["faults"] = [{"match": {"service": "managed_identity"}, "latencyMs": 1500}]
    twin.use(doc)
    apply_environment(monkeypatch, twin.environment())
    twin.clear_log()
    report = run(CheckOptions(build_target(dict(os.environ)), only=only, engine=RunOptions(timeout=60, deadline=120)))
    log = twin.requests()
    [identity] = [e for e in log if e.service == "managed_identity"]
    [listed] = [e for e in log if e.path.endswith("/roleAssignments")]
    assert listed.time < identity.time, "the role assignments waited for the managed identity probe"
    assert {r.check_id: r.status for r in report.results}["rbac.data-action"] is Status.PASS
    if not only:
        [chain] = [r for r in report.results if r.check_id == "signin.chain"]
        assert "ManagedIdentityCredential" in str(chain.evidence)


def test_checks_that_need_a_resource_make_no_request_without_one(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    """The checks about a resource SKIP when the run names none; waiting for sign-in first (to keep their
    imports off the critical path) must not make them start it: no request at all."""
    twin.use(service_principal())
    apply_environment(monkeypatch, twin.environment())
    for name in ("PREFLIGHT_RESOURCE_ID", "AZURE_OPENAI_ENDPOINT", "AZURE_AI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .azureml/config.json above
    twin.clear_log()
    report = run(
        CheckOptions(
            build_target(dict(os.environ)),
            only=("rbac.data-action", "rbac.deny", "rbac.propagation", "resource.*"),
            engine=RunOptions(timeout=60, deadline=120),
        )
    )
    assert len(report.results) == 4 and {r.status for r in report.results} == {Status.SKIP}, report.results
    assert twin.requests() == []
