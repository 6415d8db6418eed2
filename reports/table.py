"""The terminal view: first the answer — can this identity call the target's data plane, and the commands that
fix what stands in the way, in order — then the results by area, each cause told once with its fix and the
results it explains listed under it, and one summary line. Without colour it is plain, stable text (safe to
diff and to grep in CI logs); with colour (a terminal, no ``NO_COLOR``, no ``--no-color``: the CLI decides)
each mark gets a symbol and its colour.

Text from Azure never reaches the terminal raw: control characters (an ESC starting a colour or cursor
sequence, a carriage return overwriting the line) are shown as visible escapes and line breaks as spaces, so
a display name cannot repaint the screen, forge a line of the report or, in a CI log, run a logging command.
Text longer than :data:`WIDTH` columns is wrapped (continuation lines are indented, so they never start like a
result line); Entra's Trace ID / Correlation ID / Timestamp are left to ``-v`` and the JSON report. A command
is never wrapped: it is copied whole.
"""

from __future__ import annotations

import re
import textwrap
from itertools import groupby

from preflight.model import Report, Result, Status
from preflight.reports import RenderOptions, evidence
from preflight.reports.causes import Cause, cause_of, group, label, short_subject
from preflight.reports.first_screen import FirstScreen, first_screen

name = "table"
media_type = "text/plain"

MARKS = {Status.PASS: "PASS", Status.WARN: "WARN", Status.FAIL: "FAIL", Status.ERROR: "ERROR", Status.SKIP: "SKIP"}
COLORS = {Status.PASS: "32", Status.WARN: "33", Status.FAIL: "31", Status.ERROR: "35", Status.SKIP: "90"}
SYMBOLS = {Status.PASS: "✔", Status.WARN: "▲", Status.FAIL: "✖", Status.ERROR: "‼", Status.SKIP: "–"}
SUMMARY_ORDER = (Status.FAIL, Status.ERROR, Status.WARN, Status.PASS, Status.SKIP)
ANSWER_COLORS = {"yes": "32", "no": "31", "undecided": "35"}
#: Text lines longer than this are wrapped (commands excepted): a line that fits stays one line (greppable in a
#: CI log), a wall of text (Entra's paragraph, a long list) does not run on.
WIDTH = 200
#: Target fields the header names last: the cloud is the context, the resource (or audited scope) the subject.
CONTEXT_FIELDS = ("cloud", "cloud_metadata_url")
_BREAKS = re.compile(r"[\t\n\r\v\f\u2028\u2029]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Entra's support identifiers: useful to a support ticket (-v, JSON), noise on the first screen.
_ENTRA_NOISE = re.compile(
    r"\s*\b(?:Trace ID|Correlation ID):\s*[0-9A-Fa-f-]+\.?|\s*\bTimestamp:\s*\d{4}-\d\d-\d\d(?:[ T][\d:.]+Z?)?\.?"
)


def clean(value: object) -> str:
    """One line of harmless text: line breaks become spaces, other control characters visible escapes, and the
    Azure Pipelines agent's command prefix (``##vso[``, acted on anywhere in a log line) is escaped likewise."""
    text = _BREAKS.sub(" ", str(value))
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text).replace("##vso[", "##vso\\x5b")


def plain(value: object) -> str:
    """:func:`clean`, without Entra's Trace ID, Correlation ID and Timestamp."""
    return _ENTRA_NOISE.sub("", clean(value)).strip()


def _paint(text: str, code: str, options: RenderOptions) -> str:
    return f"\033[{code}m{text}\033[0m" if options.color else text


def _wrap(head: str, text: str, indent: int, width: int = 0) -> list[str]:
    """``head`` (already visible-width counted by the caller as ``width``) then ``text`` wrapped under it."""
    room = WIDTH - (width or len(head))
    first, *rest = textwrap.wrap(text, room, break_long_words=False, break_on_hyphens=False) or [""]
    body = textwrap.wrap(" ".join(rest), WIDTH - indent, break_long_words=False, break_on_hyphens=False)
    return [head + first, *(" " * indent + line for line in body)]


def _mark(status: Status, options: RenderOptions) -> str:
    mark = f"{MARKS[status]:<5}"
    return _paint(f"{SYMBOLS[status]} {mark}", COLORS[status], options) if options.color else mark


