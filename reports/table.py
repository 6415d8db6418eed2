"""The terminal view: results grouped by area, a status mark per line, the fix under each FAIL/WARN/ERROR and
one summary line. Without colour it is plain, stable text (safe to diff and to grep in CI logs); with colour
(a terminal, no ``NO_COLOR``, no ``--no-color``: the CLI decides) each mark gets a symbol and its colour.

Text from Azure never reaches the terminal raw: control characters (an ESC starting a colour or cursor
sequence, a carriage return overwriting the line) are shown as visible escapes and line breaks as spaces, so
one result stays one line and a display name cannot repaint the screen, forge a line of the report or, in a
CI log, run a logging command.
"""

from __future__ import annotations

import re
from itertools import groupby

from preflight.model import Report, Result, Status
from preflight.reports import RenderOptions, evidence

name = "table"
media_type = "text/plain"

MARKS = {Status.PASS: "PASS", Status.WARN: "WARN", Status.FAIL: "FAIL", Status.ERROR: "ERROR", Status.SKIP: "SKIP"}
COLORS = {Status.PASS: "32", Status.WARN: "33", Status.FAIL: "31", Status.ERROR: "35", Status.SKIP: "90"}
SYMBOLS = {Status.PASS: "✔", Status.WARN: "▲", Status.FAIL: "✖", Status.ERROR: "‼", Status.SKIP: "–"}
SUMMARY_ORDER = (Status.FAIL, Status.ERROR, Status.WARN, Status.PASS, Status.SKIP)
_BREAKS = re.compile(r"[\t\n\r\v\f\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean(value: object) -> str:
    """One line of harmless text: line breaks become spaces, other control characters visible escapes, and the
    Azure Pipelines agent's command prefix (``##vso[``, acted on anywhere in a log line) is escaped likewise."""
    text = _BREAKS.sub(" ", str(value))
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text).replace("##vso[", "##vso\\x5b")


def _paint(text: str, code: str, options: RenderOptions) -> str:
    return f"\033[{code}m{text}\033[0m" if options.color else text


def _result_lines(result: Result, options: RenderOptions) -> list[str]:
    mark = f"{MARKS[result.status]:<5}"
    if options.color:
        mark = _paint(f"{SYMBOLS[result.status]} {mark}", COLORS[result.status], options)
    subject = f" [{clean(result.subject)}]" if result.subject else ""
    lines = [f"  {mark} {clean(result.check_id)}{subject}  {clean(result.summary)}"]
    if result.status in (Status.FAIL, Status.WARN, Status.ERROR) and result.remediation is not None:
        lines.append(f"        fix: {clean(result.remediation.text)}")
        lines.extend(f"          $ {clean(command)}" for command in result.remediation.commands)
    if options.verbose:
        lines.extend(f"        {clean(key)}: {clean(value)}" for key, value in evidence.lines(result.evidence))
        lines.append(f"        ({result.duration * 1000:.0f} ms)")
    return lines


def summary_line(report: Report) -> str:
    """E.g. ``1 FAIL · 3 PASS — 0.42 s`` (deliberately not pytest's "N passed" wording, which CI log
    scrapers would take for a test summary)."""
    counts = report.counts()
    parts = [f"{counts[s.value]} {MARKS[s]}" for s in SUMMARY_ORDER if counts[s.value]]
    return f"{' · '.join(parts) or 'no results'} — {report.duration:.2f} s"


def render(report: Report, options: RenderOptions) -> str:
    lines = []
    target = ", ".join(f"{clean(k)}={clean(evidence.text(v))}" for k, v in report.target.items() if v)
    lines.append(f"azure-preflight {report.tool_version}" + (f" — {target}" if target else ""))
    # Results arrive in diagnosis order (see AREA_ORDER); group consecutive areas without re-sorting.
    for area, results in groupby(report.results, key=lambda r: r.check_id.split(".", 1)[0]):
        lines.append("")
        lines.append(_paint(area, "1", options))
        for result in results:
            lines.extend(_result_lines(result, options))
    lines.append("")
    lines.append(_paint(summary_line(report), COLORS[report.worst()], options))
    return "\n".join(lines) + "\n"
