"""signin.chain with IMDS-style managed identity — what every Azure VM has, and what azure-identity falls back to
on any machine without IDENTITY_ENDPOINT / MSI_ENDPOINT (a developer laptop, a CI runner).

azure-identity's ImdsCredential brings its own retry policy class; preflight once passed another one to every
link, so building the IMDS credential raised TypeError and the chain reported ManagedIdentityCredential as having
*failed* — ending the chain before the Azure CLI on a laptop, and on a VM with a working identity. The twin
serves the IMDS protocol (AZURE_POD_IDENTITY_AUTHORITY_HOST); a closed loopback port stands in for "no IMDS".
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from helpers.cli import run_cli
from helpers.scenarios import one, results, run_scenario
from helpers.twin_fixtures import IDS, apply_environment, core_scenario

from preflight.engine import RunOptions
from preflight.model import Result, Status
from preflight.run import CheckOptions, run
from preflight.target import build_target
from preflight.twin import Twin

IMDS = {"clientId": IDS["mi_client"], "principalId": IDS["mi_principal"], "style": "imds"}


def _link(result: Result, credential: str) -> dict[str, Any]:
    links = next(e.value for e in result.evidence if e.name == "links")
    link: dict[str, Any] = next(item for item in links if item["credential"] == credential)
    return link


def _scenario(**sign_in: Any) -> dict[str, Any]:
    doc = core_scenario(signIn=sign_in)
    doc["target"] = {"tenantId": IDS["tenant"], "subscriptionId": IDS["subscription"]}
    return doc


def test_an_imds_managed_identity_signs_in(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario: Any = _scenario(managedIdentity=IMDS, azureCli=None)
    report = run_scenario(twin_session, monkeypatch, scenario, only=["signin.chain"])
    chain = one(report, "signin.chain")
    link = _link(chain, "ManagedIdentityCredential")
    assert link["outcome"] == "ok", link
    assert chain.status is Status.PASS
    assert chain.summary.startswith("DefaultAzureCredential uses ManagedIdentityCredential"), chain.summary
    assert any(entry.service == "managed_identity" for entry in twin_session.requests())
    # A VM sets no host variable: its IMDS token recognises it, so no "looks like a developer machine" WARN.
    assert [r.subject for r in results(report, "signin.chain")] == [None]
    assert "a managed identity on Azure VM (recognised from token from IMDS, xms_mirid)" in chain.summary
    host = next(e.value for e in chain.evidence if e.name == "azure_host")
    assert host == {"host": "Azure VM", "recognised_from": ["token from IMDS", "xms_mirid"]}


def test_an_imds_managed_identity_with_the_cli_signed_in_still_warns(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A developer VM (Dev Box) where the CLI is signed in too: the managed identity answers instead of the user.
    scenario: Any = _scenario(managedIdentity=IMDS)
    report = run_scenario(twin_session, monkeypatch, scenario, only=["signin.chain"])
    mi = one(report, "signin.chain", "managed-identity")
    assert mi.status is Status.WARN
    assert "AzureCliCredential is also signed in" in mi.summary and "no Azure host" not in mi.summary, mi.summary
    assert next(e.value for e in mi.evidence if e.name == "azure_host") == "Azure VM"


def test_the_cli_names_the_vm_and_gives_no_developer_machine_warning(twin_session: Twin) -> None:
    twin_session.use(_scenario(managedIdentity=IMDS, azureCli=None))
    done = run_cli(
        ["check", "--only", "signin.chain", "--format", "json"], env=twin_session.process_environment(), timeout=180
    )
    assert done.returncode == 0, done.stderr
    found = [r for r in json.loads(done.stdout)["results"] if r["check_id"] == "signin.chain"]
    assert [(r["subject"], r["status"]) for r in found] == [(None, "pass")], found
    assert "a managed identity on Azure VM" in found[0]["summary"]
    assert "developer machine" not in done.stdout


def test_no_imds_endpoint_is_unavailable_and_the_chain_goes_on_to_the_cli(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Managed identity goes to a closed loopback port (as on a machine without IMDS); the Azure CLI is signed in.
    twin_session.use(_scenario(managedIdentity=None))
    env = twin_session.environment()
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET"):
        env.pop(name, None)
    env["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = "http://127.0.0.1:9"
    apply_environment(monkeypatch, env)
    report = run(
        CheckOptions(build_target(dict(os.environ)), only=["signin.chain"], engine=RunOptions(timeout=30, deadline=60))
    )
    chain = one(report, "signin.chain")
    link = _link(chain, "ManagedIdentityCredential")
    assert link["outcome"] == "unavailable", link
    assert "TypeError" not in repr(chain)
    assert chain.summary.startswith("DefaultAzureCredential uses AzureCliCredential"), chain.summary
