"""Every renderer on every built-in twin scenario's real report (and on a hand-built report holding every status
and hostile strings): each output is valid for its consumer — JSON and SARIF against their schemas, JUnit against
the JUnit XSD, HTML, Markdown and workflow commands checked structurally — so no status or field breaks a format."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import pytest
import xmlschema

from helpers.reports import (
    SCHEMAS,
    ScenarioReports,
    empty_report,
    every_status_report,
    scenario_reports,  # noqa: F401  (session fixture)
)

from preflight import reports
from preflight.model import Report, Status
from preflight.reports import RenderOptions
from preflight.twin.scenario import list_scenarios

REPORT_SCHEMA = json.loads((Path(__file__).parents[2] / "preflight" / "schemas" / "report-1.schema.json").read_text())
SARIF_SCHEMA = json.loads((SCHEMAS / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
# Built once: checking a schema and compiling its validator costs more than validating one document.
REPORT_VALIDATOR = jsonschema.validators.validator_for(REPORT_SCHEMA)(REPORT_SCHEMA)
SARIF_VALIDATOR = jsonschema.Draft4Validator(SARIF_SCHEMA, format_checker=jsonschema.FormatChecker())
JUNIT_XSD = xmlschema.XMLSchema(str(SCHEMAS / "JUnit.xsd"))
MINE = ("table", "json", "html", "md", "junit", "sarif", "github")


def _findings(report: Report, *statuses: Status) -> int:
    return sum(1 for r in report.results if r.status in statuses)


def check_json(text: str, report: Report) -> None:
    document = json.loads(text)
    REPORT_VALIDATOR.validate(document)
    assert len(document["results"]) == len(report.results)


def check_sarif(text: str, report: Report) -> None:
    log = json.loads(text)
    SARIF_VALIDATOR.validate(log)
    (run,) = log["runs"]
    rules = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert len(rules) == len(set(rules)), "one rule per check"
    assert {r.check_id for r in report.results} <= set(rules)
    assert len(run["results"]) == _findings(report, Status.FAIL, Status.WARN)
    for result in run["results"]:
        assert rules[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
    errors = _findings(report, Status.ERROR)
    assert run["invocations"][0]["executionSuccessful"] is (errors == 0)
    assert len(run["invocations"][0].get("toolExecutionNotifications", [])) == errors


def check_junit(text: str, report: Report) -> None:
    JUNIT_XSD.validate(text)
    root = ET.fromstring(text)
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(report.results), "one testcase per result"
    assert len(root.findall("./testsuite/testcase/failure")) == _findings(report, Status.FAIL)
    assert len(root.findall("./testsuite/testcase/error")) == _findings(report, Status.ERROR)
    assert len(root.findall("./testsuite/testcase/skipped")) == _findings(report, Status.SKIP)
    assert sum(int(s.get("failures", "0")) for s in root.iter("testsuite")) == _findings(report, Status.FAIL)


class _Html(HTMLParser):
    """Collects what the structural HTML checks need: tags and their attributes, in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def check_html(text: str, report: Report) -> None:
    parser = _Html()
    parser.feed(text)
    tags = parser.tags
    assert [t for t, _ in tags].count("script") == 1, "only the report's own script"
    assert all("src" not in attrs for _, attrs in tags), "nothing is loaded from anywhere"
    links = [attrs for tag, attrs in tags if tag == "link"]
    assert links == [{"rel": "icon", "href": "data:,"}]
    assert all(not (attrs.get("style")) for _, attrs in tags), "no inline style attribute (the CSP forbids it)"
    assert all(not any(k.startswith("on") for k in attrs) for _, attrs in tags), "no inline event handler"
    bodies = [attrs for tag, attrs in tags if tag == "tbody" and "result" in str(attrs.get("class")).split()]
    # every result exactly once (its id is its place in the report), what needs a look first and the passes
    # last (collapsed): the display order is by cause, not the report's (issue 19)
    places = [int(str(b["id"])[1:]) for b in bodies]
    assert sorted(places) == list(range(len(report.results)))
    statuses = [b["data-status"] for b in bodies]
    assert statuses == [report.results[i].status.value for i in places]
    assert statuses == sorted(statuses, key=lambda status: status == "pass")
    assert f"azure-preflight {report.tool_version}" in text


