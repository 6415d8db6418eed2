"""Hostile and broken servers (issue 17 items 1–3): tokens stay home, caps hold, odd answers are ERROR.

Each test is one attack from the issue, made with a twin fault rule (the answer a real service would never
give) and, where the attack needs a second party, a hostile HTTPS server on 127.0.0.2 that the client trusts as
much as the twin (tests/reliability/hostile.py) — so a request it receives is one preflight chose to send. Each
failed on the code before the shared client factory (preflight.azure.http.rest_client / exchange / Pages):

- a paging link (ARM ``nextLink``, Graph ``@odata.nextLink`` inside a ``$batch`` answer) to another host was
  followed with the token; a ``nextLink`` to itself was followed until the timeout;
- a redirect was taken for an answer: the account read (3xx) and ``{}`` became ``resource.endpoint`` FAIL
  "? has no custom subdomain" with the irreversible ``--custom-domain ?`` fix; the data plane's redirect to a
  host answering 200 became ``access.probe`` PASS;
- a ``$batch`` answer without the object's id became ``principal.exists`` PASS "object id None";
- a gzip bomb was decompressed whole (5.3 GB for 1.3 MB), a declared 10 GB body was read.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from helpers import rbac_scenarios as sc
from helpers.scenarios import results
from helpers.twin_fixtures import apply_environment
from reliability.hostile import Hostile

from preflight.engine import RunOptions
from preflight.model import Report, Status
from preflight.run import CheckOptions, run
from preflight.target import build_target
from preflight.twin import Twin

ACCOUNT = "accounts/contoso-openai"


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    with Hostile("127.0.0.2") as server:
        yield server


def _run(
    twin: Twin,
    monkeypatch: pytest.MonkeyPatch,
    doc: dict[str, Any],
    hostile: Hostile | None,
    only: Sequence[str],
    *,
    timeout: float = 20,
    env: dict[str, str] | None = None,
    drop: Sequence[str] = (),
) -> Report:
    """The checks in-process against the twin serving ``doc``, trusting the hostile server too."""
    twin.use(doc)
    apply_environment(monkeypatch, twin.environment())
    if hostile is not None:
        bundle = hostile.bundle(twin.environment()["REQUESTS_CA_BUNDLE"])
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", bundle)
        monkeypatch.setenv("SSL_CERT_FILE", bundle)
        monkeypatch.setenv("NO_PROXY", "127.0.0.1,127.0.0.2,localhost")
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    for key in drop:
        monkeypatch.delenv(key, raising=False)
    target = build_target(dict(os.environ))
    return run(CheckOptions(target, only=list(only), engine=RunOptions(timeout=timeout, deadline=timeout + 10)))


def _with_faults(*rules: dict[str, Any], base: str = "healthy") -> dict[str, Any]:
    doc = sc.builtin(base)
    doc["faults"] = list(rules)
    return doc


def _texts(report: Report, check_id: str) -> str:
    return " | ".join(f"{r.status.value}: {r.summary}" for r in results(report, check_id))


# ------------------------------------------------------------------------------------------ tokens stay home


def test_an_arm_next_link_to_another_host_is_an_error_and_no_request(
    twin_session: Twin, hostile: Hostile, monkeypatch: pytest.MonkeyPatch
) -> None:
    foreign = f"{hostile.url}/subscriptions/x/providers/Microsoft.Authorization/roleAssignments?page=2"
    # both listings that could decide the verdict (assignments, the caller's effective permissions) page away
    doc = _with_faults(
        {
            "match": {"service": "arm", "path": "roleAssignments|/permissions"},
            "status": 200,
            "body": {"value": [], "nextLink": foreign},
        }
    )
    report = _run(twin_session, monkeypatch, doc, hostile, ["rbac.data-action"])
    assert hostile.seen == [], "the token followed a nextLink to another host"
    text = _texts(report, "rbac.data-action")
    assert "127.0.0.2" in text and "refused to send" in text, text
    assert all(r.status is not Status.PASS for r in results(report, "rbac.data-action") if "127.0.0.2" in r.summary), (
        text
    )


def test_a_graph_next_link_inside_batch_to_another_host_is_an_error(
    twin_session: Twin, hostile: Hostile, monkeypatch: pytest.MonkeyPatch
) -> None:
    foreign = f"{hostile.url}/v1.0/groups?page=2"
    doc = _with_faults(
        {
            "match": {"service": "graph", "path": "federatedIdentityCredentials"},
            "status": 200,
            "body": {"value": [], "@odata.nextLink": foreign},
        },
        base="principal-federated-mismatch",
    )
    report = _run(twin_session, monkeypatch, doc, hostile, ["principal.*", "signin.*", "access.*"])
    assert hostile.seen == [], "the Graph token followed an @odata.nextLink to another host"
    everything = " | ".join(r.summary for r in report.results)
    assert "127.0.0.2" in everything and "refused to send" in everything, everything
    assert twin_session.requests(), "the run made no request at all"


def test_a_next_link_loop_stops_at_once(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    twin_session.use("healthy")
    loop = (
        f"{twin_session.base_url}/subscriptions/{sc.SUB}/providers/Microsoft.Authorization/"
        "permissions?api-version=2022-04-01&loop=1"
    )
    doc = _with_faults(
        {
            "match": {"service": "arm", "path": "roleAssignments|/permissions"},
            "status": 200,
            "body": {"value": [], "nextLink": loop},
        }
    )
    report = _run(twin_session, monkeypatch, doc, None, ["rbac.data-action"], timeout=8)
    listed = [e for e in twin_session.requests() if e.path.lower().endswith("/permissions")]
    assert 1 <= len(listed) <= 3, f"{len(listed)} requests for one listing: the loop was followed"
    text = _texts(report, "rbac.data-action")
    assert "loop" in text, text


# ------------------------------------------------------------------------------------------ odd answers


def _no_irreversible_fix(report: Report) -> None:
    for result in results(report, "resource.endpoint"):
        commands = result.remediation.commands if result.remediation else ()
        assert not any("--custom-domain" in c for c in commands), result
        assert "?" not in result.summary.split(":")[0], result.summary


def test_a_redirect_for_the_account_read_is_an_error_saying_where(
    twin_session: Twin, hostile: Hostile, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = _with_faults(
        {
            "match": {"service": "arm", "method": "GET", "path": ACCOUNT + "$"},
            "status": 302,
            "headers": {"Location": f"{hostile.url}/elsewhere"},
            "body": {},
        }
    )
    report = _run(twin_session, monkeypatch, doc, hostile, ["resource.endpoint"])
    result = results(report, "resource.endpoint")[0]
    assert result.status is Status.ERROR, _texts(report, "resource.endpoint")
    assert "302" in result.summary and "127.0.0.2" in result.summary, result.summary
    _no_irreversible_fix(report)
    assert hostile.seen == []


def test_an_empty_object_for_the_account_is_an_error_not_a_fix(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = _with_faults({"match": {"service": "arm", "method": "GET", "path": ACCOUNT + "$"}, "status": 200, "body": {}})
    report = _run(twin_session, monkeypatch, doc, None, ["resource.endpoint"])
    statuses = {r.status for r in results(report, "resource.endpoint")}
    assert statuses == {Status.ERROR}, _texts(report, "resource.endpoint")
    assert "without id, name, properties" in _texts(report, "resource.endpoint")
    _no_irreversible_fix(report)


def test_a_data_plane_redirect_to_a_host_answering_200_is_not_a_pass(
    twin_session: Twin, hostile: Hostile, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = _with_faults(
        {
            "match": {"service": "data_plane", "path": "deployments"},
            "status": 307,
            "headers": {"Location": f"{hostile.url}/openai/deployments"},
            "body": {},
        }
    )
    report = _run(twin_session, monkeypatch, doc, hostile, ["access.probe"])
    probe = results(report, "access.probe")
    assert [r.status for r in probe] == [Status.ERROR], _texts(report, "access.probe")
    assert "307" in probe[0].summary and "127.0.0.2" in probe[0].summary, probe[0].summary
    assert hostile.seen == [], "the probe followed the redirect"


def test_a_batch_answer_without_the_objects_id_is_not_found_as_none(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = _with_faults(
        {
            "match": {"service": "graph", "path": "servicePrincipals"},
            "status": 200,
            "body": {"displayName": "someone", "accountEnabled": True},
        },
        base="principal-secret-expiring",
    )
    report = _run(twin_session, monkeypatch, doc, None, ["principal.exists", "signin.*"])
    exists = results(report, "principal.exists")
    assert exists and all(r.status is not Status.PASS for r in exists), _texts(report, "principal.exists")
    assert not any("None" in r.summary for r in exists), _texts(report, "principal.exists")
    assert any(r.status is Status.ERROR and "without an id" in r.summary for r in report.results), " | ".join(
        f"{r.check_id} {r.status.value}: {r.summary}" for r in report.results
    )


# ------------------------------------------------------------------------------------------ caps


def test_a_gzip_bomb_stops_at_the_cap(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    """The data plane (the configured endpoint: the token may go there) answers a gzip bomb of 1 GB of zeros;
    with a 1 MB cap the probe stops after ~1 MB and says so — memory stays flat."""
    import preflight.azure.http as http

    monkeypatch.setattr(http, "MAX_BODY", 1 << 20)
    with Hostile("127.0.0.2", mode="bomb") as bomb:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        report = _run(
            twin_session,
            monkeypatch,
            sc.builtin("healthy"),
            bomb,
            ["access.probe"],
            env={"AZURE_OPENAI_ENDPOINT": bomb.url + "/"},
        )
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        sent = bomb.bomb_sent
    probe = results(report, "access.probe")
    assert [r.status for r in probe] == [Status.ERROR], _texts(report, "access.probe")
    assert "1,048,576-byte limit" in probe[0].summary, probe[0].summary
    assert grown_mb < 64, f"peak memory grew by {grown_mb:.0f} MB"
    assert sent < 512 << 20, f"the server got {sent >> 20} MB of the bomb out"  # socket buffers hold more than read


def test_a_declared_oversized_body_is_not_read(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    with Hostile("127.0.0.2", mode="declared") as liar:
        report = _run(
            twin_session,
            monkeypatch,
            sc.builtin("healthy"),
            liar,
            ["access.probe"],
            env={"AZURE_OPENAI_ENDPOINT": liar.url + "/"},
        )
    probe = results(report, "access.probe")
    assert [r.status for r in probe] == [Status.ERROR], _texts(report, "access.probe")
    assert "declares 10,737,418,240 bytes" in probe[0].summary, probe[0].summary


def test_the_audit_and_the_sdk_pager_refuse_a_foreign_next_link(
    twin_session: Twin, hostile: Hostile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit's REST client and the ARM SDK's own pager (the subscription listing of the endpoint lookup's
    ARM fallback) follow ``nextLink`` through the same host-bound token policy. Resource Graph refuses, so
    both list subscriptions through ARM — whose first page points to another host."""
    from preflight.audit.collect import AuditPlan
    from preflight.audit.facts import AuditOptions
    from preflight.audit.run import run_audit

    foreign = f"{hostile.url}/subscriptions?page=2"
    first = {
        "value": [
            {
                "id": f"/subscriptions/{sc.SUB}",
                "subscriptionId": sc.SUB,
                "displayName": "s",
                "state": "Enabled",
                "tenantId": sc.TENANT,
            }
        ],
        "nextLink": foreign,
    }
    doc = _with_faults(
        {"match": {"service": "resource_graph"}, "status": 403},
        {"match": {"service": "arm", "method": "GET", "path": "^/subscriptions$"}, "status": 200, "body": first},
    )
    # the endpoint (AZURE_OPENAI_ENDPOINT) is the target: it is looked up
    check = _run(twin_session, monkeypatch, doc, hostile, ["resource.endpoint"], drop=["PREFLIGHT_RESOURCE_ID"])
    check_said = _texts(check, "resource.endpoint")
    audit = run_audit(
        build_target(dict(os.environ)),
        AuditOptions(plan=AuditPlan(all_subscriptions=True)),
        RunOptions(timeout=20, deadline=30),
    )
    assert hostile.seen == [], "a token followed a nextLink to another host"
    assert "error: " in check_said and "refused to send" in check_said and "127.0.0.2" in check_said, check_said
    audit_said = " | ".join(r.summary for r in audit.results)
    assert "refused to send" in audit_said and "127.0.0.2" in audit_said, audit_said


