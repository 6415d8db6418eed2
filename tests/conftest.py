"""Session fixtures, and the split of the suite into two layers. Twin fixtures live in helpers/twin_fixtures.py
and are imported here.

Layers (``pytest -m unit`` runs the first alone, in seconds; plain ``pytest`` runs both):

- ``twin``: a test that uses the loopback twin or starts a process. Marked automatically when its fixtures
  include one from helpers/twin_fixtures.py (or ``plugin_path``, which runs pip), when its module uses the twin,
  the CLI-in-a-process helpers or ``subprocess``, or when it is marked ``slow``; or by hand with
  ``@pytest.mark.twin``.
- ``unit``: every other test — pure code on plain data. Kept honest at run time: while a ``unit`` test runs, its
  thread may not start a process, bind a server socket or connect anywhere (an audit hook, :class:`_UnitGuard`);
  a test that does fails and says to mark it ``twin``. So the split cannot drift silently, in CI included.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Property tests assert behaviour, never speed (no timed tests): Hypothesis's own timing checks — the 200 ms
# per-example deadline and the "input generation is slow" health check — failed correct tests whenever the shared
# CI machine was loaded (test_claims: "only generated 2 valid inputs after 1.32 seconds" at load average 7).
settings.register_profile("preflight", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("preflight")

PLUGIN_SOURCE = Path(__file__).parent / "data" / "plugin_dist"


@pytest.fixture(scope="session")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny third-party distribution registering checks through the ``preflight.checks`` entry points,
    installed (with pip, for real) into a private directory that tests put on PYTHONPATH."""
    work = tmp_path_factory.mktemp("plugin")
    source = work / "src"
    shutil.copytree(PLUGIN_SOURCE, source)
    target = work / "site"
    from helpers.wheel import pip

    pip("install", "--no-build-isolation", "--no-index", "--target", str(target), str(source))
    return target


from helpers.twin_fixtures import *  # noqa: E402, F403  (twin_session, twin, twin_env, core_twin …)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Read-only proof (issue 10): fail the whole run if the session twin ever served a write (PUT, PATCH,
    DELETE, or a POST other than token / Resource Graph / getByIds / $batch / data-plane chat)."""
    from helpers import twin_fixtures
    from helpers.readonly import violations

    bad = [line for twin in twin_fixtures.session_twins() for line in violations(twin.all_requests())]
    if bad:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "the twin served non-read requests:\n  " + "\n  ".join(bad[:50])
        if reporter is not None:
            reporter.write_line("")
            reporter.write_sep("=", "READ-ONLY VIOLATION", red=True, bold=True)
            reporter.write_line(message, red=True)
        else:
            print("READ-ONLY VIOLATION: " + message)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# ------------------------------------------------------------------------------------------ the two layers

# Where a test module's names come from that make it a twin-layer module (a module-scoped fixture starting its
# own Twin, run_cli spawning the console script, a wheel build …).
_TWIN_MODULES = (
    "preflight.twin",
    "helpers.twin_fixtures",
    "helpers.cli",
    "helpers.cli_driver",
    "helpers.soak",
    "helpers.wheel",
    "helpers.no_dns",
    "reliability",
    "subprocess",
)
_PROCESS_FIXTURES = frozenset({"plugin_path"})


def _from_twin_module(value: Any) -> bool:
    name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
    return isinstance(name, str) and any(name == m or name.startswith(m + ".") for m in _TWIN_MODULES)


def _twin_fixture_names() -> frozenset[str]:
    from helpers import twin_fixtures

    return (
        frozenset(
            name for name, value in vars(twin_fixtures).items() if type(value).__name__ == "FixtureFunctionDefinition"
        )
        | _PROCESS_FIXTURES
    )


def _is_twin_layer(item: pytest.Item, twin_fixtures: frozenset[str], modules: dict[str, bool]) -> bool:
    if item.get_closest_marker("twin") or item.get_closest_marker("slow"):
        return True
    if twin_fixtures.intersection(getattr(item, "fixturenames", ())):
        return True
    module = getattr(item, "module", None)
    if module is None:
        return False
    if module.__name__ not in modules:
        modules[module.__name__] = any(_from_twin_module(v) for v in vars(module).values())
    return modules[module.__name__]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test ``unit`` or ``twin`` (see the module docstring)."""
    twin_fixtures = _twin_fixture_names()
    modules: dict[str, bool] = {}
    for item in items:
        if _is_twin_layer(item, twin_fixtures, modules):
            if not item.get_closest_marker("twin"):
                item.add_marker(pytest.mark.twin)
        else:
            item.add_marker(pytest.mark.unit)


class UnitLayerViolation(RuntimeError):
    """A ``unit`` test started a process or used the network: it belongs to the ``twin`` layer."""


