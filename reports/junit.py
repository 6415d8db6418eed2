"""JUnit XML for CI test tabs (Azure Pipelines ``PublishTestResults``, GitLab, Jenkins …).

One ``<testsuite>`` per area (env, signin, tokens …) inside ``<testsuites>``, one ``<testcase>`` per result. The
document is valid against the widely used Apache Ant JUnit schema (windyroad ``JUnit.xsd``, the one CI tools
document), which fixes a few choices below: every suite has ``properties``, ``system-out`` and ``system-err``; the
timestamp has no time zone; a ``testcase`` carries at most one of ``skipped`` / ``error`` / ``failure`` and no
output of its own — so WARN results pass and are listed in their suite's ``system-out``.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from itertools import groupby

from preflight.model import Report, Result, Status
from preflight.reports import RenderOptions
from preflight.reports.text import result_lines

name = "junit"
media_type = "application/xml"

# Status → the child element of <testcase> that CI systems count (None: the test passed).
STATUS_ELEMENT: dict[Status, str | None] = {
    Status.PASS: None,
    Status.WARN: None,
    Status.SKIP: "skipped",
    Status.FAIL: "failure",
    Status.ERROR: "error",
}
# Hostname is required by the schema; the report does not record where it ran, and "localhost" is the value
# the schema prescribes when it is unknown (it also keeps the renderer pure and its output reproducible).
HOSTNAME = "localhost"
# XML 1.0 forbids most control characters even when escaped: they are dropped from any text from Azure.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: object) -> str:
    return _INVALID_XML.sub("", str(text))


def _timestamp(started_at: str) -> str:
    """``2026-11-23T15:12:06Z`` → ``2026-11-23T15:12:06`` (UTC, no zone: the schema's pattern)."""
    try:
        moment = datetime.fromisoformat(started_at)  # 3.11+ reads a trailing "Z"
    except ValueError:
        return "1970-01-01T00:00:00"
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _seconds(value: float) -> str:
    return f"{max(value, 0.0):.3f}"


def _details(result: Result) -> str:
    """The body of a failure/error/skipped element: what a person reads in the CI test tab."""
    lines = result_lines(result, cause="root cause reported by:")
    for item in result.evidence:
        value = item.value if isinstance(item.value, str) else json.dumps(item.value, ensure_ascii=False, default=str)
        lines.append(f"{item.name}: {value}")
    lines.extend(f"docs: {doc}" for doc in result.docs)
    return _clean("\n".join(lines))


def _testcase(result: Result, classname: str) -> ET.Element:
    case_name = result.check_id + (f" [{result.subject}]" if result.subject else "")
    case = ET.Element(
        "testcase", {"name": _clean(case_name), "classname": classname, "time": _seconds(result.duration)}
    )
    element = STATUS_ELEMENT[result.status]
    if element == "skipped":
        ET.SubElement(case, "skipped", {"message": _clean(result.summary)})
    elif element is not None:
        child = ET.SubElement(
            case, element, {"message": _clean(result.summary), "type": f"{result.check_id}.{result.status.value}"}
        )
        child.text = _details(result)
    return case


def _suite(area: str, results: list[Result], report: Report, index: int) -> ET.Element:
    statuses = [r.status for r in results]
    suite = ET.Element(
        "testsuite",
        {
            "name": f"preflight.{area}",
            "package": "preflight",
            "id": str(index),
            "timestamp": _timestamp(report.started_at),
            "hostname": HOSTNAME,
            "tests": str(len(results)),
            "failures": str(statuses.count(Status.FAIL)),
            "errors": str(statuses.count(Status.ERROR)),
            "skipped": str(statuses.count(Status.SKIP)),
            "time": _seconds(sum(r.duration for r in results)),
        },
    )
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", {"name": "tool.version", "value": _clean(report.tool_version)})
    for key, value in report.target.items():
        if value not in (None, "", [], ()):
            text = value if isinstance(value, str) else json.dumps(value, default=str)
            ET.SubElement(properties, "property", {"name": f"target.{key}", "value": _clean(text)})
    classname = f"preflight.{area}"
    for result in results:
        suite.append(_testcase(result, classname))
    out = ET.SubElement(suite, "system-out")
    warnings = [r for r in results if r.status is Status.WARN]
    out.text = _clean(
        "\n\n".join(
            f"WARN {r.check_id}" + (f" [{r.subject}]" if r.subject else "") + "\n" + _details(r) for r in warnings
        )
    )
    ET.SubElement(suite, "system-err").text = ""
    return suite


def render(report: Report, options: RenderOptions) -> str:
    root = ET.Element("testsuites")
    # Results arrive in diagnosis order, grouped by area: consecutive groups, no re-sorting.
    for index, (area, group) in enumerate(groupby(report.results, key=lambda r: r.check_id.split(".", 1)[0])):
        root.append(_suite(area, list(group), report, index))
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
