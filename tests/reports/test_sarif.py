"""SARIF: one rule per check with help and the severity mapping, one result per FAIL/WARN, ERROR as a tool
execution notification, stable fingerprints."""

from __future__ import annotations

import json

from helpers.reports import every_status_report

from preflight.model import Severity
from preflight.reports import RenderOptions, sarif


def test_rules_results_and_notifications() -> None:
    log = json.loads(sarif.render(every_status_report(), RenderOptions()))
    assert log["version"] == "2.1.0"
    (run,) = log["runs"]
    rules = {rule["id"]: rule for rule in run["tool"]["driver"]["rules"]}
    assert list(rules) == [
        "env.config",
        "signin.chain",
        "rbac.data-action",
        "resource.endpoint",
        "tokens.scope",
        "plugin.extra",
    ]
    rbac = rules["rbac.data-action"]
    assert rbac["shortDescription"]["text"] == "Role grants data actions"
    assert rbac["defaultConfiguration"]["level"] == "error"
    assert rbac["properties"]["security-severity"] == "9.0"
    assert "helpUri" not in rules["resource.endpoint"] and rules["env.config"]["helpUri"].startswith("https://")
    by_rule = {r["ruleId"]: r for r in run["results"]}
    assert set(by_rule) == {"rbac.data-action", "resource.endpoint", "plugin.extra"}
    assert by_rule["rbac.data-action"]["level"] == "error"
    assert by_rule["resource.endpoint"]["level"] == "warning"
    assert by_rule["plugin.extra"]["level"] == "note"  # a FAIL of an info-severity check
    location = by_rule["rbac.data-action"]["locations"][0]["logicalLocations"][0]
    assert location["kind"] == "resource" and location["fullyQualifiedName"].endswith("accounts/a<b>")
    assert "az role assignment create" in by_rule["rbac.data-action"]["message"]["text"]
    (notification,) = run["invocations"][0]["toolExecutionNotifications"]
    assert notification["descriptor"]["id"] == "signin.chain"
    assert run["invocations"][0]["executionSuccessful"] is False
    assert set(sarif.SEVERITY_LEVEL) == set(Severity) == set(sarif.SECURITY_SEVERITY)


def test_fingerprints_are_stable_across_runs_and_differ_per_finding() -> None:
    first = json.loads(sarif.render(every_status_report(), RenderOptions()))["runs"][0]["results"]
    second = json.loads(sarif.render(every_status_report(), RenderOptions()))["runs"][0]["results"]
    prints = [r["partialFingerprints"]["preflightFinding/v1"] for r in first]
    assert prints == [r["partialFingerprints"]["preflightFinding/v1"] for r in second]
    assert len(set(prints)) == len(prints)
