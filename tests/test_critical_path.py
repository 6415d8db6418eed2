"""The pure request-log analysis behind the request-plan test and the check benchmark."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from helpers.critical_path import (
    Span,
    critical_path,
    duplicates,
    longest_chain,
    request_key,
)


@dataclass(frozen=True)
class Entry:
    time: float
    duration_ms: float
    method: str = "GET"
    path: str = "/x"
    query: dict[str, str] = field(default_factory=dict)
    service: str | None = "arm"
    status: int = 200
    extra: dict[str, Any] = field(default_factory=dict)


def labels(chain: list[Span]) -> list[str]:
    return [s.label for s in chain]


def test_empty_log_has_no_chain() -> None:
    assert longest_chain([]) == []


def test_overlapping_requests_are_one_step() -> None:
    spans = [Span(0.0, 1.0, "a"), Span(0.5, 1.5, "b"), Span(0.9, 1.9, "c")]
    assert len(longest_chain(spans)) == 1


def test_chain_follows_only_requests_that_started_after_the_previous_ended() -> None:
    # token → assignments → two definitions in parallel; deny assignments overlap the assignments
    spans = [
        Span(0, 1, "token"),
        Span(1.01, 2, "assignments"),
        Span(1.02, 2.1, "deny"),
        Span(2.05, 3, "definition-1"),
        Span(2.06, 3.02, "definition-2"),
    ]
    assert labels(longest_chain(spans)) == ["token", "assignments", "definition-1"]


def test_serialised_independent_requests_show_as_a_longer_chain() -> None:
    spans = [Span(i, i + 0.9, f"r{i}") for i in range(5)]
    assert labels(longest_chain(spans)) == ["r0", "r1", "r2", "r3", "r4"]


def test_longest_not_greedy_first() -> None:
    # a greedy walk from the earliest request takes "long" and finds 2; the longest chain has 3
    spans = [Span(0, 10, "long"), Span(0, 1, "a"), Span(2, 3, "b"), Span(4, 5, "c"), Span(11, 12, "end")]
    assert labels(longest_chain(spans)) == ["a", "b", "c", "end"]


def test_slack_tolerates_clock_jitter() -> None:
    spans = [Span(0, 1.0005, "a"), Span(1.0, 2, "b")]
    assert len(longest_chain(spans)) == 1
    assert len(longest_chain(spans, slack=0.001)) == 2


def test_critical_path_reads_log_entries_as_intervals() -> None:
    entries = [
        Entry(time=1.0, duration_ms=1000, path="/a"),
        Entry(time=2.5, duration_ms=1000, path="/b"),
        Entry(time=1.8, duration_ms=1000, path="/c"),
    ]
    assert labels(critical_path(entries)) == ["arm GET /a", "arm GET /b"]


def test_duplicates_ignore_retries_and_tell_bodies_apart() -> None:
    entries = [
        Entry(1, 1, path="/roleDefinitions/r1", query={"api-version": "1"}),
        Entry(2, 1, path="/roleDefinitions/R1", query={"api-version": "1"}),  # same URL, ARM ignores case
        Entry(3, 1, path="/throttled", status=429),
        Entry(4, 1, path="/throttled"),  # a retry
        Entry(5, 1, method="POST", path="/token", extra={"scope": "arm"}),
        Entry(6, 1, method="POST", path="/token", extra={"scope": "graph"}),
    ]
    assert duplicates(entries) == {request_key(entries[0]): 2}


def test_get_key_ignores_extra_and_query_order() -> None:
    a = Entry(1, 1, query={"b": "2", "a": "1"}, extra={"x": 1})
    b = Entry(1, 1, query={"a": "1", "b": "2"})
    assert request_key(a) == request_key(b)
