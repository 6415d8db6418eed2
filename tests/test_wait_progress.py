"""``preflight check --wait`` says what it waits for even where there is no live status line (a CI log, a pipe):
each unsettled attempt is one plain stderr line. The pause between attempts is replaced by "the assignment
propagated" (the twin switches to the settled scenario), so the test waits for nothing."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from helpers.twin_fixtures import apply_environment

from preflight.cli import main
from preflight.twin import Twin


def test_wait_prints_each_unsettled_attempt_off_a_tty(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    twin_session.use("propagation-pending")
    apply_environment(monkeypatch, twin_session.environment())
    monkeypatch.setenv("CI", "true")  # as in a pipeline: no live progress line
    pauses: list[float] = []

    def propagated(seconds: float) -> None:
        pauses.append(seconds)
        twin_session.use("healthy")

    monkeypatch.setattr(
        "preflight.run.time",
        SimpleNamespace(sleep=propagated, monotonic=time.monotonic, perf_counter=time.perf_counter),
    )
    code = main(["check", "--only", "rbac.*", "--wait", "10m", "--no-color"])
    out, err = capsys.readouterr()
    assert code == 0, (out, err)
    assert len(pauses) == 1  # one unsettled attempt, then settled
    (line,) = [line for line in err.splitlines() if "not settled" in line]
    assert line.startswith("  attempt 1 not settled (rbac.propagation: ")
    assert "re-checking in 15 s" in line and "s left" in line
    assert "\x1b[" not in err  # plain text for logs
    assert "PASS  rbac.propagation" in out


def test_no_wait_no_retry_lines(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    twin_session.use("propagation-pending")
    apply_environment(monkeypatch, twin_session.environment())
    monkeypatch.setenv("CI", "true")
    main(["check", "--only", "rbac.propagation", "--no-color"])
    assert "not settled" not in capsys.readouterr().err
