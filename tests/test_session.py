"""preflight.run.session: the one lifetime of a Context that ``check``, ``audit``, ``can-i`` and ``whoami`` run
in — settled then closed when the command ends normally, closed (not settled) when it ends by an exception."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core import PipelineClient

from preflight.context import Context, fact
from preflight.redact import Redactor
from preflight.run import session
from preflight.target import Target


def _client() -> Any:
    client: Any = PipelineClient("https://127.0.0.1:9")
    client._pipeline._transport.open()  # a session, as after a first request
    return client


def _opened(ctx: Context, settled: list[float]) -> Any:
    client = _client()

    @fact("client")
    def build(_: Context) -> Any:
        return client

    ctx.get(build)
    ctx.on_settle(settled.append)
    return client


def test_a_normal_end_settles_within_the_deadline_then_closes() -> None:
    settled: list[float] = []
    with session(Target(environ={"AZURE_CLIENT_SECRET": "s3cret-value"}), deadline=4.0) as active:
        client = _opened(active.ctx, settled)
        assert isinstance(active.redactor, Redactor)
        assert "s3cret-value" not in active.redactor.text("the secret is s3cret-value")
    assert len(settled) == 1 and 0 < settled[0] <= 4.0
    assert client._pipeline._transport.session is None


def test_an_exception_closes_without_settling_and_propagates() -> None:
    settled: list[float] = []
    with pytest.raises(KeyboardInterrupt), session(Target()) as active:
        client = _opened(active.ctx, settled)
        raise KeyboardInterrupt
    assert settled == []  # Ctrl-C waits for nothing
    assert client._pipeline._transport.session is None


def test_a_deadline_is_offered_to_the_run_as_the_monotonic_time_it_is_due() -> None:
    import time

    before = time.monotonic()
    with session(Target(), deadline=30.0) as active:
        due = active.ctx.services["deadline"]
    assert before + 30.0 <= due <= time.monotonic() + 30.0
    with session(Target()) as active:  # can-i, whoami: no run deadline
        assert "deadline" not in active.ctx.services
