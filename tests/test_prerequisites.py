"""The prerequisites built-in checks declare (preflight.azure.prerequisites), enforced by the real engine: a run
that names no resource SKIPs the checks that need one with their own wording and pointer — before sign-in
starts, so not one fact is computed and nothing is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from preflight.azure.prerequisites import NO_TARGET, SERVICE_PRINCIPAL, SIGNIN, TARGET, NeedsTarget
from preflight.context import Context
from preflight.engine import RunOptions, discover, load, run_checks, select
from preflight.model import Skip, Status
from preflight.target import Target

NEEDS_A_RESOURCE = {
    "resource.endpoint": (
        "no resource given: pass --resource-id, --endpoint or --workspace (or set "
        "AZURE_OPENAI_ENDPOINT, or run inside a project with .azureml/config.json)",
        None,
    ),
    "rbac.data-action": (NO_TARGET, "resource.endpoint"),
    "rbac.propagation": (NO_TARGET, "resource.endpoint"),
    "rbac.deny": (NO_TARGET, "resource.endpoint"),
    "access.probe": ("no resource given: pass --resource-id or --endpoint", "resource.endpoint"),
}


@pytest.fixture
def no_azureml_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A working directory with no ``.azureml/config.json`` above it (that would name a workspace)."""
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("no_azureml_config")
def test_without_a_resource_the_checks_that_need_one_skip_with_their_wording_and_compute_nothing() -> None:
    ctx = Context(Target())
    checks = load(select(discover(), only=list(NEEDS_A_RESOURCE)))
    results = run_checks(checks, ctx, RunOptions(timeout=10, deadline=20))
    assert {r.check_id: (r.status, r.summary, r.caused_by) for r in results} == {
        check_id: (Status.SKIP, summary, caused_by) for check_id, (summary, caused_by) in NEEDS_A_RESOURCE.items()
    }
    assert all(ctx.computations(name) == 0 for name in ("cloud", "chain-probes", "credential", "resource"))


def test_the_built_in_checks_declare_the_guards_their_bodies_no_longer_repeat() -> None:
    requires = {c.meta.id: c.meta.requires for c in load(discover())}
    assert requires["principal.exists"] == requires["principal.credentials"] == (SIGNIN, SERVICE_PRINCIPAL)
    assert all(requires[c] == (TARGET, SIGNIN) for c in ("rbac.data-action", "rbac.propagation", "rbac.deny"))
    assert all(
        isinstance(requires[c][0], NeedsTarget) and requires[c][1] is SIGNIN
        for c in ("resource.endpoint", "access.probe")
    )
    assert requires["signin.chain"] == ()  # the critical path itself waits for nothing


@pytest.mark.usefixtures("no_azureml_config")
@pytest.mark.parametrize(
    ("target", "named_by", "applies"),
    [
        (Target(endpoint="https://a.openai.azure.com/"), ("resource_id", "endpoint"), True),
        (
            Target(
                workspace="/subscriptions/x/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w"
            ),
            ("resource_id", "endpoint"),
            False,
        ),
        (
            Target(
                workspace="/subscriptions/x/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w"
            ),
            (),
            True,
        ),
        (Target(), (), False),
    ],
)
def test_needs_target_counts_only_the_fields_it_names(target: Target, named_by: tuple[str, ...], applies: bool) -> None:
    prerequisite = NeedsTarget("no resource", caused_by="resource.endpoint", named_by=named_by)
    assert prerequisite.check(Context(target)) == (None if applies else Skip("no resource", "resource.endpoint"))
