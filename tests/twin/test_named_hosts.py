"""Named hosts (issue 21 item 3): Entra ID, ARM, Graph and each data plane under a name of its own, reached through
the twin's loopback CONNECT proxy, each service taking only its own audience — and the product's reports the same
as on the one loopback origin.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from azure.identity import ClientSecretCredential

from helpers.reports import ScenarioReports, run_report, scenario_reports  # noqa: F401
from helpers.twin_fixtures import apply_environment

from preflight.twin import Twin, hosts
from preflight.twin.http import ARM, DATA_PLANE, ENTRA, GRAPH, MANAGED_IDENTITY, RESOURCE_GRAPH, TWIN
from preflight.twin.proxy import decide
from preflight.twin.scenario import builtin_scenario_text, list_scenarios
from preflight.twin.tokens import decode_claims

CI_SP = json.loads(builtin_scenario_text("ci-sp-data-role"))
TENANT = CI_SP["signIn"]["environment"]["tenantId"]
ARM_VERSION = {"api-version": "2022-12-01"}


# ----------------------------------------------------------------------------------------------- pure


@pytest.mark.parametrize(
    ("host", "services", "prefix"),
    [
        ("login.twin.test", {ENTRA}, ""),
        ("management.twin.test", {ARM, RESOURCE_GRAPH}, ""),
        ("graph.twin.test", {GRAPH}, ""),
        ("contoso.openai.twin.test", {DATA_PLANE}, "/dataplane/contoso"),
        ("contoso.cognitiveservices.twin.test", {DATA_PLANE}, "/dataplane/contoso"),
        ("westeurope.api.cognitive.twin.test", {DATA_PLANE}, "/dataplane/regional/westeurope"),
    ],
)
def test_each_name_serves_one_service(host: str, services: set[str], prefix: str) -> None:
    route = hosts.route_for(host)
    assert route is not None and route.services == services and route.prefix == prefix


@pytest.mark.parametrize(
    "host", ["twin.test", "a.b.openai.twin.test", ".openai.twin.test", "graph.microsoft.com", "x.twin.test"]
)
def test_names_the_twin_does_not_have(host: str) -> None:
    assert hosts.route_for(host) is None


def test_host_header_forms() -> None:
    assert hosts.host_of("Management.Twin.Test:443") == "management.twin.test"
    assert hosts.host_of("graph.twin.test.") == "graph.twin.test"
    assert hosts.host_of("127.0.0.1:8443") == "127.0.0.1"
    assert hosts.host_of("[::1]:443") == "[::1]"


def test_an_account_is_named_as_arm_names_it() -> None:
    openai = {"kind": "OpenAI", "location": "eastus", "properties": {"customSubDomainName": "Contoso"}}
    services = {"kind": "AIServices", "location": "eastus", "properties": {"customSubDomainName": "fabrikam"}}
    regional = {"kind": "OpenAI", "location": "swedencentral", "properties": {}}
    assert hosts.account_endpoint(openai) == "https://contoso.openai.twin.test/"
    assert hosts.account_endpoint(services) == "https://fabrikam.cognitiveservices.twin.test/"
    assert hosts.account_endpoint(regional) == "https://swedencentral.api.cognitive.twin.test/"


def test_a_data_plane_name_exists_only_for_an_account_that_has_it() -> None:
    scenario = {"resources": [{"properties": {"customSubDomainName": "contoso"}}]}
    assert hosts.serves("contoso.openai.twin.test", scenario)
    assert hosts.serves("contoso.cognitiveservices.twin.test", scenario)
    assert not hosts.serves("fabrikam.openai.twin.test", scenario)
    assert hosts.serves("eastus.api.cognitive.twin.test", scenario)  # every region's shared endpoint exists
    assert hosts.serves("login.twin.test", scenario)
    assert not hosts.serves("management.azure.com", scenario)


@pytest.mark.parametrize(
    ("line", "status"),
    [
        ("CONNECT management.azure.com:443 HTTP/1.1", "403"),  # a real Azure name: refused, never resolved
        ("CONNECT 169.254.169.254:80 HTTP/1.1", "403"),
        ("CONNECT login.twin.test:80 HTTP/1.1", "403"),  # only port 443
        ("GET http://login.twin.test/ HTTP/1.1", "403"),  # no plain-HTTP forwarding
        ("CONNECT nope.openai.twin.test:443 HTTP/1.1", "502"),  # a twin name that does not exist
        ("garbage", "403"),
    ],
)
def test_the_proxy_refuses_what_it_does_not_serve(line: str, status: str) -> None:
    host, answer = decide(line, lambda name: name != "nope.openai.twin.test")
    assert host is None and answer.startswith(f"HTTP/1.1 {status} ".encode())


def test_the_proxy_tunnels_a_twin_name() -> None:
    assert decide("CONNECT Login.Twin.Test:443 HTTP/1.1", lambda name: True) == ("login.twin.test", b"")


# ----------------------------------------------------------------------------------------------- twin


@pytest.fixture
def sp_env(named_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The named twin serving ci-sp-data-role, this process pointed at it (HTTPS_PROXY included)."""
    named_twin.use("ci-sp-data-role")
    env = named_twin.environment()
    apply_environment(monkeypatch, env)
    yield env


