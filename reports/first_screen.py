"""What a report's first screen says: can this identity call the target's data plane, and if not, what to run.

Why: a report of fifteen results answers one question for most readers — "will my code's call work?" — and the
one to three commands that make it work. The table, Markdown and HTML reports open with this answer; the rest of
the report is the evidence for it. Pure, over the :class:`~preflight.model.Report` alone.

The answer (the gate rule of the design: a run that could not verify access is never a yes):

- **yes** — every data action's verdict (the ``verdict`` evidence of each ``rbac.data-action`` result, see
  :mod:`preflight.verdict`) is ``granted``, and nothing FAILed or ERRORed (a passing ``access.probe`` — the data
  plane itself answered — is a yes even if another check failed);
- **no** — something FAILed: a failure stands between the identity and the call (a sign-in that does not work,
  a token the resource refuses, a role that does not grant);
- **undecided** — anything else: an ERROR, a data action that was skipped (no resource given, a read that
  failed) or whose verdict is ``conditional`` / ``disputed`` / ``undecided``, or a run that did not evaluate the
  data actions at all.

The commands are those of the causes that FAIL or ERROR (see :mod:`preflight.reports.causes`), one per cause,
in diagnosis order — the report lists sign-in before tenant and tokens, tokens before the resource, the resource
before roles, which is the order they must be fixed in (a role assignment cannot be checked before the sign-in
works). A cause without a command contributes its fix text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from preflight.model import Report, Result, Status
from preflight.reports.causes import Cause, group, label

Answer = Literal["yes", "no", "undecided"]

#: The checks whose results decide the answer (the rest only block it by failing).
DATA_ACTION = "rbac.data-action"
PROBE = "access.probe"
SIGNIN = "signin.chain"
#: At most this many steps on the first screen; the rest are in the report below.
MAX_STEPS = 3


# A sentence ends at . ! or ? followed by a space and a capital (not "e.g. the", not a URL's dots).
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")


@dataclass(frozen=True, slots=True)
class Step:
    """One thing to do: a command to run, or (when the cause has none) what to do in words. ``text`` is the
    fix's first sentence (the first screen is short); ``rest`` the remainder, told with the cause below."""

    cause: str  # the cause's lead, as people read it (check id and short subject)
    command: str | None
    text: str
    fix: str  # the whole fix text the step comes from

    @property
    def rest(self) -> str:
        return self.fix[len(self.text) :].strip()


def first_sentence(text: str) -> str:
    """The first sentence of a fix (all of it when it is one sentence)."""
    return _SENTENCE_END.split(" ".join(text.split()), maxsplit=1)[0]


@dataclass(frozen=True, slots=True)
class FirstScreen:
    """The answer, why (one clause), and the first steps that fix the failures; ``more`` steps are not shown."""

    answer: Answer
    target: str
    why: str
    steps: tuple[Step, ...]
    more: int = 0

    @property
    def question(self) -> str:
        return f"Can this identity call the data plane of {self.target}?"


def first_screen(report: Report) -> FirstScreen | None:
    """The first screen of ``report``, or None when the report is not about calling a target (an audit)."""
    ids = {r.check_id for r in report.results}
    if not ids & {DATA_ACTION, PROBE, SIGNIN}:
        return None
    causes = group(report.results)
    answer, why = _answer(report, causes)
    steps = _steps(causes) if answer != "yes" else []
    return FirstScreen(answer, _target_name(report), why, tuple(steps[:MAX_STEPS]), max(0, len(steps) - MAX_STEPS))


