"""rbac.* name the target by its kind: an Azure ML workspace is a workspace in every message, not an account."""

from __future__ import annotations

import os

import pytest

from helpers import rbac_scenarios as sc
from helpers.scenarios import results
from helpers.twin_fixtures import apply_environment

from preflight.model import Status
from preflight.run import CheckOptions, run
from preflight.target import build_target
from preflight.twin import Twin


def test_workspace_is_called_a_workspace(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    twin_session.use(sc.ml_workspace())
    env = twin_session.environment()
    env["PREFLIGHT_RESOURCE_ID"] = sc.WORKSPACE
    apply_environment(monkeypatch, env)
    for name in ("AZURE_OPENAI_ENDPOINT", "PREFLIGHT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    report = run(CheckOptions(build_target(dict(os.environ)), only=["rbac.deny", "rbac.data-action"]))
    deny = results(report, "rbac.deny")
    # AzureML Data Scientist cannot read deny assignments: rbac.deny says so, naming the workspace
    assert [r.status for r in deny] == [Status.WARN], deny
    assert deny[0].summary.startswith("deny assignments at the workspace could not be read"), deny[0].summary
    assert not [r for r in report.results if "account" in r.summary], report.results
