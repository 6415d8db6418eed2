"""The values a run produces: check metadata, results and the report.

Everything here is frozen: a Result is complete when it is built (no status filled in later), so renderers,
the engine and tests can share results across threads without copying.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

# The order a diagnosis reads in: configuration, sign-in, tokens, the resource, then permissions. Areas not
# listed (plug-ins) follow, alphabetically.
AREA_ORDER = ("env", "signin", "tokens", "resource", "rbac", "principal", "access", "audit")

CHECK_ID_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*\.[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")


class Status(StrEnum):
    """Outcome of one result. ERROR means the check itself could not decide (crash, timeout)."""

    PASS = "pass"
    SKIP = "skip"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"

    @property
    def rank(self) -> int:
        """Order used by ``--fail-on``: an ERROR gates like a FAIL — a CI gate that could not verify access
        must not let a deployment through."""
        return _STATUS_RANK[self]


_STATUS_RANK = {Status.PASS: 0, Status.SKIP: 0, Status.WARN: 1, Status.FAIL: 2, Status.ERROR: 2}


class Severity(StrEnum):
    """How much a failure of this check matters (SARIF and JUnit renderers map it)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


# A whole command in backticks — a tool and at least one argument; "`az ad sp create`" alone names a command in
# a sentence and stays there.
_COMMAND = re.compile(r"`(?P<command>(?:az|azd|Connect-AzAccount) [^`]* -[^`]+)`")


def split_commands(text: str) -> tuple[str, tuple[str, ...]]:
    """``text`` with each backticked command replaced by a pointer ("the command below", or "command 2 below"
    when there are several), and the commands in order. Backticks around anything else stay as they are."""
    commands = tuple(m.group("command") for m in _COMMAND.finditer(text))
    if not commands:
        return text, ()
    numbers = iter(range(1, len(commands) + 1))

    def pointer(_: re.Match[str]) -> str:
        return "the command below" if len(commands) == 1 else f"command {next(numbers)} below"

    return _COMMAND.sub(pointer, text), commands


@dataclass(frozen=True, slots=True)
class Remediation:
    """How to fix a finding: prose plus the exact commands to run (shown verbatim, copyable).

    A whole command (tool and arguments) in backticks inside ``text`` (the AADSTS knowledge base words its fixes
    that way) is lifted
    out into ``commands`` and the prose says "the command below": a report prints each command once, on a line
    of its own that pastes as it is, instead of once inside a sentence and again as a step."""

    text: str
    commands: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if "`" in self.text:
            prose, named = split_commands(self.text)
            object.__setattr__(self, "text", prose)
            object.__setattr__(self, "commands", tuple(dict.fromkeys((*self.commands, *named))))

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "commands": list(self.commands)}


@dataclass(frozen=True, slots=True)
class Evidence:
    """One named, non-secret fact that supports a result (e.g. ``token.aud``). ``value`` is JSON-compatible."""

    name: str
    value: Any

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value}


@dataclass(frozen=True, slots=True)
class Skip:
    """A prerequisite's answer that a check does not apply here ("no resource given", "not a service
    principal"): the engine turns it into the check's SKIP result, so no check body repeats the guard."""

    summary: str
    caused_by: str | None = None
    evidence: tuple[Evidence, ...] = ()


class Prerequisite(Protocol):
    """A condition a check declares in :attr:`CheckMeta.requires` and the engine enforces before ``run``.

    The engine knows nothing about Azure: a prerequisite is a small object defined beside the facts it reads
    (e.g. ``preflight.azure.prerequisites``) whose ``check(ctx)`` returns a :class:`Skip` when the check does
    not apply, or None to go on. It may wait (sign-in started) or read a fact; a fact it reads that fails
    raises ``FactError`` exactly as it would inside ``run``."""

    def check(self, ctx: Any) -> Skip | None: ...


@dataclass(frozen=True, slots=True)
class CheckMeta:
    """What a check is, declared beside its code. ``id`` is stable: reports and ``--only`` refer to it."""

    id: str
    title: str
    severity: Severity
    description: str = ""
    tags: tuple[str, ...] = ()
    docs: tuple[str, ...] = ()
    # Facts this check needs, by their registered names (preflight.azure.services.FACTS, checked by a test);
    # informational: the real dependency is what the check asks the Context for.
    facts: tuple[str, ...] = ()
    # Prerequisites the engine checks, in order, before ``run``: the first that answers a Skip makes the result.
    requires: tuple[Prerequisite, ...] = ()

    @property
    def area(self) -> str:
        return self.id.split(".", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "area": self.area,
            "severity": self.severity.value,
            "description": self.description,
            "tags": list(self.tags),
            "docs": list(self.docs),
            "facts": list(self.facts),
        }


@dataclass(frozen=True, slots=True)
class Result:
    """One finding of one check. A check may yield several (one per scope, per credential …); ``subject``
    tells them apart."""

    check_id: str
    title: str
    status: Status
    severity: Severity
    summary: str
    subject: str | None = None
    evidence: tuple[Evidence, ...] = ()
    remediation: Remediation | None = None
    docs: tuple[str, ...] = ()
    duration: float = 0.0
    # For SKIP: the fact or check that is the root cause, so one cause is reported once.
    caused_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "title": self.title,
            "status": self.status.value,
            "severity": self.severity.value,
            "summary": self.summary,
            "subject": self.subject,
            "evidence": [e.to_dict() for e in self.evidence],
            "remediation": self.remediation.to_dict() if self.remediation else None,
            "docs": list(self.docs),
            "duration_ms": round(self.duration * 1000, 1),
            "caused_by": self.caused_by,
        }


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a renderer needs, and nothing else: renderers never see checks or the Context."""

    tool_version: str
    target: Mapping[str, Any]
    started_at: str  # ISO 8601 UTC
    duration: float
    results: tuple[Result, ...]
    checks: tuple[CheckMeta, ...] = field(default=())
    # Named tables of plain rows a command wants rendered besides its results (e.g. the audit's one row per
    # role assignment): renderers print them without knowing which check or command produced them.
    tables: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        counts = {status.value: 0 for status in Status}
        for result in self.results:
            counts[result.status.value] += 1
        return counts

    def worst(self) -> Status:
        """The most serious status present (PASS for an empty report)."""
        return max((r.status for r in self.results), key=_WORST_ORDER.index, default=Status.PASS)


_WORST_ORDER = [Status.PASS, Status.SKIP, Status.WARN, Status.FAIL, Status.ERROR]


def check_sort_key(check_id: str) -> tuple[int, str]:
    """Sort key putting checks in :data:`AREA_ORDER`, then by id."""
    area = check_id.split(".", 1)[0]
    rank = AREA_ORDER.index(area) if area in AREA_ORDER else len(AREA_ORDER)
    return rank, check_id