def test_the_cloud_metadata_redirect_is_not_followed(
    twin_session: Twin, hostile: Hostile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first request of a run (urllib, no token) follows no redirect either: a 3xx could point anywhere,
    a link-local address included."""
    doc = _with_faults(
        {
            "match": {"path": "metadata/endpoints"},
            "status": 302,
            "headers": {"Location": f"{hostile.url}/metadata/endpoints"},
            "body": {},
        }
    )
    report = _run(twin_session, monkeypatch, doc, hostile, ["signin.chain"])
    assert hostile.seen == [], "the metadata request followed the redirect"
    chain = results(report, "signin.chain")
    assert [r.status for r in chain] == [Status.ERROR], _texts(report, "signin.chain")
    assert "redirect to https://127.0.0.2" in chain[0].summary, chain[0].summary


def test_the_sdk_clients_transport_caps_a_gzip_bomb(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ARM SDK clients decode whole answers inside the SDK, so their cap sits in the transport
    (``sdk_kwargs`` → ``capped_transport``): the same bomb stops at the cap there too."""
    from azure.core import PipelineClient
    from azure.core.rest import HttpRequest

    from preflight.azure.http import RefusedRequest, capped_transport

    with Hostile("127.0.0.2", mode="bomb") as bomb:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bomb.ca_file))
        monkeypatch.setenv("NO_PROXY", "127.0.0.2")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        client = PipelineClient(bomb.url, transport=capped_transport(1 << 20), policies=[])
        with client, pytest.raises(RefusedRequest) as caught:
            client.send_request(HttpRequest("GET", bomb.url + "/subscriptions"))
        grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
        sent = bomb.bomb_sent
    assert caught.value.code == "TooLarge" and "1,048,576-byte limit" in caught.value.message
    # the server compresses ahead into the socket buffers (~1 KB per MB of zeros): it may have produced more than
    # the client read, but never the whole gigabyte
    assert grown_mb < 64 and sent < 512 << 20, (grown_mb, sent >> 20)


