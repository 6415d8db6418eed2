"""Grouping results by cause (preflight.reports.causes): pure, from the report alone — a dependant joins the
result it points at, results whose fixes meet join each other, identical summaries join, PASS never joins."""

from __future__ import annotations

from preflight.model import Remediation, Result, Severity, Status
from preflight.reports.causes import cause_of, group, key

LOGIN = "az login --tenant 11111111-1111-4111-8111-111111111111"


def result(check: str, status: Status, summary: str, **extra: object) -> Result:
    return Result(check, check, status, Severity.HIGH, summary, **extra)  # type: ignore[arg-type]


def test_a_dependant_joins_the_result_it_points_at() -> None:
    chain = result("signin.chain", Status.FAIL, "secret expired", remediation=Remediation("reset it", ("az ad x",)))
    skip = result(
        "rbac.deny", Status.SKIP, "skipped: credential is unavailable (see signin.chain)", caused_by="signin.chain"
    )
    alone = result("env.config", Status.PASS, "fine")
    causes = group([alone, chain, skip])
    assert [c.results for c in causes] == [(alone,), (chain, skip)]
    assert causes[1].lead is chain and causes[1].others == (skip,) and causes[1].fix == chain.remediation


def test_a_pointer_finds_the_check_s_result_that_needs_attention() -> None:
    passing = result("signin.chain", Status.PASS, "uses the CLI")
    warning = result("signin.chain", Status.WARN, "other tenant", subject="cli-tenant")
    skip = result("tokens.scope", Status.SKIP, "skipped", caused_by="signin.chain")
    causes = group([passing, warning, skip])
    assert [c.results for c in causes] == [(passing,), (warning, skip)]
    assert causes[1].id == "signin.chain [cli-tenant]" == key(warning)


def test_the_worst_result_leads_the_first_among_equals() -> None:
    warn = result("audit.direct-users", Status.WARN, "Owner on /s — guest", remediation=Remediation("x", ("az rm",)))
    fail = result(
        "audit.privileged-guests", Status.FAIL, "Owner on /s — guest", remediation=Remediation("y", ("az rm",))
    )
    other = result("audit.privileged-apps", Status.FAIL, "Owner on /s — guest")
    (cause,) = group([warn, fail, other])
    assert cause.lead is fail and cause.others == (warn, other)


def test_fixes_that_meet_join_even_when_one_is_told_in_words() -> None:
    """wrong-tenant: a WARN with the command, another with the same command, a FAIL whose fix text IS it."""
    warn = result("signin.tenants", Status.WARN, "another tenant", remediation=Remediation("sign in there", (LOGIN,)))
    fail = result("tokens.scope", Status.FAIL, "token from another tenant", remediation=Remediation(LOGIN))
    other = result("rbac.data-action", Status.FAIL, "no role", remediation=Remediation("assign a role", ("az role",)))
    causes = group([warn, fail, other])
    assert [c.results for c in causes] == [(warn, fail), (other,)]
    assert causes[0].status is Status.FAIL and causes[0].commands == (LOGIN,)
    assert causes[0].lead is fail and causes[0].fix is warn.remediation  # the worst leads; the fix with a command


def test_a_short_generic_fix_text_joins_nothing() -> None:
    a = result("a.one", Status.WARN, "first", remediation=Remediation("Run:", ("az one",)))
    b = result("b.two", Status.WARN, "second", remediation=Remediation("Run:", ("az two",)))
    assert len(group([a, b])) == 2


def test_identical_summaries_join_but_passes_never_do() -> None:
    a = result("principal.credentials", Status.SKIP, "not a service principal")
    b = result("principal.exists", Status.SKIP, "not a service principal")
    c = result("x.one", Status.PASS, "fine")
    d = result("x.two", Status.PASS, "fine")
    causes = group([a, b, c, d])
    assert [len(cause.results) for cause in causes] == [2, 1, 1]
    assert set(cause_of(causes)) == {id(a), id(b)}


def test_a_pointer_at_a_pass_or_at_nothing_stays_alone() -> None:
    ok = result("resource.endpoint", Status.PASS, "fine")
    skip = result("rbac.deny", Status.SKIP, "skipped", caused_by="resource.endpoint")
    gone = result("rbac.propagation", Status.ERROR, "could not decide", caused_by="fact:resource")
    assert len(group([ok, skip, gone])) == 3


def test_grouping_is_transitive_and_ordered() -> None:
    lead = result("signin.chain", Status.FAIL, "no credential", remediation=Remediation("sign in", ("az login",)))
    tok = result("tokens.scope", Status.SKIP, "skipped (see signin.chain)", caused_by="signin.chain")
    res = result("resource.endpoint", Status.SKIP, "skipped (see signin.chain)")  # same words as tok
    causes = group([lead, tok, res])
    assert len(causes) == 1 and causes[0].results == (lead, tok, res)


def test_a_fix_in_words_quoting_a_command_whole_meets_it_but_not_a_longer_one() -> None:
    cli = result("signin.chain", Status.WARN, "other tenant", remediation=Remediation("sign in there", (LOGIN,)))
    probe = result(
        "access.probe", Status.FAIL, "refused", remediation=Remediation(f"get a token: {LOGIN} (a guest must name it)")
    )
    mfa = result(
        "tokens.scope", Status.FAIL, "mfa", remediation=Remediation(f"complete MFA: {LOGIN} --scope s/.default")
    )
    causes = group([cli, probe, mfa])
    assert [c.results for c in causes] == [(cli, probe), (mfa,)]


def test_one_entra_error_code_is_one_cause() -> None:
    chain = result("signin.chain", Status.FAIL, "WorkloadIdentityCredential failed (AADSTS70021: No matching record)")
    fed = result(
        "principal.credentials", Status.FAIL, "no federated credential matches — sign-in fails with AADSTS70021"
    )
    other = result("tokens.scope", Status.FAIL, "AADSTS700211 something else")
    causes = group([chain, fed, other])
    assert [c.results for c in causes] == [(chain, fed), (other,)]


def test_the_remedy_keeps_the_lead_s_words_and_every_command() -> None:
    chain = result("signin.chain", Status.FAIL, "AADSTS70021 refused", remediation=Remediation("compare the subjects"))
    fed = result(
        "principal.credentials",
        Status.FAIL,
        "AADSTS70021",
        remediation=Remediation("add exactly this one", ("az add",)),
    )
    (cause,) = group([chain, fed])
    assert cause.fix is fed.remediation
    assert cause.remedy == Remediation("compare the subjects Also: add exactly this one", ("az add",))
