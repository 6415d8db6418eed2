"""SARIF 2.1.0 for code-scanning dashboards and archives (GitHub code scanning, the Azure DevOps SARIF viewer …).

One rule per check (title, description, help with the check's docs, default level from its severity), one
result per FAIL or WARN. A check that could not run (ERROR) is a tool execution notification and makes the
invocation unsuccessful — SARIF's own way of saying "the analysis is incomplete", rather than a finding about
the target. PASS and SKIP produce no result. Findings are about an Azure resource, not a source file, so each
result carries a *logical* location: the resource id (or endpoint, or tenant) the run checked.

Valid against the official OASIS schema (tests/data/schemas/sarif-schema-2.1.0.json).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from preflight.model import CheckMeta, Report, Result, Severity, Status
from preflight.reports import RenderOptions

name = "sarif"
media_type = "application/sarif+json"

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
# A check's severity → the rule's default level and GitHub's numeric security-severity (GitHub buckets it:
# ≥ 9.0 critical, 7.0–8.9 high, 4.0–6.9 medium, 0.1–3.9 low).
SEVERITY_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.0",
    Severity.HIGH: "7.5",
    Severity.MEDIUM: "5.0",
    Severity.LOW: "3.0",
    Severity.INFO: "1.0",
}
# A result's status → its level: a FAIL is as serious as its check, a WARN is at most a warning.
STATUS_LEVEL = {Status.FAIL: None, Status.WARN: "warning"}
FINDINGS = (Status.FAIL, Status.WARN)


def _rule(meta: CheckMeta) -> dict[str, Any]:
    help_lines = [meta.description or meta.title]
    help_md = [meta.description or meta.title]
    if meta.docs:
        help_lines += ["", "Docs:"] + [f"- {doc}" for doc in meta.docs]
        help_md += ["", "**Docs**"] + [f"- <{doc}>" for doc in meta.docs]
    rule: dict[str, Any] = {
        "id": meta.id,
        "name": "".join(part.capitalize() for part in meta.id.replace("-", ".").split(".")),
        "shortDescription": {"text": meta.title},
        "fullDescription": {"text": meta.description or meta.title},
        "help": {"text": "\n".join(help_lines), "markdown": "\n".join(help_md)},
        "defaultConfiguration": {"level": SEVERITY_LEVEL[meta.severity]},
        "properties": {
            # SARIF tags are a set (uniqueItems): a check tagged with its own area must not repeat it
            "tags": list(dict.fromkeys(["azure", "entra-id", meta.area, *meta.tags])),
            "precision": "high",
            "problem.severity": SEVERITY_LEVEL[meta.severity],
            "security-severity": SECURITY_SEVERITY[meta.severity],
            "preflight.severity": meta.severity.value,
        },
    }
    if meta.docs:
        rule["helpUri"] = meta.docs[0]
    return rule


def _meta_for(result: Result) -> CheckMeta:
    """Metadata for a result whose check is not in ``report.checks`` (a hand-built report, a plug-in)."""
    return CheckMeta(id=result.check_id, title=result.title, severity=result.severity, docs=result.docs)


def _location(report: Report) -> dict[str, Any]:
    target = report.target
    for key, kind in (
        ("resource_id", "resource"),
        ("workspace", "resource"),
        ("endpoint", "endpoint"),
        ("subscription_id", "subscription"),
        ("tenant_id", "tenant"),
    ):
        value = target.get(key)
        if value:
            return {"logicalLocations": [{"fullyQualifiedName": str(value), "kind": kind}]}
    return {"logicalLocations": [{"fullyQualifiedName": "azure", "kind": "cloud"}]}


def _message(result: Result) -> dict[str, Any]:
    text = [result.summary]
    markdown = [result.summary.replace("<", "&lt;").replace(">", "&gt;")]
    if result.remediation is not None:
        text.append(f"Fix: {result.remediation.text}")
        markdown += ["", f"**Fix:** {result.remediation.text.replace('<', '&lt;').replace('>', '&gt;')}"]
        for command in result.remediation.commands:
            text.append(f"$ {command}")
            markdown += ["", "```sh", command, "```"]
    return {"text": "\n".join(text), "markdown": "\n".join(markdown)}


def _fingerprint(result: Result, location: dict[str, Any]) -> str:
    """Stable across runs for the same finding on the same resource, so dashboards de-duplicate alerts."""
    where = location["logicalLocations"][0]["fullyQualifiedName"]
    key = "\x1f".join((result.check_id, result.subject or "", where.lower()))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _result(result: Result, rule_index: int, meta: CheckMeta, location: dict[str, Any]) -> dict[str, Any]:
    level = STATUS_LEVEL[result.status] or SEVERITY_LEVEL[meta.severity]
    properties: dict[str, Any] = {
        "status": result.status.value,
        "severity": result.severity.value,
        "evidence": {item.name: item.value for item in result.evidence},
    }
    if result.subject:
        properties["subject"] = result.subject
    if result.remediation is not None:
        properties["remediation"] = result.remediation.to_dict()
    return {
        "ruleId": result.check_id,
        "ruleIndex": rule_index,
        "level": level,
        "kind": "fail",
        "message": _message(result),
        "locations": [location],
        "partialFingerprints": {"preflightFinding/v1": _fingerprint(result, location)},
        "properties": properties,
    }


def _notification(result: Result, rule_index: int) -> dict[str, Any]:
    return {
        "level": "error",
        "message": {"text": result.summary},
        "descriptor": {"id": result.check_id},
        "associatedRule": {"id": result.check_id, "index": rule_index},
        "properties": {"subject": result.subject} if result.subject else {},
    }


def to_document(report: Report) -> dict[str, Any]:
    """The SARIF log as plain data."""
    metas: dict[str, CheckMeta] = {meta.id: meta for meta in report.checks}
    for result in report.results:
        metas.setdefault(result.check_id, _meta_for(result))
    rule_ids = list(metas)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    location = _location(report)
    results = [
        _result(r, index[r.check_id], metas[r.check_id], location) for r in report.results if r.status in FINDINGS
    ]
    notifications = [_notification(r, index[r.check_id]) for r in report.results if r.status is Status.ERROR]
    invocation: dict[str, Any] = {"executionSuccessful": not notifications}
    if report.started_at:
        invocation["startTimeUtc"] = report.started_at
    if notifications:
        invocation["toolExecutionNotifications"] = notifications
    target = {key: value for key, value in report.target.items() if value not in (None, "", [], ())}
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "azure-preflight",
                        "version": report.tool_version,
                        "rules": [_rule(metas[rule_id]) for rule_id in rule_ids],
                    }
                },
                "invocations": [invocation],
                "automationDetails": {"id": "azure-preflight/"},
                "results": results,
                "properties": {"target": target, "counts": report.counts()},
            }
        ],
    }


def render(report: Report, options: RenderOptions) -> str:
    return json.dumps(to_document(report), indent=2, ensure_ascii=False, default=str) + "\n"