def _answer(report: Report, causes: Sequence[Cause]) -> tuple[Answer, str]:
    data = [r for r in report.results if r.check_id == DATA_ACTION]
    probes = [r for r in report.results if r.check_id == PROBE and r.status is not Status.SKIP]
    granted = _granted(data)
    if granted and probes and all(r.status is Status.PASS for r in probes):
        return "yes", "the roles grant every data action and the data plane answered the probe"
    failing = [c for c in causes if c.status is Status.FAIL]
    if failing:
        return "no", _blocked_by(failing, "failure")
    erring = [c for c in causes if c.status is Status.ERROR]
    if erring:
        return "undecided", _blocked_by(erring, "check that could not decide")
    if not data:
        return "undecided", "the run did not evaluate the data actions (rbac.data-action was not run)"
    if not granted:
        open_ = next((r for r in data if _verdict(r) not in (None, "granted")), None)
        open_ = open_ or next(r for r in data if r.status is not Status.PASS)
        return "undecided", f"rbac.data-action could not decide: {open_.summary}"
    warned = [c for c in causes if c.status is Status.WARN]
    caveat = f"; read the {_blocked_by(warned, 'warning')}" if warned else ""
    unprobed = (
        ""
        if probes
        else " (an Azure ML workspace has no data-plane probe)"
        if _workspace(report)
        else " (the data plane was not asked: add --probe for its own answer)"
    )
    what = "required action" if _workspace(report) else "data action"
    return "yes", f"the roles grant every {what}{unprobed}{caveat}"


def _workspace(report: Report) -> bool:
    """Whether the target is an Azure ML workspace: its requirements are actions, with nothing to probe."""
    target = report.target or {}
    named = str(target.get("workspace") or target.get("resource_id") or "").lower()
    return "/microsoft.machinelearningservices/workspaces/" in named or target.get("profile") == "ml"


def _verdict(result: Result) -> str | None:
    """The access verdict a per-action ``rbac.data-action`` result carries (its ``verdict`` evidence:
    :data:`preflight.verdict.VerdictStatus`), or None for a result about something else (PIM, a summary)."""
    value = next((e.value for e in result.evidence if e.name == "verdict"), None)
    return value if isinstance(value, str) else None


def _granted(data: Sequence[Result]) -> bool:
    """Every data action is granted: each per-action result's verdict is ``granted`` (a result without a verdict
    — a hand-built or plug-in report — by its status), and none could not decide. A warning beside them (PIM
    eligibilities unreadable) does not take a grant away: it is listed with the warnings."""
    actions = [r for r in data if _verdict(r) is not None] or [r for r in data if r.status is not Status.WARN]
    if not actions or any(r.status in (Status.ERROR, Status.SKIP) for r in data):
        return False
    return all((_verdict(r) or ("granted" if r.status is Status.PASS else "")) == "granted" for r in actions)


def _blocked_by(causes: Sequence[Cause], what: str) -> str:
    """``2 failures: signin.chain, resource.endpoint`` — the causes by their lead's id (and subject)."""
    names = ", ".join(label(c.lead) for c in causes[:3]) + (", …" if len(causes) > 3 else "")
    return f"{len(causes)} {what}{'s' if len(causes) != 1 else ''}: {names}"


def _steps(causes: Sequence[Cause]) -> list[Step]:
    steps: list[Step] = []
    seen: set[str] = set()
    for cause in causes:
        fix = cause.fix
        if cause.status not in (Status.FAIL, Status.ERROR) or fix is None:
            continue
        command = next((c for c in cause.commands if c not in seen), None)
        if command is None and fix.commands:
            continue  # its command is already a step
        seen.add(command or fix.text)
        whole = " ".join(fix.text.split())
        steps.append(Step(label(cause.lead), command, first_sentence(whole), whole))
    return steps


def _target_name(report: Report) -> str:
    """The target as a reader names it: the resource's (or workspace's) name, else the endpoint."""
    target = report.target
    for field in ("resource_id", "workspace"):
        value = target.get(field)
        if isinstance(value, str) and value.strip("/"):
            return value.rstrip("/").rsplit("/", 1)[-1]
    endpoint = target.get("endpoint")
    if isinstance(endpoint, str) and endpoint:
        return endpoint
    return "the target (none was given)"
