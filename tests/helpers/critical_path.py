"""Pure analysis of a run's request log: the chain of dependent requests and duplicated requests.

The twin logs each request when its answer is ready (``time``) together with how long the handler held it
(``duration_ms``, injected latency included), so every request is an interval ``[time - duration, time]``.
Within one run, request B *may depend* on request A when B started after A ended: nothing in B could have been
sent before A's answer arrived. The longest chain of such requests is the run's **critical path**: with an
injected latency L per request, no run can finish its requests in less than ``len(chain) × L``, and a run
whose requests overlap perfectly takes about that. Requests that overlap in time are, by construction,
independent — so a run that serialises independent work shows a longer chain than it needs.

Used by the request-plan test (``tests/test_request_plan.py``) and the check benchmark
(``tests/benchmarks/bench_check.py``). No I/O, no twin import: plain data in, plain data out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

# Answers the SDKs retry (azure-core's RetryPolicy, MSAL): a repeat after one of these is a retry, not waste.
RETRIED = frozenset({0, 408, 429, 500, 502, 503, 504})


class Logged(Protocol):
    """What this module reads of a request-log entry (``preflight.twin.log.LogEntry`` has it)."""

    time: float
    duration_ms: float
    method: str
    path: str
    query: Mapping[str, str]
    service: str | None
    status: int


@dataclass(frozen=True, slots=True)
class Span:
    """One request as an interval in seconds (wall clock), with a label for reports."""

    start: float
    end: float
    label: str


def span_of(entry: Logged) -> Span:
    """The interval a logged request occupied at the twin (its end is when the answer was ready)."""
    return Span(
        entry.time - entry.duration_ms / 1000.0, entry.time, f"{entry.service or '?'} {entry.method} {entry.path}"
    )


def longest_chain(spans: Sequence[Span], slack: float = 0.0) -> list[Span]:
    """The longest sequence of spans each of which starts after the previous one ended (``slack`` seconds of
    clock jitter tolerated: B follows A when ``B.start >= A.end - slack``). Ties go to the chain that ends first.

    Classic longest path in an interval order: sort by end, ``best[i] = 1 + max(best[j])`` over the spans
    ``j`` that end before ``i`` starts. Quadratic, which is nothing for the tens of requests a check makes."""
    order = sorted(range(len(spans)), key=lambda i: (spans[i].end, spans[i].start))
    best: dict[int, int] = {}
    previous: dict[int, int | None] = {}
    for i in order:  # by end: every span that can precede i has been scored already
        best[i], previous[i] = 1, None
        for j, length in list(best.items()):
            if j != i and spans[j].end - slack <= spans[i].start and length + 1 > best[i]:
                best[i], previous[i] = length + 1, j
    if not best:
        return []
    last = max(order, key=lambda i: best[i])  # first in end order among the longest: ends first
    chain = [last]
    while (prev := previous[chain[-1]]) is not None:
        chain.append(prev)
    return [spans[i] for i in reversed(chain)]


def critical_path(entries: Iterable[Logged], slack: float = 0.0) -> list[Span]:
    """:func:`longest_chain` over a run's log entries."""
    return longest_chain([span_of(e) for e in entries], slack)


def request_key(entry: Logged) -> str:
    """What makes two requests "the same request": method, path (case-insensitive, as ARM treats it), query,
    and for POSTs what the twin recorded of the body (``extra``: the token request's scope and grant, a digest
    of a JSON body) — two token requests for different scopes, or two Resource Graph queries with different
    text, are different requests."""
    query = urlencode(sorted((k.lower(), v) for k, v in entry.query.items()))
    extra: Mapping[str, Any] = getattr(entry, "extra", None) or {}
    body = urlencode(sorted((str(k), str(v)) for k, v in extra.items())) if entry.method != "GET" else ""
    return f"{entry.method} {entry.path.lower()}?{query} {body}".rstrip()


def duplicates(entries: Iterable[Logged]) -> dict[str, int]:
    """Requests sent more than once, with their counts. A retry — the same request again after an answer the
    SDKs retry (408, 429, 5xx, or a connection that died: status 0) — is not a duplicate: only requests whose
    earlier copies all succeeded count."""
    seen: Counter[str] = Counter()
    for entry in entries:
        if entry.status not in RETRIED:
            seen[request_key(entry)] += 1
    return {k: n for k, n in seen.items() if n > 1}
