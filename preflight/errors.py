"""Typed errors. The CLI maps each family to an exit code; each may carry the fix a person should apply."""

from __future__ import annotations


class PreflightError(Exception):
    """Base of every error the tool raises on purpose. ``remediation`` is shown under the message."""

    exit_code = 2

    def __init__(self, message: str, *, remediation: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.remediation = remediation


class ConfigError(PreflightError):
    """Bad invocation or configuration: a flag, an environment variable or a file the user supplied."""


class TargetError(PreflightError):
    """What to check cannot be determined (no match, several matches, malformed resource id)."""


class RenderError(PreflightError):
    """The report could not be rendered or written: the run could not complete."""

    exit_code = 3


class FactError(PreflightError):
    """A fact could not be established. A check that needs it cannot decide: the engine makes it a SKIP pointing
    at ``reported_by`` when that check tells the cause (FAIL/ERROR) in the same report, else an ERROR carrying
    the cause (preflight.engine.gate).

    ``reported_by`` names the check that reports this cause itself, so dependants can point at it instead of
    repeating it. ``status`` / ``code`` carry the HTTP status or AADSTS code when there is one.
    """

    exit_code = 3

    def __init__(
        self,
        fact: str,
        message: str,
        *,
        remediation: str | None = None,
        reported_by: str | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, remediation=remediation)
        self.fact = fact
        self.reported_by = reported_by
        self.status = status
        self.code = code
