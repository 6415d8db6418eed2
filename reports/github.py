"""GitHub Actions workflow commands: one annotation per finding, plus the plain report in a collapsed group.

``::error title=…::…`` for FAIL and ERROR, ``::warning title=…::…`` for WARN; GitHub shows them on the run's
summary page and in the log. A finding another one explains (:mod:`preflight.reports.causes`) names it instead of
repeating its fix. Data and properties are escaped exactly as the runner unescapes them (actions/toolkit
``command.ts``: ``%`` ``\\r`` ``\\n`` in data, plus ``:`` and ``,`` in properties), so a message can neither end
early nor smuggle in a second command. The plain report inside the group is wrapped in ``::stop-commands::`` with
a token derived from its own text, so nothing in it (a display name starting a line with ``::``) is executed.

The CLI, not this module, appends the Markdown summary to ``$GITHUB_STEP_SUMMARY``.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace

from preflight.model import Report, Result, Status
from preflight.reports import RenderOptions, table
from preflight.reports.causes import Cause, cause_of, group, label
from preflight.reports.text import result_lines

name = "github"
media_type = "text/plain"

# Status → workflow command; statuses not listed produce no annotation.
COMMANDS = {Status.FAIL: "error", Status.ERROR: "error", Status.WARN: "warning"}


def escape_data(text: str) -> str:
    """The message part of a workflow command."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A property value (``title=…``): data escaping plus ``:`` and ``,``, which delimit properties."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _message(result: Result) -> str:
    return "\n".join(result_lines(result))


def annotation(result: Result) -> str | None:
    """The workflow command for one result, or None for PASS and SKIP."""
    command = COMMANDS.get(result.status)
    if command is None:
        return None
    title = f"{result.status.value.upper()} {result.check_id}" + (f" [{result.subject}]" if result.subject else "")
    return f"::{command} title={escape_property(title)}::{escape_data(_message(result))}"


def render(report: Report, options: RenderOptions) -> str:
    plain = table.render(report, RenderOptions(color=False, verbose=options.verbose))
    # Deterministic yet unguessable by whoever wrote the data: it depends on the whole text, theirs included.
    token = "preflight-" + hashlib.sha256(plain.encode("utf-8")).hexdigest()[:32]
    lines = [
        f"::group::{escape_data(f'azure-preflight {report.tool_version}: {table.summary_line(report)}')}",
        f"::stop-commands::{token}",
        plain.rstrip("\n"),
        f"::{token}::",
        "::endgroup::",
    ]
    causes = cause_of(group(report.results))
    told = (_pointing(result, causes.get(id(result))) for result in report.results)
    lines += [line for line in (annotation(result) for result in told) if line is not None]
    return "\n".join(lines) + "\n"


def _pointing(result: Result, cause: Cause | None) -> Result:
    """A result another one explains keeps its annotation but not a copy of the fix: it names the result whose
    annotation carries it (one cause, one fix — six identical ``az login`` lines help nobody)."""
    if cause is None or cause.lead is result:
        return result
    return replace(result, remediation=None, caused_by=label(cause.lead))
