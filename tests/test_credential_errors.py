"""Every credential error is run through the AADSTS knowledge base, not only in signin.chain: when no credential
can sign in, `whoami`, `can-i` and the SKIPs of dependent checks name the code's category and give its fix —
including a CLI sign-in Entra refused, which DefaultAzureCredential itself only calls "unavailable"."""

from __future__ import annotations

import json

import pytest

from helpers.scenarios import one, run_scenario
from helpers.twin_fixtures import apply_environment

from preflight.cli import main
from preflight.twin import Twin

READ = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/read"
APP = "c1c1c1c1-0000-4000-8000-0000000000c1"
CASES = {
    "sp-expired-secret": ("AADSTS7000222 expired_client_secret", f"az ad app credential reset --id {APP}"),
    "ca-blocked": (
        "AzureCliCredential is signed in but Entra refused its token (AADSTS53003 conditional_access_blocked",
        "Ask the tenant admin which Conditional Access policy applied",
    ),
}


@pytest.mark.parametrize("scenario", sorted(CASES))
def test_whoami_and_can_i_classify_the_refusal(
    scenario: str, twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    category, fix = CASES[scenario]
    twin_session.use(scenario)
    apply_environment(monkeypatch, twin_session.environment())
    assert main(["whoami"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("not signed in: ") and category in err and "\n  fix: " in err and fix in err
    assert main(["whoami", "--format", "json"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["signed_in"] is False and category in document["error"] and fix in document["fix"]
    assert main(["can-i", READ]) == 3  # could not decide: nobody to ask about — said on stdout, like an answer
    out, err = capsys.readouterr()
    assert out.startswith("undecided: ") and category in out and fix in out
    assert "Traceback" not in err


def test_dependent_checks_skip_with_the_category(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    report = run_scenario(twin_session, monkeypatch, "ca-blocked", only=["rbac.data-action"])
    skipped = one(report, "rbac.data-action")
    assert skipped.caused_by == "signin.chain" and "AADSTS53003 conditional_access_blocked" in skipped.summary
