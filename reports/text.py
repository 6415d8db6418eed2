"""A result as plain lines — summary, root cause, fix and its commands — for the renderers whose output is plain
text inside another format (GitHub workflow annotations, JUnit failure bodies), so they say it the same way."""

from __future__ import annotations

from preflight.model import Result


def result_lines(result: Result, cause: str = "root cause reported by") -> list[str]:
    """The summary; then, when there is one, the check that reports the root cause (after ``cause``) and the fix
    with each command on its own ``  $ `` line (copyable as shown)."""
    lines = [result.summary]
    if result.caused_by:
        lines.append(f"{cause} {result.caused_by}")
    if result.remediation is not None:
        lines.append(f"fix: {result.remediation.text}")
        lines.extend(f"  $ {command}" for command in result.remediation.commands)
    return lines
