"""Reports for renderer tests: real ones from the twin (built once per session) and one hand-built report that
holds every status and every awkward string a renderer must survive."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from helpers.twin_fixtures import apply_environment

from preflight.engine import RunOptions
from preflight.model import CheckMeta, Evidence, Remediation, Report, Result, Severity, Status
from preflight.run import CheckOptions, run
from preflight.target import build_target
from preflight.twin import Twin

DATA = Path(__file__).parents[1] / "data"
SCHEMAS = DATA / "schemas"
# A copy of the healthy scenario whose user's displayName is a script element; it reaches tokens.scope's
# evidence through the token's `name` claim.
XSS_SCENARIO = DATA / "xss-display-name.json"
XSS = "<script>alert(1)</script>"
# Every check, the opt-in probe included (named exactly, as on the command line).
EVERYTHING = ("*", "access.probe")


def run_report(twin: Twin, scenario: str | Mapping[str, Any]) -> Report:
    """Run every check against ``scenario`` with this process pointed at the twin, environment restored after."""
    twin.use(scenario)  # type: ignore[arg-type]
    with pytest.MonkeyPatch.context() as monkeypatch:
        apply_environment(monkeypatch, twin.environment())
        target = build_target(dict(os.environ))
        return run(CheckOptions(target, only=list(EVERYTHING), engine=RunOptions(timeout=30, deadline=60)))


class ScenarioReports:
    """Reports of the built-in scenarios, each built on first use and shared by every test in the session."""

    def __init__(self, twin: Twin) -> None:
        self.twin = twin
        self._cache: dict[str, Report] = {}

    def get(self, scenario: str) -> Report:
        if scenario not in self._cache:
            self._cache[scenario] = run_report(self.twin, scenario)
        return self._cache[scenario]

    def xss(self) -> Report:
        key = "<xss>"
        if key not in self._cache:
            self._cache[key] = run_report(self.twin, json.loads(XSS_SCENARIO.read_text(encoding="utf-8")))
        return self._cache[key]


_reports: ScenarioReports | None = None


def scenario_reports_for(twin: Twin) -> ScenarioReports:
    global _reports
    if _reports is None or _reports.twin is not twin:
        _reports = ScenarioReports(twin)
    return _reports


@pytest.fixture(scope="session")
def scenario_reports(twin_session: Twin) -> ScenarioReports:
    """Import into a test module: ``from helpers.reports import scenario_reports  # noqa: F401``. The cache is
    module-global, so modules importing this fixture still share one report per scenario."""
    return scenario_reports_for(twin_session)


NASTY = "pipe | star * under_score `tick` [link](javascript:alert(1)) %0A 100% a,b:c & <b>bold</b> " + XSS
COMMAND = 'az role assignment create --assignee "a|b" --role "Cognitive Services OpenAI User" --scope /s/x'
INJECTION = "line one\n::error title=injected::pwned\r\n##[error]legacy\n##vso[task.setvariable variable=x]1"


def every_status_report() -> Report:
    """One result of each status, with subjects, evidence of every JSON type, commands and hostile text."""
    checks = (
        CheckMeta(
            "env.config",
            "Environment <config>",
            Severity.HIGH,
            "Reads AZURE_* variables.",
            tags=("offline",),
            docs=("https://learn.microsoft.com/a",),
        ),
        CheckMeta("signin.chain", "Sign-in", Severity.CRITICAL, "Probes the chain.", docs=("javascript:alert(1)",)),
        CheckMeta("rbac.data-action", "Role grants data actions", Severity.CRITICAL, "Evaluates RBAC."),
        CheckMeta("resource.endpoint", "Endpoint", Severity.MEDIUM, ""),
        CheckMeta("tokens.scope", "Token per scope", Severity.LOW, "Tokens."),
    )
    results = (
        Result(
            "env.config",
            "Environment <config>",
            Status.PASS,
            Severity.HIGH,
            "all good",
            evidence=(Evidence("variables", {"AZURE_TENANT_ID": "t", "n": 1, "ok": True, "none": None}),),
            duration=0.0012,
        ),
        Result(
            "signin.chain",
            "Sign-in",
            Status.ERROR,
            Severity.CRITICAL,
            "check crashed: " + INJECTION,
            evidence=(Evidence("trace", INJECTION),),
            docs=("javascript:alert(1)",),
            duration=1.5,
        ),
        Result(
            "rbac.data-action",
            "Role grants data actions",
            Status.FAIL,
            Severity.CRITICAL,
            "no role grants " + NASTY,
            subject="Microsoft.CognitiveServices/accounts/OpenAI/deployments/read",
            evidence=(
                Evidence("principal", XSS),
                Evidence("assignments", [{"role": "Owner", "scope": "/s"}]),
                Evidence("count", 3),
                Evidence("ratio", 0.5),
            ),
            remediation=Remediation(
                "assign the least-privilege role " + XSS, (COMMAND, "echo ```fenced``` && echo '<b>'")
            ),
            docs=("https://learn.microsoft.com/rbac",),
            duration=0.25,
        ),
        Result(
            "resource.endpoint",
            "Endpoint",
            Status.WARN,
            Severity.MEDIUM,
            "keys enabled: " + NASTY,
            subject="local-auth",
            remediation=Remediation("disable local auth"),
            duration=0.1,
        ),
        Result(
            "tokens.scope",
            "Token per scope",
            Status.SKIP,
            Severity.LOW,
            "skipped: no credential",
            subject="https://cognitiveservices.azure.com/.default",
            caused_by="signin.chain",
        ),
        # a result whose check is not in report.checks (a plug-in's, or a hand-built report)
        Result(
            "plugin.extra",
            "Plug-in check",
            Status.FAIL,
            Severity.INFO,
            "control\x00chars\x1b[31m here",
            evidence=(Evidence("bytes", "\x07bell"),),
        ),
    )
    return Report(
        tool_version="9.9.9",
        started_at="2026-01-02T03:04:05Z",
        duration=1.75,
        results=results,
        checks=checks,
        target={
            "cloud": "AzureCloud",
            "tenant_id": "11111111-1111-4111-8111-111111111111",
            "resource_id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a<b>",
            "assignee": None,
            "extra_scopes": ["https://vault.azure.net/.default"],
        },
    )


def empty_report() -> Report:
    return Report(tool_version="9.9.9", started_at="2026-01-02T03:04:05Z", duration=0.0, results=(), target={})
