"""Scenario faults: latency, forced statuses (429 with ``Retry-After``, 5xx), hangs, resets and broken bodies.

A scenario's ``faults`` section is a list of rules; the server asks :meth:`FaultSet.take` for the first rule that
matches each request and still has ``count`` left, then applies it *instead of* (status / action) or *before*
(latency only) the real handler. This is how tests prove that the SDKs' retry policies and preflight's deadlines
behave, without touching the service code.

Rule keys (all optional except that a rule must do something)::

    # match.path: a regex, searched, case-insensitive
    {"match": {"service": "arm", "method": "GET", "path": "roleAssignments"},
     "latencyMs": 200,            # delay before answering (also combined with a status or the real answer)
     "status": 429, "retryAfter": 1, "body": {...} | "text",   # answer this instead of the real handler
     "headers": {"WWW-Authenticate": "…"},   # extra response headers of a status answer (e.g. a claims challenge)
     "count": 2,                  # how many matching requests it applies to; absent = all
     "action": "hang" | "reset" | "malformed" | "truncate" | "html",
     "hangMs": 1000}              # for "hang": hold the connection this long, then close without answering
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from preflight.twin.http import SERVICES
from preflight.twin.scenario import rule_list_errors, unknown_key_errors

ACTIONS = ("hang", "reset", "malformed", "truncate", "html")
_RULE_KEYS = {
    "match",
    "latencyMs",
    "status",
    "retryAfter",
    "body",
    "count",
    "action",
    "hangMs",
    "description",
    "headers",
}
_MATCH_KEYS = {"service", "method", "path"}


@dataclass(frozen=True, slots=True)
class Fault:
    """One parsed rule. ``index`` is its position in the scenario, used to keep its remaining count."""

    index: int
    service: str | None
    method: str | None
    path: re.Pattern[str] | None
    latency_ms: int
    status: int | None
    retry_after: str | None
    body: Any
    count: int | None
    action: str | None
    hang_ms: int
    headers: tuple[tuple[str, str], ...] = ()

    def matches(self, service: str | None, method: str, path: str) -> bool:
        if self.service is not None and self.service != service:
            return False
        if self.method is not None and self.method != method.upper():
            return False
        return self.path is None or self.path.search(path) is not None

    @property
    def answers(self) -> bool:
        """Whether the fault replaces the real answer (otherwise it only delays it)."""
        return self.status is not None or self.action is not None


def validate(section: Any) -> list[str]:
    """Check a scenario's ``faults`` section; returns one message per problem, each naming the bad key."""
    return rule_list_errors(section, "faults", "must be a list of fault rules", _rule_errors)


def _rule_errors(where: str, rule: Mapping[str, Any]) -> list[str]:
    errors = unknown_key_errors(where, rule, _RULE_KEYS, f"one of {', '.join(sorted(_RULE_KEYS))}")
    match = rule.get("match", {})
    if not isinstance(match, Mapping):
        errors.append(f"{where}.match: must be an object")
        match = {}
    errors += unknown_key_errors(f"{where}.match", match, _MATCH_KEYS, "service, method or path")
    if "service" in match and match["service"] not in SERVICES:
        errors.append(f"{where}.match.service: {match['service']!r} is not one of {', '.join(SERVICES)}")
    if "method" in match and not isinstance(match["method"], str):
        errors.append(f"{where}.match.method: must be a string such as 'GET'")
    if "path" in match:
        try:
            re.compile(str(match["path"]))
        except re.error as exc:
            errors.append(f"{where}.match.path: invalid regular expression: {exc}")
    for key in ("latencyMs", "count", "hangMs", "status"):
        if key in rule and (not isinstance(rule[key], int) or isinstance(rule[key], bool) or rule[key] < 0):
            errors.append(f"{where}.{key}: must be a non-negative integer")
    if isinstance(rule.get("status"), int) and not 100 <= rule["status"] <= 599:
        errors.append(f"{where}.status: {rule['status']} is not an HTTP status")
    if "retryAfter" in rule and not isinstance(rule["retryAfter"], (int, float, str)):
        errors.append(f"{where}.retryAfter: must be seconds (a number) or an HTTP date string")
    if "action" in rule and rule["action"] not in ACTIONS:
        errors.append(f"{where}.action: {rule['action']!r} is not one of {', '.join(ACTIONS)}")
    if "headers" in rule and not (
        isinstance(rule["headers"], dict) and all(isinstance(v, str) for v in rule["headers"].values())
    ):
        errors.append(f"{where}.headers: must be an object of header name → string value")
    if "body" in rule and not isinstance(rule["body"], (dict, list, str)):
        errors.append(f"{where}.body: must be a JSON object or a string")
    if not any(k in rule for k in ("latencyMs", "status", "action")):
        errors.append(f"{where}: does nothing (give latencyMs, status or action)")
    return errors


def parse(section: Any) -> list[Fault]:
    """Turn a validated ``faults`` section into :class:`Fault` rules."""
    faults: list[Fault] = []
    for i, rule in enumerate(section or ()):
        match = rule.get("match") or {}
        retry_after = rule.get("retryAfter")
        faults.append(
            Fault(
                index=i,
                service=match.get("service"),
                method=str(match["method"]).upper() if match.get("method") else None,
                path=re.compile(str(match["path"]), re.IGNORECASE) if match.get("path") else None,
                latency_ms=int(rule.get("latencyMs", 0)),
                status=rule.get("status"),
                retry_after=None
                if retry_after is None
                else (str(int(retry_after)) if isinstance(retry_after, (int, float)) else str(retry_after)),
                body=rule.get("body"),
                count=rule.get("count"),
                action=rule.get("action"),
                hang_ms=int(rule.get("hangMs", 1000)),
                headers=tuple((str(k), str(v)) for k, v in (rule.get("headers") or {}).items()),
            )
        )
    return faults


class FaultSet:
    """The active rules and their remaining counts; :meth:`take` is atomic across handler threads."""

    def __init__(self, section: Any = None) -> None:
        self._lock = threading.Lock()
        self._faults = parse(section)
        self._remaining = {f.index: f.count for f in self._faults}

    def take(self, service: str | None, method: str, path: str, *, status_only: bool = False) -> Fault | None:
        """The first matching rule with count left, consuming one use of it; ``None`` if no rule applies.
        ``status_only``: only rules that answer with a status and no transport action (a request inside a
        ``$batch``)."""
        with self._lock:
            for fault in self._faults:
                left = self._remaining[fault.index]
                if status_only and (fault.status is None or fault.action is not None):
                    continue
                if (left is None or left > 0) and fault.matches(service, method, path):
                    if left is not None:
                        self._remaining[fault.index] = left - 1
                    return fault
        return None
