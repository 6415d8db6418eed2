"""JUnit XML: one testcase per result with the status mapping CI systems count, valid against the JUnit XSD."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from helpers.reports import every_status_report

from preflight.model import Status
from preflight.reports import RenderOptions, junit


def test_status_mapping_and_details() -> None:
    text = junit.render(every_status_report(), RenderOptions())
    root = ET.fromstring(text)
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert list(suites) == [
        "preflight.env",
        "preflight.signin",
        "preflight.rbac",
        "preflight.resource",
        "preflight.tokens",
        "preflight.plugin",
    ]
    case = suites["preflight.rbac"].find("testcase")
    assert case is not None
    assert case.get("name") == "rbac.data-action [Microsoft.CognitiveServices/accounts/OpenAI/deployments/read]"
    assert case.get("classname") == "preflight.rbac" and case.get("time") == "0.250"
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "rbac.data-action.fail"
    assert failure.text is not None and "$ az role assignment create" in failure.text
    assert suites["preflight.signin"].find("testcase/error") is not None
    skipped = suites["preflight.tokens"].find("testcase/skipped")
    assert skipped is not None and skipped.get("message") == "skipped: no credential"
    # WARN passes, and is listed in its suite's output
    assert suites["preflight.resource"].find("testcase/*") is None
    assert "WARN resource.endpoint [local-auth]" in (suites["preflight.resource"].findtext("system-out") or "")
    assert suites["preflight.env"].get("timestamp") == "2026-01-02T03:04:05"
    # control characters (invalid in XML 1.0) are dropped, not emitted
    assert "\x00" not in text and "\x1b" not in text and "\x07" not in text
    assert junit.STATUS_ELEMENT[Status.ERROR] == "error"


def test_timestamps_are_utc_without_zone() -> None:
    assert junit._timestamp("2026-11-23T16:12:06+01:00") == "2026-11-23T15:12:06"
    assert junit._timestamp("not a time") == "1970-01-01T00:00:00"