def _token(scope: str) -> str:
    env = CI_SP["signIn"]["environment"]
    credential = ClientSecretCredential(
        env["tenantId"],
        env["clientId"],
        env["clientSecret"],
        authority=os.environ["AZURE_AUTHORITY_HOST"],
        disable_instance_discovery=True,  # else MSAL asks login.microsoftonline.com, which the proxy refuses
    )
    return credential.get_token(scope).token


def _get(url: str, token: str | None = None, **params: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(url, params=params, headers=headers, verify=os.environ["REQUESTS_CA_BUNDLE"], timeout=10)


def test_the_environment_names_the_services_and_the_proxy(named_twin: Twin) -> None:
    env = named_twin.environment()
    assert env["AZURE_AUTHORITY_HOST"] == "https://login.twin.test"
    assert env["ARM_CLOUD_METADATA_URL"].startswith("https://management.twin.test/metadata/endpoints?")
    assert env["HTTPS_PROXY"].startswith("http://127.0.0.1:") and env["HTTPS_PROXY"] == env["https_proxy"]
    assert "127.0.0.1" in env["NO_PROXY"]  # managed identity stays direct
    assert named_twin.scenario["target"]["endpoint"] == "https://contoso-openai.openai.twin.test/"


def test_the_cloud_metadata_names_each_service(sp_env: dict[str, str], named_twin: Twin) -> None:
    answer = _get(sp_env["ARM_CLOUD_METADATA_URL"])
    assert answer.status_code == 200
    doc = answer.json()
    assert doc["authentication"]["loginEndpoint"] == "https://login.twin.test/"
    assert doc["resourceManager"] == "https://management.twin.test/"
    assert doc["microsoftGraphResourceId"] == "https://graph.twin.test/"
    assert [(e.host, e.service) for e in named_twin.requests()] == [("management.twin.test", ARM)]


def test_each_service_takes_only_its_own_audience(sp_env: dict[str, str]) -> None:
    arm_token, graph_token = _token("https://management.azure.com/.default"), _token("https://graph.twin.test/.default")
    claims = decode_claims(graph_token)
    assert claims["aud"].rstrip("/") == "https://graph.twin.test"
    # a v1 token's issuer is sts.windows.net's; a v2 token's names the sign-in host it was issued on
    assert claims["iss"] in (f"https://sts.windows.net/{TENANT}/", f"https://login.twin.test/{TENANT}/v2.0")
    subscriptions = "https://management.twin.test/subscriptions"
    assert _get(subscriptions, arm_token, **ARM_VERSION).status_code == 200
    refused = _get(subscriptions, graph_token, **ARM_VERSION)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "InvalidAuthenticationTokenAudience"
    assert 'authorization_uri="https://login.twin.test/' in refused.headers["WWW-Authenticate"]
    # Graph authenticates its own token (the CI service principal then lacks the directory read: 403, not 401)
    sps = "https://graph.twin.test/v1.0/servicePrincipals"
    assert _get(sps, graph_token).status_code in (200, 403)
    refused = _get(sps, arm_token)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_a_service_answers_only_on_its_own_name(sp_env: dict[str, str]) -> None:
    arm_token = _token("https://management.azure.com/.default")
    assert _get("https://graph.twin.test/subscriptions", arm_token, **ARM_VERSION).status_code == 404
    assert _get("https://management.twin.test/v1.0/me", arm_token).status_code == 404
    token_on_arm = requests.post(
        f"https://management.twin.test/{TENANT}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials"},
        verify=sp_env["REQUESTS_CA_BUNDLE"],
        timeout=10,
    )
    assert token_on_arm.status_code == 404


