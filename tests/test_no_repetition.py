"""One cause, one line (issue 19): over every built-in scenario, the terminal table tells each error text and each
fix once, and no line is a wall of text.

Each scenario runs once against the session twin (every check, the probe included: helpers.reports) and its table
is read the way a person reads it — wrapped lines joined back into the logical line they continue. Then:

- no fix command (a ``$`` line) appears twice, nor again quoted in a result line or a fix line (a first-screen
  step may name the command shown under it); no fix text twice (the first screen's steps included);
- no result that needs attention or was skipped says the same summary twice (a result explained by an earlier
  one says "same as …" instead);
- no line is longer than :data:`MAX_LINE` visible characters, except a ``$`` command line (a command is copied
  whole, never wrapped);
- Entra's support identifiers (Trace ID, Correlation ID, Timestamp) stay out of the table (they are for ``-v``
  and the JSON report).
"""

from __future__ import annotations

import re

import pytest

from helpers.reports import ScenarioReports, scenario_reports  # noqa: F401  (session fixture)

from preflight.reports import RenderOptions, table
from preflight.twin.scenario import list_scenarios

MAX_LINE = 200
# A result line: its mark, its name(s) — one, or several results saying the same thing — then what it says.
_NAME = r"[a-z][\w.-]*(?: \[[^\]]*\])?"
_MARK = re.compile(rf"^\s*(PASS|WARN|FAIL|ERROR|SKIP)\s+({_NAME}(?:, {_NAME})*)  (.*)$")
# The lines that start something (a result, a fix, a command, a step, a group or area header, the summary).
_STARTS = re.compile(r"^(\S|\s*(PASS|WARN|FAIL|ERROR|SKIP)\s|\s*fix: |\s*\$ |\s*\d+\. |\s*the same cause |\s*… )")


def logical_lines(text: str) -> list[str]:
    """The table's lines with every wrapped continuation joined to the line it continues."""
    lines: list[str] = []
    for line in text.splitlines():
        if lines and line.strip() and not _STARTS.match(line):
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    return lines


def repeated(values: list[str]) -> list[str]:
    return sorted({v for v in values if values.count(v) > 1})


def _table(scenario_reports: ScenarioReports, scenario: str) -> str:  # noqa: F811
    return table.render(scenario_reports.get(scenario), RenderOptions())


@pytest.mark.parametrize("scenario", list_scenarios())
def test_the_table_tells_each_cause_once(scenario_reports: ScenarioReports, scenario: str) -> None:  # noqa: F811
    text = _table(scenario_reports, scenario)
    lines = logical_lines(text)
    commands = [line.split("$ ", 1)[1] for line in lines if line.lstrip().startswith("$ ")]
    fixes = [line.split("fix: ", 1)[1] for line in lines if line.lstrip().startswith("fix: ")]
    steps = [re.sub(r"^\s*\d+\. ", "", line).rsplit("  (", 1)[0] for line in lines if re.match(r"^  \d+\. ", line)]
    said = [m.group(3) for line in lines if (m := _MARK.match(line)) and m.group(1) != "PASS"]
    said = [s for s in said if not s.startswith("(same as ")]
    assert not repeated(commands), text
    # nor quoted again in a result's summary or a fix line (a first-screen step may name the command it shows)
    told = [line for line in lines if _MARK.match(line) or line.lstrip().startswith("fix: ")]
    quoted = [c for c in commands if any(c in line for line in told)]
    assert not quoted, text
    assert not repeated(fixes + steps), text
    assert not repeated(said), text


@pytest.mark.parametrize("scenario", list_scenarios())
def test_no_table_line_is_a_wall_of_text(scenario_reports: ScenarioReports, scenario: str) -> None:  # noqa: F811
    text = _table(scenario_reports, scenario)
    long = [line for line in text.splitlines() if len(line) > MAX_LINE and not line.lstrip().startswith("$ ")]
    assert not long, "\n".join(long)
    for noise in ("Trace ID", "Correlation ID", "Timestamp:"):
        assert noise not in text, text


def test_the_reading_helpers() -> None:
    """The test's own reading of a table, on a hand-made one."""
    text = "  FAIL  a.b [x]  one two\n        three\n        fix: do\n          $ az x\n"
    assert logical_lines(text) == ["  FAIL  a.b [x]  one two three", "        fix: do", "          $ az x"]
    assert _MARK.match("  FAIL  a.b [x]  one two three").group(3) == "one two three"  # type: ignore[union-attr]
    batch = _MARK.match("      SKIP  a.b, c.d [e f], g.h  skipped: x (see a.b)")
    assert batch is not None and batch.group(2) == "a.b, c.d [e f], g.h" and batch.group(3) == "skipped: x (see a.b)"
    assert repeated(["a", "b", "a"]) == ["a"]
