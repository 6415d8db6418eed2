"""The first screen (issue 19): can this identity call the target's data plane — yes / no / undecided — and the
one to three commands that fix the failures, in diagnosis order; table, Markdown and HTML open with it."""

from __future__ import annotations

import json
from dataclasses import replace

from helpers.reports import ScenarioReports, scenario_reports  # noqa: F401  (session fixture)

from preflight.model import Remediation, Report, Result, Severity, Status
from preflight.reports import RenderOptions, html, json_report, markdown, table
from preflight.reports.first_screen import first_screen, first_sentence

TARGET = {"resource_id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/acct"}
ROLE = "az role assignment create --assignee-object-id o --role r --scope /s"


def result(check: str, status: Status, summary: str = "", **extra: object) -> Result:
    return Result(check, check, status, Severity.HIGH, summary or f"{check} {status}", **extra)  # type: ignore[arg-type]


def report(*results: Result, target: dict[str, str] | None = None) -> Report:
    return Report("1.0", TARGET if target is None else target, "2026-01-01T00:00:00Z", 0.1, results)


def test_granted_data_actions_and_nothing_failing_is_a_yes() -> None:
    screen = first_screen(
        report(result("signin.chain", Status.PASS), result("rbac.data-action", Status.PASS, subject="a/read"))
    )
    assert screen is not None and screen.answer == "yes" and not screen.steps
    assert screen.question == "Can this identity call the data plane of acct?"
    assert "add --probe" in screen.why


def test_a_failure_is_a_no_with_its_command() -> None:
    fail = result("rbac.data-action", Status.FAIL, "no role grants it", remediation=Remediation("assign", (ROLE,)))
    screen = first_screen(report(result("signin.chain", Status.PASS), fail))
    assert screen is not None and screen.answer == "no"
    assert [(s.command, s.cause) for s in screen.steps] == [(ROLE, "rbac.data-action")]


def test_the_steps_follow_diagnosis_order_one_per_cause_at_most_three() -> None:
    fixes = [
        result("signin.chain", Status.FAIL, "sign-in", remediation=Remediation("Sign in. Then more.", ("az login",))),
        result("tokens.scope", Status.FAIL, "same", remediation=Remediation("again", ("az login",))),
        result("resource.endpoint", Status.FAIL, "endpoint", remediation=Remediation("check the endpoint")),
        result("rbac.data-action", Status.FAIL, "role", remediation=Remediation("assign", (ROLE,))),
        result("rbac.deny", Status.ERROR, "deny", remediation=Remediation("ask", ("az deny",))),
        result("principal.exists", Status.WARN, "warn", remediation=Remediation("warn", ("az warn",))),
    ]
    screen = first_screen(report(*fixes))
    assert screen is not None and screen.answer == "no"
    assert [s.command for s in screen.steps] == ["az login", None, ROLE]
    assert screen.steps[0].text == "Sign in." and screen.steps[0].rest == "Then more."
    assert screen.steps[1].text == "check the endpoint" and screen.more == 1  # the ERROR's; never the WARN's


def test_undecided_never_passes() -> None:
    skipped = result("rbac.data-action", Status.SKIP, "skipped: no resource given")
    assert first_screen(report(result("signin.chain", Status.PASS), skipped)).answer == "undecided"  # type: ignore[union-attr]
    erring = result("rbac.data-action", Status.ERROR, "could not decide")
    assert first_screen(report(erring)).answer == "undecided"  # type: ignore[union-attr]
    only_signin = first_screen(report(result("signin.chain", Status.PASS), target={}))
    assert only_signin is not None and only_signin.answer == "undecided" and "not run" in only_signin.why
    assert "none was given" in only_signin.target


def test_the_data_plane_s_own_yes_outweighs_a_failure_elsewhere() -> None:
    probe = result("access.probe", Status.PASS)
    data = result("rbac.data-action", Status.PASS)
    other = result("principal.credentials", Status.FAIL, "odd")
    assert first_screen(report(data, probe, other)).answer == "yes"  # type: ignore[union-attr]
    refused = replace(probe, status=Status.FAIL)
    assert first_screen(report(data, refused)).answer == "no"  # type: ignore[union-attr]


def test_an_audit_report_has_no_first_screen() -> None:
    assert first_screen(report(result("audit.orphaned", Status.WARN))) is None


def test_first_sentence() -> None:
    assert first_sentence("Do this: az x --y z. Then that.") == "Do this: az x --y z."
    assert first_sentence("one sentence, e.g. this one") == "one sentence, e.g. this one"


# --- on real reports from the twin: the three human formats open with the answer, the JSON names the cause ---

LOGIN = "az login --tenant 11111111-1111-4111-8111-111111111111"


