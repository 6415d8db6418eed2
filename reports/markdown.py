"""GitHub-flavoured Markdown for pull-request comments and ``$GITHUB_STEP_SUMMARY``.

Short by design: a heading with the verdict, the counts, one table row per result, and a collapsible block with
the fix (commands in fenced blocks, copyable on GitHub) and the evidence for every result that needs attention.
Text that came from Azure is escaped for Markdown *and* HTML (GitHub renders inline HTML), so a display name
such as ``<script>`` reads as text and a ``|`` cannot break the table.
"""

from __future__ import annotations

import json
import re
from typing import Any

from preflight.model import Report, Result, Status
from preflight.reports import RenderOptions
from preflight.reports.causes import ATTENTION as CAUSE_ATTENTION
from preflight.reports.causes import Cause, attention_first, cause_of, group, key, label
from preflight.reports.first_screen import FirstScreen, first_screen

name = "md"
media_type = "text/markdown"

ICONS = {Status.PASS: "✅", Status.WARN: "⚠️", Status.FAIL: "❌", Status.ERROR: "💥", Status.SKIP: "⏭️"}
ANSWER_ICONS = {"yes": "✅", "no": "❌", "undecided": "❔"}
SUMMARY_ORDER = (Status.FAIL, Status.ERROR, Status.WARN, Status.PASS, Status.SKIP)
# Results whose details are worth a reader's time by default; --verbose shows every result's evidence.
ATTENTION = (Status.FAIL, Status.ERROR, Status.WARN, Status.SKIP)
# GitHub rejects a step summary over 1 MiB; evidence values are cut well before that.
MAX_EVIDENCE_CHARS = 4000
MAX_CELL_CHARS = 200  # per table cell (Report.tables), with at most tables.MARKDOWN_MAX_ROWS rows a table

# Characters with inline meaning in GFM; the rest (#, +, -) only matter at a line start, where data never is.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def escape(text: object) -> str:
    """Inline text: HTML-escaped (``<`` ``>`` ``&``), Markdown punctuation backslash-escaped, one line."""
    value = _CONTROL.sub("", str(text))
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    value = _MD_SPECIAL.sub(r"\\\1", value)
    return " ".join(value.split())


def html_text(text: object) -> str:
    """Text inside an HTML block (e.g. ``<summary>``), where Markdown is not parsed: HTML escaping only."""
    value = _CONTROL.sub("", str(text))
    return " ".join(value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").split())


def code(text: object) -> str:
    """Inline code that survives backticks, pipes and angle brackets inside a table cell.

    A code span cannot hold an escaped ``|`` on every renderer, so a value with a pipe, a backtick or markup
    characters is written entity-escaped inside ``<code>`` instead (no tag from the data is ever emitted)."""
    value = " ".join(_CONTROL.sub("", str(text)).split())
    if any(c in value for c in "`|<>&"):
        return (
            "<code>"
            + value.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace("|", "&#124;")
            .replace("`", "&#96;")
            + "</code>"
        )
    return f"`{value}`"


def fence(body: str, info: str = "") -> str:
    """A fenced block whose fence is longer than any backtick run inside (CommonMark's rule)."""
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{info}\n{_CONTROL.sub('', body)}\n{ticks}"


def _counts_line(report: Report) -> str:
    counts = report.counts()
    parts = [f"{ICONS[s]} {counts[s.value]} {s.value.upper()}" for s in SUMMARY_ORDER if counts[s.value]]
    return " · ".join(parts) or "no results"


def _evidence_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False, default=str)
    if len(text) > MAX_EVIDENCE_CHARS:
        text = text[:MAX_EVIDENCE_CHARS] + f"\n… ({len(text) - MAX_EVIDENCE_CHARS} more characters in the JSON report)"
    return text


def _fix(result: Result, cause: Cause | None, steps: dict[str, int]) -> list[str]:
    """The fix of a result (of its cause, for a cause's lead); a command the first screen already shows is
    pointed at, not repeated."""
    fix = cause.remedy if cause is not None else result.remediation
    if fix is None or (cause is not None and result.status not in CAUSE_ATTENTION):
        return []
    commands = fix.commands
    whole = (cause.fix.text if cause is not None and cause.fix else fix.text, fix.text)
    numbers = sorted({steps[k] for k in (*commands, *(" ".join(t.split()) for t in whole)) if k in steps})
    told = f" (step {', '.join(map(str, numbers))} above)" if numbers else ""
    lines = [f"**Fix:** {escape(fix.text)}{told}", ""]
    for command in commands:
        if command not in steps:
            lines += [fence(command, "sh"), ""]
    return lines


def _details(
    result: Result, verbose: bool, cause: Cause | None = None, steps: dict[str, int] | None = None
) -> list[str]:
    subject = f" · <code>{html_text(result.subject)}</code>" if result.subject else ""
    heading = (
        f"<summary>{ICONS[result.status]} <b>{result.status.value.upper()}</b> "
        f"<code>{html_text(result.check_id)}</code>{subject} — {html_text(result.summary)}</summary>"
    )
    lines = ["<details>", heading, ""]
    member = cause is not None and cause.lead is not result
    if member and cause is not None:  # its cause's fix is told once, with the cause
        lines += [f"Root cause reported by {code(key(cause.lead))}.", ""]
    elif result.caused_by:
        lines += [f"Root cause reported by {code(result.caused_by)}.", ""]
    if not member:
        lines += _fix(result, cause, steps or {})
    if result.evidence and (verbose or result.status is not Status.SKIP):
        lines += ["**Evidence**", ""]
        for item in result.evidence:
            text = _evidence_text(item.value)
            if "\n" not in text and len(text) <= 120:  # short values inline, the rest as blocks
                lines.append(f"- {code(item.name)}: {code(text)}")
            else:
                lines += [f"- {code(item.name)}", "", fence(text, "" if isinstance(item.value, str) else "json"), ""]
        lines.append("")
    if result.docs:
        lines += ["**Docs:** " + " · ".join(_link(doc) for doc in result.docs), ""]
    lines += ["</details>", ""]
    return lines


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > MAX_CELL_CHARS:
        text = text[:MAX_CELL_CHARS] + "…"
    return escape(text)


