"""The terminal view: results grouped by area, a status mark per line, the fix under each FAIL/WARN/ERROR and
one summary line. Without colour it is plain, stable text (safe to diff and to grep in CI logs)."""

from __future__ import annotations

from itertools import groupby

from preflight.model import Report, Result, Status
from preflight.reports import RenderOptions

name = "table"
media_type = "text/plain"

MARKS = {Status.PASS: "PASS", Status.WARN: "WARN", Status.FAIL: "FAIL", Status.ERROR: "ERROR", Status.SKIP: "SKIP"}
COLORS = {Status.PASS: "32", Status.WARN: "33", Status.FAIL: "31", Status.ERROR: "35", Status.SKIP: "90"}
SUMMARY_ORDER = (Status.FAIL, Status.ERROR, Status.WARN, Status.PASS, Status.SKIP)


def _paint(text: str, code: str, options: RenderOptions) -> str:
    return f"\033[{code}m{text}\033[0m" if options.color else text


def _result_lines(result: Result, options: RenderOptions) -> list[str]:
    mark = _paint(f"{MARKS[result.status]:<5}", COLORS[result.status], options)
    subject = f" [{result.subject}]" if result.subject else ""
    lines = [f"  {mark} {result.check_id}{subject}  {result.summary}"]
    if result.status in (Status.FAIL, Status.WARN, Status.ERROR) and result.remediation is not None:
        lines.append(f"        fix: {result.remediation.text}")
        lines.extend(f"          $ {command}" for command in result.remediation.commands)
    if options.verbose:
        for item in result.evidence:
            lines.append(f"        {item.name}: {item.value}")
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
    target = ", ".join(f"{k}={v}" for k, v in report.target.items() if v)
    lines.append(f"azure-preflight {report.tool_version}" + (f" — {target}" if target else ""))
    # Results arrive in diagnosis order (see AREA_ORDER); group consecutive areas without re-sorting.
    for area, results in groupby(report.results, key=lambda r: r.check_id.split(".", 1)[0]):
        lines.append("")
        lines.append(_paint(area, "1", options))
        for result in results:
            lines.extend(_result_lines(result, options))
    lines.append("")
    lines.append(summary_line(report))
    return "\n".join(lines) + "\n"