def _subject(subject: str) -> str:
    return clean(short_subject(subject))


def _headline(result: Result, options: RenderOptions, depth: int, text: str) -> list[str]:
    subject = f" [{_subject(result.subject)}]" if result.subject else ""
    pad = "  " + "  " * depth
    head = f"{pad}{_mark(result.status, options)} "
    visible = len(pad) + 6 + (2 if options.color else 0)
    return _wrap(head, f"{clean(result.check_id)}{subject}  {text}", len(pad) + 6, visible)


def _evidence(result: Result, options: RenderOptions, indent: str) -> list[str]:
    if not options.verbose:
        return []
    lines = [f"{indent}{clean(key)}: {clean(value)}" for key, value in evidence.lines(result.evidence)]
    return [*lines, f"{indent}({result.duration * 1000:.0f} ms)"]


class _Printer:
    """Prints results so that each text and command appears once: the first screen's steps, then causes."""

    def __init__(self, report: Report, options: RenderOptions, screen: FirstScreen | None) -> None:
        self.options = options
        self.causes = group(report.results)
        self.cause_of = cause_of(self.causes)
        self.said: set[str] = set()
        self.referred: set[int] = set()  # steps a fix line already pointed at
        self.step_of: dict[str, int] = {}
        self.steps = screen.steps if screen else ()
        for number, step in enumerate(self.steps, 1):
            self.step_of[step.command or step.fix] = number
            self.step_of[step.fix] = number
            self.said.add(step.text)
        self.last = ""  # the key of the result printed last (for "same as above")
        self.said_by: dict[str, str] = {}
        # a command shown as a ``$`` line, quoted again in a summary or a fix text, is named, not repeated
        self.quotes = {step.command: f"step {n} above" for n, step in enumerate(self.steps, 1) if step.command}

    def result(self, result: Result) -> list[str]:
        cause = self.cause_of.get(id(result))
        if cause is not None and cause.lead is not result:
            return []  # told under its cause
        fix = cause.fix if cause is not None else result.remediation
        mine = (cause.commands if cause is not None else fix.commands) if fix is not None else ()
        below = [c for c in mine if c not in self.quotes and result.status in (Status.FAIL, Status.WARN, Status.ERROR)]
        self.quotes.update(dict.fromkeys(below, "the command below"))
        lines = _headline(result, self.options, 0, self._summary(result))
        lines += self._fix(result, cause, "        ")
        lines += _evidence(result, self.options, "        ")
        self.quotes.update(dict.fromkeys(below, "the command above"))
        if cause is not None:  # what it explains: no fix of their own (the cause's, above, has every command)
            lines.append(f"        the same cause explains {len(cause.others)} more:")
            for batch in _batches(cause.others, self.options.verbose):
                lines += self._batch(batch)
        return lines

    def _batch(self, batch: tuple[Result, ...]) -> list[str]:
        """Results that say the same thing, on one line: their names, then what they say (once)."""
        first, *rest = batch
        text = self._summary(first)
        for other in rest:  # they say what the first says
            self._summary(other)
        if not rest:
            return _headline(first, self.options, 4, text) + _evidence(first, self.options, " " * 16)
        names = ", ".join(f"{clean(r.check_id)}" + (f" [{_subject(r.subject)}]" if r.subject else "") for r in batch)
        head = f"          {_mark(first.status, self.options)} "
        return _wrap(head, f"{names}  {text}", 16, 16 + (2 if self.options.color else 0))

    def _summary(self, result: Result) -> str:
        text, said_by = plain(result.summary), self.said_by.get(plain(result.summary))
        self.last, previous = label(result), self.last
        if said_by is not None and result.status is not Status.PASS:
            return "(same as above)" if said_by == previous else f"(same as {clean(said_by)})"
        self.said_by[text] = label(result)
        return self._named(text)

    def _named(self, text: str) -> str:
        """``text`` with each command already shown as a ``$`` line replaced by where it is shown."""
        for command, where in self.quotes.items():
            text = re.sub(re.escape(clean(command)) + r"(?![\w-]|\s+-)", f"[{where}]", text)
        return text

    def _fix(self, result: Result, cause: Cause | None, indent: str) -> list[str]:
        fix = cause.fix if cause is not None else result.remediation
        if result.status not in (Status.FAIL, Status.WARN, Status.ERROR) or fix is None:
            return []
        commands = cause.commands if cause is not None else fix.commands
        text = plain(fix.text)
        steps = {self.step_of[k] for k in (*commands, " ".join(fix.text.split())) if k in self.step_of}
        lines: list[str] = []
        if steps:  # the first screen tells it: point there (once), with what the first screen left out
            if steps - self.referred:
                rest = self._named(" ".join(plain(self.steps[n - 1].rest) for n in sorted(steps)))
                pointer = f"{indent}fix: step {', '.join(map(str, sorted(steps)))} above"
                lines += _wrap(pointer + (" — " if rest else ""), rest, len(indent) + 5)
            self.referred.update(steps)
        elif text not in self.said:
            lines += _wrap(f"{indent}fix: ", self._named(text), len(indent) + 5)
        self.said.add(text)
        own = result.remediation  # a lead whose cause's fix came from another result: its own words too
        if own is not None and own is not fix and plain(own.text) not in self.said and own.text not in commands:
            lines += _wrap(f"{indent}also: ", self._named(plain(own.text)), len(indent) + 6)
            self.said.add(plain(own.text))
        for command in commands:
            if command not in self.said and command not in self.step_of:
                lines.append(f"{indent}  $ {clean(command)}")
                self.said.add(command)
        return lines