def check_md(text: str, report: Report) -> None:
    rows = [line for line in text.splitlines() if line.startswith("| ") and "|---" not in line]
    table_rows = [line for line in rows if re.search(r"^\| \S+ (PASS|FAIL|WARN|SKIP|ERROR) \|", line)]
    assert len(table_rows) == len(report.results)
    for line in table_rows:
        # unescaped pipes delimit the 4 cells; an escaped one (\|) or &#124; inside a cell does not
        assert len(re.findall(r"(?<!\\)\|", line)) == 5, line
    # outside code blocks (whose content GitHub shows as text) no tag from the data survives
    assert "<script" not in re.sub(r"(?ms)^(`{3,})[^\n]*\n.*?^\1$", "", text)
    assert text.count("<details>") == text.count("</details>")


def unescape_data(text: str) -> str:
    """What the GitHub runner does to a command's data (ActionCommand.cs)."""
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%25", "%")


def unescape_property(text: str) -> str:
    return text.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")


def check_github(text: str, report: Report) -> None:
    lines = text.splitlines()
    assert lines[0].startswith("::group::") and lines[1].startswith("::stop-commands::")
    token = lines[1].removeprefix("::stop-commands::")
    assert len(token) > 20 and token in lines[1]
    end = lines.index(f"::{token}::")
    assert lines[end + 1] == "::endgroup::"
    # inside the stopped block the token never appears, so nothing can resume command processing early
    assert all(token not in line for line in lines[2:end])
    annotations = lines[end + 2 :]
    assert len(annotations) == _findings(report, Status.FAIL, Status.ERROR, Status.WARN)
    expected = [r for r in report.results if r.status in (Status.FAIL, Status.ERROR, Status.WARN)]
    for line, result in zip(annotations, expected, strict=True):
        match = re.fullmatch(r"::(error|warning) title=([^:,]*)::(.*)", line)
        assert match, line
        assert match.group(1) == ("warning" if result.status is Status.WARN else "error")
        assert result.check_id in unescape_property(match.group(2))
        assert unescape_data(match.group(3)).startswith(result.summary)


def check_table(text: str, report: Report) -> None:
    assert text.rstrip().splitlines()[-1].endswith(" s")
    assert "\033[" not in text


CHECKS: dict[str, Callable[[str, Report], None]] = {
    "json": check_json,
    "sarif": check_sarif,
    "junit": check_junit,
    "html": check_html,
    "md": check_md,
    "github": check_github,
    "table": check_table,
}


def _render(fmt: str, report: Report, verbose: bool = False) -> str:
    renderer = reports.get(fmt)
    assert renderer.name == fmt and "/" in renderer.media_type
    text = renderer.render(report, RenderOptions(verbose=verbose))
    assert isinstance(text, str) and text.endswith("\n")
    return text


@pytest.mark.parametrize("scenario", list_scenarios())
def test_every_format_renders_every_scenario(scenario: str, scenario_reports: ScenarioReports) -> None:  # noqa: F811
    report = scenario_reports.get(scenario)
    assert report.results, scenario
    for fmt in MINE:
        for verbose in (False, True):
            CHECKS[fmt](_render(fmt, report, verbose), report)


@pytest.mark.parametrize("fmt", MINE)
def test_every_status_and_hostile_text(fmt: str) -> None:
    report = every_status_report()
    assert {r.status for r in report.results} == set(Status)
    for verbose in (False, True):
        CHECKS[fmt](_render(fmt, report, verbose), report)


@pytest.mark.parametrize("fmt", MINE)
def test_an_empty_report(fmt: str) -> None:
    report = empty_report()
    text = _render(fmt, report)
    if fmt != "table":  # the table's last line is "no results — 0.00 s"
        CHECKS[fmt](text, report)


def test_the_registry_names_a_module_with_name_and_media_type_for_each_of_these_formats() -> None:
    expected = {
        "html": "text/html",
        "md": "text/markdown",
        "junit": "application/xml",
        "sarif": "application/sarif+json",
        "github": "text/plain",
    }
    for fmt, media_type in expected.items():
        renderer = reports.get(fmt)
        assert (renderer.name, renderer.media_type) == (fmt, media_type)
    assert reports.for_path("out/report.html") == "html"
    assert reports.for_path("results.sarif") == "sarif"
    assert reports.for_path("junit.xml") == "junit"
    assert reports.for_path("summary.md") == "md"