def test_the_table_opens_with_the_answer_and_the_command_once(scenario_reports: ScenarioReports) -> None:  # noqa: F811
    text = table.render(scenario_reports.get("wrong-tenant"), RenderOptions())
    lines = text.splitlines()
    assert lines[lines.index("") + 1].startswith("Can this identity call the data plane of contoso-openai? NO — ")
    assert lines.index("To fix it, in order:") < lines.index("signin")
    assert text.count(LOGIN) == 1 and f"$ {LOGIN}" in text  # six results share it: told once, on the first screen
    assert "fix: step 1 above" in text


def test_a_healthy_report_says_yes_with_nothing_to_run(scenario_reports: ScenarioReports) -> None:  # noqa: F811
    report = scenario_reports.get("healthy")
    screen = first_screen(report)
    assert screen is not None and screen.answer == "yes" and screen.steps == ()
    assert "Can this identity call the data plane of contoso-openai? YES" in table.render(report, RenderOptions())


def test_markdown_opens_with_the_answer_and_lists_failures_before_collapsed_passes(
    scenario_reports: ScenarioReports,  # noqa: F811
) -> None:
    text = markdown.render(scenario_reports.get("owner-without-data-role"), RenderOptions())
    answer = text.index("**Can this identity call the data plane of contoso-openai? ❌ NO**")
    step = text.index("```sh\naz role assignment create --assignee-object-id")
    first_fail = text.index("| ❌ FAIL |")
    passes = text.index("<summary>✅ ")
    assert answer < step < first_fail < passes < text.index("| ✅ PASS |")
    assert text.count("az role assignment create") == 1  # two FAILs share the fix: told on the first screen


def test_html_opens_with_the_answer_and_collapses_the_passes(scenario_reports: ScenarioReports) -> None:  # noqa: F811
    text = html.render(scenario_reports.get("owner-without-data-role"), RenderOptions())
    answer = text.index('id="answer"')
    first_fail = text.index('data-status="fail" data-check=')  # a result row (the summary cards come earlier)
    passes = text.index('<details class="passes" id="passes">')
    assert answer < first_fail < passes < text.index('data-status="pass" data-check=')
    assert 'class="answer-word">NO<' in text


def test_the_json_names_each_result_s_cause(scenario_reports: ScenarioReports) -> None:  # noqa: F811
    document = json.loads(json_report.render(scenario_reports.get("wrong-tenant"), RenderOptions()))
    by_cause: dict[str, list[str]] = {}
    for item in document["results"]:
        if item["cause"] is not None:
            by_cause.setdefault(item["cause"], []).append(item["check_id"])
    tenant = by_cause["tokens.scope [Azure Resource Manager]"]
    assert tenant[:4] == ["signin.chain", "signin.identity", "signin.tenants", "tokens.scope"]
    # ARM's 401 InvalidAuthenticationTokenTenant has the same fix (az login --tenant …): one cause, not two
    assert "resource.endpoint" in tenant and "resource.endpoint" not in by_cause
    assert len(document["results"]) == len(scenario_reports.get("wrong-tenant").results)  # every result kept


def test_the_verdict_evidence_decides_and_a_pim_warning_does_not_take_a_grant_away() -> None:
    from preflight.model import Evidence

    def action(verdict: str, status: Status) -> Result:
        return result(
            "rbac.data-action", status, verdict, subject=f"a/{verdict}", evidence=(Evidence("verdict", verdict),)
        )

    pim = result("rbac.data-action", Status.WARN, "PIM role eligibilities could not be read", subject="pim")
    granted = first_screen(report(action("granted", Status.PASS), pim))
    assert granted is not None and granted.answer == "yes" and "rbac.data-action [pim]" in granted.why
    conditional = first_screen(report(action("granted", Status.PASS), action("conditional", Status.WARN)))
    assert conditional is not None and conditional.answer == "undecided" and conditional.why.endswith("conditional")


def test_html_tells_a_shared_summary_and_fix_once(scenario_reports: ScenarioReports) -> None:  # noqa: F811
    text = html.render(scenario_reports.get("wrong-tenant"), RenderOptions())
    refused = "but the resource is in tenant 11111111-1111-4111-8111-111111111111: the resource will reject it"
    assert text.count(refused) == 1  # three token scopes, one sentence
    assert "same as tokens.scope [Azure Resource Manager]" in text
    assert "Same cause as <code>tokens.scope [Azure Resource Manager]</code>" in text


def test_a_workspace_yes_names_actions_and_never_suggests_a_probe(scenario_reports: ScenarioReports) -> None:  # noqa: F811
    """An Azure ML workspace's requirements are actions and it has no data-plane probe: --probe is no advice."""
    screen = first_screen(scenario_reports.get("ml-data-scientist"))
    assert screen is not None and screen.answer == "yes"
    assert "every required action" in screen.why and "no data-plane probe" in screen.why and "--probe" not in screen.why
    probed = first_screen(scenario_reports.get("healthy"))  # an account: the probe is the proof, and was asked
    assert probed is not None and probed.why.endswith("the data plane answered the probe")
