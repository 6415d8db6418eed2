"""signin.chain / signin.identity against the twin, for the cases the issue singles out: a wrong secret in the
environment ends DefaultAzureCredential's chain before a working Azure CLI is ever tried (named, with the way
out), and the identity check names a service principal's and a managed identity's ids from the token."""

from __future__ import annotations

import os
from typing import Any

import pytest

from helpers.scenarios import one, run_scenario
from helpers.twin_fixtures import IDS, core_scenario

from preflight.model import Result, Status
from preflight.twin import Twin


def _evidence(result: Result, name: str) -> Any:
    return next(e.value for e in result.evidence if e.name == name)


def _targeted(doc: dict[str, Any]) -> dict[str, Any]:
    doc["target"] = {"tenantId": IDS["tenant"], "subscriptionId": IDS["subscription"]}
    return doc


def test_a_wrong_environment_secret_shadows_a_working_cli(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _targeted(
        core_scenario(
            signIn={
                "managedIdentity": None,
                "environment": {
                    "clientId": IDS["secret_app"],
                    "tenantId": IDS["tenant"],
                    "clientSecret": "not-the-secret-canary",
                },
            }
        )
    )
    report = run_scenario(twin_session, monkeypatch, doc, only=["signin.chain"])  # type: ignore[arg-type]
    chain = one(report, "signin.chain")
    assert chain.status is Status.FAIL
    assert chain.summary.startswith(
        "DefaultAzureCredential stops at EnvironmentCredential, which tried and failed (AADSTS7000215"
    )
    assert "AzureCliCredential would work but is never tried" in chain.summary
    assert _evidence(chain, "aadsts") == "invalid_client_secret"
    assert chain.remediation is not None
    assert (
        "unset AZURE_CLIENT_SECRET / AZURE_CLIENT_CERTIFICATE_PATH to fall through to AzureCliCredential"
        in chain.remediation.text
    )
    links = {link["credential"]: link for link in _evidence(chain, "links")}
    assert links["EnvironmentCredential"]["outcome"] == "failed"
    assert links["AzureCliCredential"]["outcome"] == "ok"  # probed on its own: it does work
    assert "not-the-secret-canary" not in repr(report)


def test_identity_of_a_service_principal(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _targeted(
        core_scenario(
            signIn={
                "managedIdentity": None,
                "azureCli": {"loggedIn": False},
                "environment": {
                    "clientId": IDS["secret_app"],
                    "tenantId": IDS["tenant"],
                    "clientSecret": "twin-secret-value~0",
                },
            }
        )
    )
    identity = one(
        run_scenario(twin_session, monkeypatch, doc, only=["signin.identity"]),  # type: ignore[arg-type]
        "signin.identity",
    )
    assert identity.status is Status.PASS
    assert _evidence(identity, "kind") == "servicePrincipal"
    assert _evidence(identity, "object_id") == IDS["secret_sp"]
    assert _evidence(identity, "app_id") == IDS["secret_app"]
    assert _evidence(identity, "tenant_id") == IDS["tenant"]


def test_identity_of_a_managed_identity(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _targeted(core_scenario(signIn={"azureCli": {"loggedIn": False}}))  # App Service style MI only
    identity = one(
        run_scenario(twin_session, monkeypatch, doc, only=["signin.identity"]),  # type: ignore[arg-type]
        "signin.identity",
    )
    assert identity.status is Status.PASS
    assert _evidence(identity, "kind") == "managedIdentity"
    assert _evidence(identity, "object_id") == IDS["mi_principal"]
    assert _evidence(identity, "app_id") == IDS["mi_client"]


# ---------------------------------------------------------------------------------------------- IMDS-style MI
# Off Azure, with no IDENTITY_ENDPOINT, DefaultAzureCredential's managed identity link is the IMDS one: the path
# every developer machine takes. It must be "unavailable" (the chain moves on to the CLI), never a crash.


def test_unreachable_imds_is_unavailable_and_the_cli_is_used(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    from helpers.twin_fixtures import apply_environment

    from preflight.engine import RunOptions
    from preflight.run import CheckOptions, run
    from preflight.target import build_target

    twin_session.use("healthy")
    env = twin_session.environment()
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT"):
        env.pop(name, None)
    env["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = "http://127.0.0.1:9"  # a closed loopback port, never 169.254…
    apply_environment(monkeypatch, env)
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    report = run(
        CheckOptions(build_target(dict(os.environ)), only=["signin.chain"], engine=RunOptions(timeout=30, deadline=60))
    )
    chain = one(report, "signin.chain")
    links = {link["credential"]: link for link in _evidence(chain, "links")}
    assert links["ManagedIdentityCredential"]["outcome"] == "unavailable", links["ManagedIdentityCredential"]
    assert chain.status is Status.PASS and _evidence(chain, "selected") == "AzureCliCredential"


def test_imds_style_managed_identity_at_the_twin_signs_in(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = _targeted(
        core_scenario(
            signIn={
                "azureCli": {"loggedIn": False},
                "managedIdentity": {"clientId": IDS["mi_client"], "principalId": IDS["mi_principal"], "style": "imds"},
            }
        )
    )
    report = run_scenario(twin_session, monkeypatch, doc, only=["signin.chain"])  # type: ignore[arg-type]
    chain = one(report, "signin.chain")
    assert chain.status is Status.PASS and _evidence(chain, "selected") == "ManagedIdentityCredential", chain
    assert any(e.path == "/metadata/identity/oauth2/token" for e in twin_session.requests())


# ---------------------------------------------------------------------------------------------- per-link fixes


@pytest.mark.parametrize(
    ("key", "environ", "fix"),
    [
        (
            "environment",
            {"AZURE_CLIENT_ID": "a", "AZURE_TENANT_ID": "t"},
            "set AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH) (EnvironmentCredential needs them all)",
        ),
        (
            "environment",
            {"AZURE_CLIENT_SECRET": "s"},
            "set AZURE_CLIENT_ID and AZURE_TENANT_ID (EnvironmentCredential needs them all)",
        ),
        (
            "environment",
            {"AZURE_TENANT_ID": "t"},
            "set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)",
        ),  # nothing started: the general fix
        (
            "environment",
            {"AZURE_CLIENT_ID": "a", "AZURE_USERNAME": "u@contoso.com"},
            "set AZURE_PASSWORD (EnvironmentCredential's username/password form needs them all)",
        ),
        (
            "workload_identity",
            {"AZURE_FEDERATED_TOKEN_FILE": "/f"},
            "set AZURE_CLIENT_ID and AZURE_TENANT_ID (WorkloadIdentityCredential needs them all)",
        ),
        ("cli", {}, "az login --tenant t1"),
        # the target's tenant, as for the CLI (issue 19; was a bare `azd auth login`)
        ("developer_cli", {}, "azd auth login --tenant-id t1"),
        ("powershell", {}, "Connect-AzAccount -Tenant t1"),
        ("shared_token_cache", {}, None),
    ],
)
def test_link_fix_names_what_is_missing(key: str, environ: dict[str, str], fix: str | None) -> None:
    from preflight.checks.signin import link_fix

    assert link_fix(key, environ, "t1") == fix


def test_each_unavailable_link_carries_its_fix(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.twin_fixtures import apply_environment

    from preflight.engine import RunOptions
    from preflight.run import CheckOptions, run
    from preflight.target import build_target

    twin_session.use("no-credentials")
    apply_environment(monkeypatch, twin_session.environment())
    monkeypatch.setenv("AZURE_CLIENT_ID", "c1c1c1c1-0000-4000-8000-0000000000c1")  # a half-done SP setup
    monkeypatch.setenv("AZURE_TENANT_ID", "11111111-1111-4111-8111-111111111111")
    for name in ("AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH"):
        monkeypatch.delenv(name, raising=False)
    report = run(
        CheckOptions(build_target(dict(os.environ)), only=["signin.chain"], engine=RunOptions(timeout=30, deadline=60))
    )
    chain = one(report, "signin.chain")
    links = {link["credential"]: link for link in _evidence(chain, "links")}
    assert links["EnvironmentCredential"]["outcome"] == "unavailable"
    assert links["EnvironmentCredential"]["fix"].startswith(
        "set AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH)"
    )
    assert links["AzureCliCredential"]["fix"] == "az login --tenant 11111111-1111-4111-8111-111111111111"
    assert (
        chain.remediation is not None
        and "set AZURE_CLIENT_SECRET (or AZURE_CLIENT_CERTIFICATE_PATH) (EnvironmentCredential needs them all)"
        in chain.remediation.text
    )