def _batches(results: tuple[Result, ...], verbose: bool) -> list[tuple[Result, ...]]:
    """The results a cause explains, those with the same status and summary together (in first-seen order);
    one by one with ``-v``, where each shows its own evidence."""
    if verbose:
        return [(r,) for r in results]
    found: dict[tuple[Status, str], list[Result]] = {}
    for result in results:
        found.setdefault((result.status, " ".join(result.summary.split())), []).append(result)
    return [tuple(batch) for batch in found.values()]


def _first_screen(screen: FirstScreen, options: RenderOptions) -> list[str]:
    answer = _paint(screen.answer.upper(), ANSWER_COLORS[screen.answer], options)
    lines = _wrap(
        f"{clean(screen.question)} {answer} — ", plain(screen.why), 4, len(screen.question) + 4 + len(screen.answer)
    )
    if screen.steps:
        lines.append("To fix it, in order:")
    for number, step in enumerate(screen.steps, 1):
        lines += _wrap(f"  {number}. ", f"{plain(step.text)}  ({clean(step.cause)})", 5)
        if step.command:
            lines.append(f"       $ {clean(step.command)}")
    if screen.more:
        lines.append(f"  … and {screen.more} more below")
    return lines


def summary_line(report: Report) -> str:
    """E.g. ``1 FAIL · 3 PASS — 0.42 s`` (deliberately not pytest's "N passed" wording, which CI log
    scrapers would take for a test summary)."""
    counts = report.counts()
    parts = [f"{counts[s.value]} {MARKS[s]}" for s in SUMMARY_ORDER if counts[s.value]]
    return f"{' · '.join(parts) or 'no results'} — {report.duration:.2f} s"


def render(report: Report, options: RenderOptions) -> str:
    fields = sorted(report.target.items(), key=lambda item: item[0] in CONTEXT_FIELDS)  # stable: order kept
    target = ", ".join(f"{clean(k)}={clean(evidence.text(v))}" for k, v in fields if v)
    lines = _wrap(f"azure-preflight {report.tool_version}", f" — {target}" if target else "", 2)
    screen = first_screen(report)
    if screen is not None:
        lines += ["", *_first_screen(screen, options)]
    printer = _Printer(report, options, screen)
    # Results arrive in diagnosis order (see AREA_ORDER); group consecutive areas without re-sorting.
    for area, results in groupby(report.results, key=lambda r: r.check_id.split(".", 1)[0]):
        body = [line for result in results for line in printer.result(result)]
        if body:
            lines += ["", _paint(area, "1", options), *body]
    lines.append("")
    lines.append(_paint(summary_line(report), COLORS[report.worst()], options))
    return "\n".join(lines) + "\n"