def test_a_graph_listing_over_the_page_limit_is_an_error_not_a_partial_list(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    import preflight.azure.graph as graph

    monkeypatch.setattr(graph, "MAX_PAGES", 1)  # the limit lowered, so one more page is over it
    twin_session.use("principal-federated-mismatch")
    more = f"{twin_session.base_url}/v1.0/applications/x/federatedIdentityCredentials?$skiptoken=2"
    doc = _with_faults(
        {
            "match": {"service": "graph", "path": "federatedIdentityCredentials"},
            "status": 200,
            "body": {"value": [], "@odata.nextLink": more},
        },
        base="principal-federated-mismatch",
    )
    report = _run(twin_session, monkeypatch, doc, None, ["principal.*", "signin.*"])
    everything = " | ".join(f"{r.check_id} {r.status.value}: {r.summary}" for r in report.results)
    assert "more than 1 pages" in everything and "error" in everything, everything


def test_an_sdk_listing_loop_stops_at_once(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ARM SDK's pager (the endpoint lookup's subscription listing) under the same loop check."""
    twin_session.use("healthy")
    again = f"{twin_session.base_url}/subscriptions?api-version=2022-12-01&loop=1"
    first = {
        "value": [
            {
                "id": f"/subscriptions/{sc.SUB}",
                "subscriptionId": sc.SUB,
                "displayName": "s",
                "state": "Enabled",
                "tenantId": sc.TENANT,
            }
        ],
        "nextLink": again,
    }
    doc = _with_faults(
        {"match": {"service": "resource_graph"}, "status": 403},
        {"match": {"service": "arm", "method": "GET", "path": "^/subscriptions$"}, "status": 200, "body": first},
    )
    report = _run(
        twin_session, monkeypatch, doc, None, ["resource.endpoint"], timeout=8, drop=["PREFLIGHT_RESOURCE_ID"]
    )
    listed = [e for e in twin_session.requests() if e.path == "/subscriptions"]
    assert 1 <= len(listed) <= 3, f"{len(listed)} requests for one listing: the loop was followed"
    text = _texts(report, "resource.endpoint")
    assert "error: " in text and "loop" in text, text