def test_arm_next_links_stay_on_the_management_name(named_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = copy.deepcopy(CI_SP)
    doc.setdefault("options", {})["pageSize"] = 1
    named_twin.use(doc)
    apply_environment(monkeypatch, named_twin.environment())
    account = named_twin.scenario["target"]["resourceId"]
    url = f"https://management.twin.test{account}/providers/Microsoft.Authorization/roleDefinitions"
    page = _get(url, _token("https://management.azure.com/.default"), **{"api-version": "2022-04-01"})
    assert page.status_code == 200, page.text
    assert page.json()["nextLink"].startswith(f"https://management.twin.test{account}/providers/")


def test_a_data_plane_name_that_no_account_has_does_not_resolve(sp_env: dict[str, str]) -> None:
    with pytest.raises(requests.exceptions.ProxyError):
        _get("https://no-such-account.openai.twin.test/openai/models", **{"api-version": "2024-10-21"})


def test_the_proxy_never_reaches_a_real_azure_name(sp_env: dict[str, str], named_twin: Twin) -> None:
    # The suite's loopback guard fails this test if the proxy (in this process) so much as resolved the name.
    with pytest.raises(requests.exceptions.ProxyError):
        _get("https://management.azure.com/subscriptions", **ARM_VERSION)
    assert any(line.startswith("CONNECT management.azure.com:443 ") for line in named_twin.proxy_refused())


# The services a process may still reach on 127.0.0.1 with named hosts: managed identity (an address, as IMDS is)
# and the twin's own `az` stand-in.
LOOPBACK_SERVICES = {MANAGED_IDENTITY, TWIN}


@pytest.mark.parametrize("scenario", list_scenarios())
def test_every_scenario_reports_the_same_on_named_hosts(
    scenario: str,
    scenario_reports: ScenarioReports,  # noqa: F811
    named_twin_session: Twin,
) -> None:
    one_origin = scenario_reports.get(scenario)
    named = run_report(named_twin_session, scenario)
    assert named_twin_session.errors() == []

    def verdicts(report: Any) -> list[tuple[str, str, str | None, str | None]]:
        return [(r.check_id, r.status.value, r.subject, r.caused_by) for r in report.results]

    assert verdicts(named) == verdicts(one_origin)
    served = named_twin_session.requests()
    assert served, "the run reached the twin"
    on_loopback = {e.service for e in served if e.host == "127.0.0.1"}
    assert on_loopback <= LOOPBACK_SERVICES, f"reached 127.0.0.1 for {on_loopback - LOOPBACK_SERVICES}"
    for entry in served:
        if entry.host != "127.0.0.1":
            route = hosts.route_for(entry.host)
            assert route is not None and entry.service in route.services, (entry.host, entry.service, entry.path)


def test_an_endpoint_alone_finds_its_account_by_host(named_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given only ``https://contoso-openai.openai.twin.test/`` (no resource id), the product finds the account
    whose ``properties.endpoint`` is that host through Resource Graph on the management name, then reads it."""
    from preflight.engine import RunOptions
    from preflight.model import Status
    from preflight.run import CheckOptions, run
    from preflight.target import build_target

    named_twin.use("ci-sp-data-role")
    apply_environment(monkeypatch, named_twin.environment())
    monkeypatch.delenv("PREFLIGHT_RESOURCE_ID")
    assert os.environ["AZURE_OPENAI_ENDPOINT"] == "https://contoso-openai.openai.twin.test/"
    named_twin.clear_log()
    target = build_target(dict(os.environ))
    assert target.resource_id is None
    report = run(CheckOptions(target, only=["resource.*", "rbac.data-action"], engine=RunOptions(timeout=30)))
    statuses = {(r.check_id, r.subject): r.status for r in report.results}
    assert statuses[("resource.endpoint", None)] is Status.PASS, report.results
    assert all(s is Status.PASS for (cid, _), s in statuses.items() if cid == "rbac.data-action"), statuses
    served = [(e.host, e.service, e.method) for e in named_twin.requests()]
    assert ("management.twin.test", RESOURCE_GRAPH, "POST") in served