def _tables(report: Report) -> list[str]:
    """``Report.tables``, each collapsed, at most MARKDOWN_MAX_ROWS rows (the CSV/JSON hold them all)."""
    from preflight.reports.tables import MARKDOWN_MAX_ROWS, views

    lines: list[str] = []
    for table in views(report.tables, MARKDOWN_MAX_ROWS):
        shown = f", the first {len(table.rows)} shown" if table.more else ""
        lines += [
            f"### {escape(table.name)}",
            "",
            "<details>",
            f"<summary>{table.total} row{'' if table.total == 1 else 's'}{shown}</summary>",
            "",
        ]
        if table.rows:
            lines += ["| " + " | ".join(escape(c) for c in table.columns) + " |", "|" + "---|" * len(table.columns)]
            lines += ["| " + " | ".join(_cell(row.get(c)) for c in table.columns) + " |" for row in table.rows]
            lines.append("")
        else:
            lines += ["No rows.", ""]
        if table.note:
            lines += [f"_{escape(table.note)}_", ""]
        lines += ["</details>", ""]
    return lines


def _link(url: str) -> str:
    if url.startswith(("https://", "http://")) and not re.search(r"[\s<>()\[\]]", url):
        return f"<{url}>"
    return escape(url)


def _first_screen(screen: FirstScreen | None) -> list[str]:
    """The answer to "can this identity call the target?" and the steps that fix what stands in the way."""
    if screen is None:
        return []
    lines = [
        f"**{escape(screen.question)} {ANSWER_ICONS[screen.answer]} {screen.answer.upper()}** — {escape(screen.why)}",
        "",
    ]
    if screen.steps:
        lines += ["To fix it, in order:", ""]
    for number, step in enumerate(screen.steps, 1):
        lines += [f"{number}. {escape(step.text)} ({code(step.cause)})", ""]
        if step.command:  # not indented: GitHub gives a top-level fenced block a copy button
            lines += [fence(step.command, "sh"), ""]
    if screen.more:
        lines += [f"… and {screen.more} more below.", ""]
    return lines


def _row(result: Result, lead: Result | None, said: dict[str, str]) -> str:
    """One table row; a result another one explains says so instead of repeating a summary already shown."""
    subject = code(result.subject) if result.subject else ""
    text = " ".join(result.summary.split())
    summary = escape(text)
    if result.status is not Status.PASS and text in said:
        summary = f"same as {code(said[text])}"
    said.setdefault(text, label(result))
    if lead is not None:
        summary = f"↳ {summary}"
    return f"| {ICONS[result.status]} {result.status.value.upper()} | {code(result.check_id)} | {subject} | {summary} |"


def _results(report: Report) -> list[str]:
    """The results by cause, failures first; the passes in a collapsed block of their own."""
    header = ["| Status | Check | Subject | Summary |", "|---|---|---|---|"]
    attention: list[str] = []
    passes: list[str] = []
    said: dict[str, str] = {}
    for cause in attention_first(group(report.results)):
        rows = [_row(cause.lead, None, said)] + [_row(r, cause.lead, said) for r in cause.others]
        (passes if cause.status is Status.PASS else attention).extend(rows)
    lines = [*header, *attention, ""] if attention else []
    if passes:
        lines += ["<details>", f"<summary>{ICONS[Status.PASS]} {len(passes)} passed</summary>", ""]
        lines += [*header, *passes, "", "</details>", ""]
    return lines


def render(report: Report, options: RenderOptions) -> str:
    worst = report.worst()
    screen = first_screen(report)
    lines = [f"## {ICONS[worst]} azure-preflight: {escape(worst.value.upper())}", "", *_first_screen(screen)]
    steps = {k: n for n, step in enumerate(screen.steps if screen else (), 1) for k in (step.command, step.fix) if k}
    lines += [f"{_counts_line(report)} — {report.duration:.2f} s · azure-preflight {escape(report.tool_version)}", ""]
    target = [(key, value) for key, value in report.target.items() if value not in (None, "", [], ())]
    if target:
        lines += ["<details>", "<summary>Target</summary>", "", "| | |", "|---|---|"]
        lines += [
            f"| {escape(key)} | {code(value if isinstance(value, str) else json.dumps(value))} |"
            for key, value in target
        ]
        lines += ["", "</details>", ""]
    lines += _results(report)
    causes = cause_of(group(report.results))
    detailed = [r for r in report.results if options.verbose or r.status in ATTENTION]
    if detailed:
        lines += ["### Details", ""]
        for result in detailed:
            lines += _details(result, options.verbose, causes.get(id(result)), steps)
    lines += _tables(report)
    return "\n".join(lines).rstrip("\n") + "\n"
