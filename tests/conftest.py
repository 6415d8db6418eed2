"""Session fixtures. Twin fixtures live in helpers/twin_fixtures.py and are imported here."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from helpers.cli import clean_env

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
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--disable-pip-version-check", "--no-index", "--target", str(target), str(source)],
        check=True, capture_output=True, text=True, env=clean_env(),
    )
    return target

from helpers.twin_fixtures import *  # noqa: E402,F401,F403  (twin_session, twin, twin_env, core_twin …)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Read-only proof (issue 10): fail the whole run if the session twin ever served a write (PUT, PATCH,
    DELETE, or a POST other than token / Resource Graph / getByIds / $batch / data-plane chat)."""
    from helpers import twin_fixtures
    from helpers.readonly import violations

    if twin_fixtures._session is None:  # no test used the twin
        return
    bad = violations(twin_fixtures._session.all_requests())
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
