"""Results that share one cause, found from the report alone — so a cause is told once, however many checks feel it.

Why: one root cause touches many checks. A CLI signed in to the wrong tenant makes signin.chain, signin.identity,
signin.tenants and every tokens.scope line complain, each with the same ``az login --tenant …``; an expired
secret makes ten checks SKIP. Printed one by one, the reader meets the same sentence and command six times and
cannot tell one problem from six. This module groups them; the human renderers (table, Markdown, HTML) print
the cause once with its fix and list what it explains under it, the machine formats keep every result.

Two results share a cause when (pure, no knowledge of any check's internals):

- one is a dependant that points at the other: its ``caused_by`` names a check id present in the report (the
  engine's SKIP/ERROR "see signin.chain" clause), and it is not a PASS;
- both need attention (WARN/FAIL/ERROR) and their fixes meet: a command in common, or the same fix text (a fix
  text that is itself a command, or quotes one whole, meets that command);
- both are not PASS and say exactly the same summary (the same prerequisite answered both);
- both need attention and their summaries quote the same Entra error code (``AADSTS70021``): Entra's code names
  one sign-in failure, whichever check reports it (signin.chain's refused sign-in and principal.credentials'
  federated credential that does not match are one cause).

The relation is closed transitively (union-find). The *lead* of a group — the result that tells the cause, under
which the others are listed — is its most serious result (FAIL, then ERROR, WARN, SKIP), the first in report order
among equals (reports list results in diagnosis order: sign-in before tokens before the resource before roles).
So a group reads at the severity it has: a WARN never hides a FAIL it explains (an audit finding FAILing for a
guest's Owner and WARNing for the same direct assignment is told as the FAIL).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from preflight.model import Remediation, Result, Status

#: The statuses that need a reader's attention (and whose fix is shown).
ATTENTION = (Status.FAIL, Status.ERROR, Status.WARN)
#: Worst first: the order a group's status is decided in.
SEVERITY = (Status.FAIL, Status.ERROR, Status.WARN, Status.SKIP, Status.PASS)
_AADSTS = re.compile(r"\bAADSTS\d+\b")
# A fix text shorter than this ("Run:") says nothing by itself: it never joins two results.
_MIN_FIX_TEXT = 20


def key(result: Result) -> str:
    """A stable name for one result: its check id, with its subject when it has one (``tokens.scope […]``)."""
    return f"{result.check_id} [{result.subject}]" if result.subject else result.check_id


#: A longer subject (an ARM id) is shortened, in labels people read, to its last two segments.
MAX_SUBJECT = 100


def short_subject(subject: str) -> str:
    """A subject short enough to read in a line: a long ARM id keeps its last two segments (the whole id is in
    the JSON report and in any command that needs it)."""
    if len(subject) <= MAX_SUBJECT or "/" not in subject:
        return subject
    return "…/" + "/".join(subject.rstrip("/").split("/")[-2:])


def label(result: Result) -> str:
    """:func:`key` for people: the check id and a :func:`short_subject`."""
    return f"{result.check_id} [{short_subject(result.subject)}]" if result.subject else result.check_id


@dataclass(frozen=True, slots=True)
class Cause:
    """One cause and every result it explains. ``results`` are in report order and include ``lead``."""

    lead: Result
    results: tuple[Result, ...]

    @property
    def id(self) -> str:
        """The cause's id: its lead's :func:`key` (what the JSON report names as a result's ``cause``)."""
        return key(self.lead)

    @property
    def others(self) -> tuple[Result, ...]:
        """The results the lead explains (every result but the lead)."""
        return tuple(r for r in self.results if r is not self.lead)

    @property
    def status(self) -> Status:
        """The worst status of the group: a FAIL explained by a WARN still makes the group a failure."""
        return min((r.status for r in self.results), key=SEVERITY.index)

    @property
    def fix(self) -> Remediation | None:
        """The fix told once for the group: the lead's when it carries commands, else the first member's that
        does (a cause told in words by its lead but with a command by another check), else the lead's."""
        fixes = [r.remediation for r in (self.lead, *self.others) if r.status in ATTENTION and r.remediation]
        return next((f for f in fixes if f.commands), fixes[0] if fixes else None)

    @property
    def remedy(self) -> Remediation | None:
        """Everything the lead tells about the fix, once: its own words, then the group fix's when that came from
        another result, and every command of the group (the renderers that show a fix in one block)."""
        own, fix = self.lead.remediation if self.lead.status in ATTENTION else None, self.fix
        if fix is None:
            return None
        texts = dict.fromkeys(" ".join(r.text.split()) for r in (own, fix) if r is not None and r.text.strip())
        return Remediation(" Also: ".join(texts), self.commands)

    @property
    def commands(self) -> tuple[str, ...]:
        """Every distinct command of the group's results that need attention, the group fix's first."""
        found: dict[str, None] = dict.fromkeys(self.fix.commands if self.fix else ())
        for result in self.results:
            if result.status in ATTENTION and result.remediation:
                found.update(dict.fromkeys(result.remediation.commands))
        return tuple(found)


def group(results: Sequence[Result]) -> tuple[Cause, ...]:
    """Every result in exactly one :class:`Cause` (most alone), causes in the report order of their first
    result. Pure and deterministic: the same results always give the same groups."""
    parent = list(range(len(results)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in _links(results):
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    members: dict[int, list[Result]] = {}
    for i, result in enumerate(results):
        members.setdefault(root(i), []).append(result)
    return tuple(_cause(tuple(found)) for _, found in sorted(members.items()))


def cause_of(causes: Sequence[Cause]) -> dict[int, Cause]:
    """``id(result)`` → its cause, for results in a group of more than one (renderers look results up by
    identity: two results may be equal values)."""
    return {id(r): c for c in causes if len(c.results) > 1 for r in c.results}


def _cause(results: tuple[Result, ...]) -> Cause:
    lead = min(results, key=lambda r: SEVERITY.index(r.status))  # the first of the worst (min keeps the first)
    return Cause(lead, results)


def _links(results: Sequence[Result]) -> Iterator[tuple[int, int]]:
    """Pairs of indexes of results sharing a cause (see the module docstring)."""
    first_of: dict[str, int] = {}
    for i, result in enumerate(results):
        # a dependant points at a check: at that check's first result that needs attention, else its first
        if result.check_id not in first_of or (
            result.status in ATTENTION and results[first_of[result.check_id]].status not in ATTENTION
        ):
            first_of[result.check_id] = i
    seen: dict[str, int] = {}
    for i, result in enumerate(results):
        if result.status is Status.PASS:
            continue
        target = first_of.get(result.caused_by or "")
        if target is not None and target != i and results[target].status is not Status.PASS:
            yield i, target
        for token in _tokens(result):
            if seen.setdefault(token, i) != i:
                yield i, seen[token]
    yield from _told_in_words(results, seen)


def _told_in_words(results: Sequence[Result], seen: dict[str, int]) -> Iterator[tuple[int, int]]:
    """A fix given only in words that quotes another result's command whole (``… : az login --tenant T (a guest
    …)``) meets that command — but not a longer command it begins (``az login --tenant T --scope S``)."""
    commands = {token[4:]: i for token, i in seen.items() if token.startswith("fix:") and token[4:].startswith("az ")}
    for i, result in enumerate(results):
        fix = result.remediation
        if result.status not in ATTENTION or fix is None or fix.commands:
            continue
        text = " ".join(fix.text.split())
        for command, owner in commands.items():
            if owner != i and re.search(re.escape(command) + r"(?![\w-]|\s+-)", text):
                yield i, owner


def _tokens(result: Result) -> Iterator[str]:
    """What a result shares with another of the same cause: its summary, and (when it needs attention) its fix
    commands and fix text, in one namespace so a fix text that is a bare command meets that command."""
    yield "summary:" + " ".join(result.summary.split())
    if result.status in ATTENTION:  # Entra's error code names one sign-in failure, whichever check quotes it
        yield from (f"aadsts:{code}" for code in _AADSTS.findall(result.summary))
    if result.status in ATTENTION and result.remediation is not None:
        for command in result.remediation.commands:
            yield "fix:" + " ".join(command.split())
        text = " ".join(result.remediation.text.split())
        if len(text) >= _MIN_FIX_TEXT:
            yield "fix:" + text


def attention_first(causes: Sequence[Cause]) -> tuple[Cause, ...]:
    """Causes worst first (FAIL, ERROR, WARN, SKIP, PASS), report order within a status: the order the HTML and
    Markdown reports list them in, so the first thing below the answer is what stands in the way."""
    return tuple(sorted(causes, key=lambda c: SEVERITY.index(c.status)))