class _UnitGuard:
    """An audit hook (PEP 578) armed while a ``unit`` test is set up and runs: on the main thread (the test's own;
    threads left over from earlier twin tests are not its doing) it refuses and records process starts, server
    sockets and connections. Recorded as well as raised, so a test that swallows the error still fails."""

    EVENTS = frozenset(
        {
            "subprocess.Popen",
            "os.posix_spawn",
            "os.spawn",
            "os.fork",
            "os.forkpty",
            "os.exec",
            "os.system",
            "socket.bind",
            "socket.connect",
        }
    )

    def __init__(self) -> None:
        self.test: str | None = None
        self.seen: list[str] = []
        self._main = threading.main_thread().ident
        sys.addaudithook(self._hook)

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if self.test is None or event not in self.EVENTS or threading.get_ident() != self._main:
            return
        if event == "socket.bind" and args[1:] == (("::1", 0),):
            return  # urllib3's import-time IPv6 probe (util/connection.py _has_ipv6): no server, no traffic
        what = f"{event}{args[1:] if event.startswith('socket.') else args[:1]!r}"
        self.seen.append(what)
        raise UnitLayerViolation(
            f"{self.test} is marked unit but did {what}: mark it @pytest.mark.twin "
            "(tests/conftest.py explains the layers)"
        )

    @contextlib.contextmanager
    def armed(self, item: pytest.Item, *, first: bool) -> Iterator[None]:
        if item.get_closest_marker("unit") is None:
            yield
            return
        if first:
            self.seen = []
        self.test = item.nodeid
        try:
            yield
        finally:
            self.test = None


_GUARD = _UnitGuard()


class NetworkTargetViolation(RuntimeError):
    """Something in the test process looked up or connected to a host that is not loopback."""


class _LoopbackGuard:
    """An audit hook (PEP 578) armed for every test, on every thread: the only network target this project may
    ever have is loopback (the twin; a closed port). A name lookup (``socket.getaddrinfo``) or a connection to
    anything else — a real Azure host, the link-local managed-identity address 169.254.169.254, a DNS name a
    scenario put in the run's endpoint — is refused before a packet leaves, and recorded so the test fails even
    if the product turned the error into an ERROR result. Processes the tests start are not covered: they get the
    twin's environment, which points every endpoint at loopback."""

    LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "ip6-localhost"})

    def __init__(self) -> None:
        self.test: str | None = None
        self.seen: list[str] = []
        sys.addaudithook(self._hook)

    @classmethod
    def is_loopback(cls, host: object) -> bool:
        if host is None or host == "":
            return True  # a server socket's wildcard bind / getaddrinfo(None, port): no remote peer
        if isinstance(host, bytes):
            host = host.decode("ascii", "replace")
        if not isinstance(host, str):
            return False
        name = host.strip("[]").lower().rstrip(".")
        return name in cls.LOOPBACK_NAMES or name.startswith("127.") or name.endswith(".localhost")

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event == "socket.getaddrinfo":
            host = args[0]
        elif event == "socket.connect":
            address = args[1]
            if not isinstance(address, tuple):
                return  # a Unix socket path
            host = address[0]
        else:
            return
        if self.is_loopback(host):
            return
        what = f"{event}({host!r})"
        self.seen.append(f"{self.test or 'outside a test'}: {what}")
        raise NetworkTargetViolation(f"{what}: only loopback may be a network target (tests/conftest.py)")


_NETWORK = _LoopbackGuard()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    _NETWORK.test = item.nodeid
    try:
        return (yield)
    finally:
        _NETWORK.test = None


# Armed for a unit test's setup and call, not its teardown: the teardown of the last test of a module or session
# also finalises the fixtures of earlier (twin) tests, which may stop servers and processes.
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Any:
    with _GUARD.armed(item, first=True):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    with _GUARD.armed(item, first=False):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Fail a ``unit`` test whose guard saw a process or a connection, even if the test swallowed the error."""
    report = yield
    mine = [seen for seen in _NETWORK.seen if seen.startswith(f"{item.nodeid}: ")]
    if call.when == "call" and mine:
        report.outcome = "failed"
        report.longrepr = f"a non-loopback network target was looked up or contacted: {'; '.join(mine)}"
        return report
    if call.when == "call" and report.passed and item.get_closest_marker("unit") and _GUARD.seen:
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} is marked unit but did {', '.join(_GUARD.seen)}: mark it "
            "@pytest.mark.twin (tests/conftest.py explains the layers)"
        )
    return report


@pytest.fixture
def unit_guard() -> _UnitGuard:
    """The guard itself, for the test that proves it works (tests/test_layers.py)."""
    return _GUARD
