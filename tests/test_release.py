"""preflight.release: what a finished run built is closed at once (issue 10's soak found ~100 idle sockets held
between garbage collections by a process running checks again and again)."""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from azure.core import PipelineClient
from azure.identity import ClientSecretCredential

from preflight.context import Context, fact
from preflight.errors import FactError
from preflight.release import close_clients, close_context
from preflight.twin import Twin


@dataclass(frozen=True)
class _Probe:
    credential: Any
    token: Any = None


class _Holder:  # a preflight-style object holding a client (as GraphReader does)
    __module__ = "preflight.testing"

    def __init__(self, client: Any) -> None:
        self._client = client


class _NotAnSdkObject:
    closed = False

    def close(self) -> None:
        self.closed = True


class _BrokenSdkObject:
    __module__ = "azure.testing"

    def close(self) -> None:
        raise RuntimeError("already closed")


def _client() -> Any:
    client: Any = PipelineClient("https://127.0.0.1:9")
    client._pipeline._transport.open()  # a session, as after a first request
    return client


def _session(client: Any) -> Any:
    return client._pipeline._transport.session


def test_sdk_objects_nested_in_fact_values_are_closed() -> None:
    a, b, c = _client(), _client(), _client()
    credential = ClientSecretCredential("t", "c", "s", authority="https://127.0.0.1:9", disable_instance_discovery=True)
    values = [{"probes": (_Probe(credential), _Probe(None))}, _Holder(a), [b], {"deep": {"er": [c]}}]
    assert all(_session(x) is not None for x in (a, b, c))
    assert close_clients(values) == 4
    assert all(_session(x) is None for x in (a, b, c))


def test_only_sdk_objects_are_closed_and_failures_are_ignored() -> None:
    other = _NotAnSdkObject()
    assert close_clients([other, _BrokenSdkObject(), "text", 3, None]) == 0
    assert other.closed is False


def test_a_shared_object_is_closed_once() -> None:
    client = _client()
    assert close_clients([client, {"again": client}, _Holder(client)]) == 1


def test_close_context_closes_finished_facts_only() -> None:
    client = _client()

    @fact("client")
    def build(ctx: Context) -> Any:
        return client

    @fact("broken")
    def broken(ctx: Context) -> Any:
        raise ValueError("no")

    ctx = Context(target=None)
    ctx.get(build)
    with pytest.raises(FactError):
        ctx.get(broken)
    assert close_context(ctx) == 1
    assert _session(client) is None


def _open_transports(during: Callable[[], Any]) -> list[str]:
    """The azure-core transports created by ``during()`` whose session is still open afterwards. The garbage
    collector is held off meanwhile, so an unclosed transport cannot hide by being collected."""
    from azure.core.pipeline.transport import RequestsTransport

    gc.collect()
    before = {id(o) for o in gc.get_objects() if isinstance(o, RequestsTransport)}
    gc.disable()
    try:
        during()
        return [
            repr(o)
            for o in gc.get_objects()
            if isinstance(o, RequestsTransport) and id(o) not in before and o.session is not None
        ]
    finally:
        gc.enable()


def test_a_check_run_closes_every_client_it_built(twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.scenarios import run_scenario

    reports: list[Any] = []
    assert (
        _open_transports(
            lambda: reports.append(run_scenario(twin, monkeypatch, "principal-secret-expiring", only=("*",)))
        )
        == []
    )
    assert len(reports[0].results) >= 10


def test_an_audit_closes_every_client_it_built(twin: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers.audit_scenarios import audit_in_process, audit_scenario

    reports: list[Any] = []
    assert _open_transports(lambda: reports.append(audit_in_process(twin, monkeypatch, audit_scenario()))) == []
    assert reports[0].results
