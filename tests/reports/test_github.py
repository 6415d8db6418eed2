"""GitHub workflow commands: escaping exactly as the runner unescapes, one annotation per finding, and nothing in
the data able to run a command of its own."""

from __future__ import annotations

import re

from helpers.reports import INJECTION, every_status_report

from preflight.model import Status
from preflight.reports import RenderOptions, github


def test_escaping_follows_the_actions_toolkit() -> None:
    assert github.escape_data("100%\r\nnext: a,b") == "100%25%0D%0Anext: a,b"
    assert github.escape_property("100%\r\nnext: a,b") == "100%25%0D%0Anext%3A a%2Cb"
    # '%' first: an already-escaped sequence in the data survives as itself
    assert github.escape_data("%0A") == "%250A"


def test_one_annotation_per_fail_error_and_warn() -> None:
    report = every_status_report()
    lines = github.render(report, RenderOptions()).splitlines()
    annotations = [line for line in lines if re.match(r"::(error|warning) ", line)]
    assert [a.split(" ", 1)[0] for a in annotations] == ["::error", "::error", "::warning", "::error"]
    warn = next(a for a in annotations if a.startswith("::warning"))
    assert warn.startswith("::warning title=WARN resource.endpoint [local-auth]::keys enabled")
    assert "%0Afix: disable local auth" in warn


def test_injected_commands_in_the_data_stay_data() -> None:
    report = every_status_report()
    text = github.render(report, RenderOptions(verbose=True))
    lines = text.splitlines()
    token = lines[1].removeprefix("::stop-commands::")
    end = lines.index(f"::{token}::")
    # outside the stopped block, every line is one of ours: no line starts with a command taken from the data
    for line in lines[end + 1 :]:
        assert re.match(r"::(endgroup|error|warning)(::| title=)", line), line
        assert "::error title=injected" not in line.split("::", 2)[1]
    # the ERROR result carries the injection; it is escaped into its message, on one line
    error = next(line for line in lines if line.startswith("::error title=ERROR signin.chain"))
    assert "%0A::error title=injected::pwned%0D%0A##[error]legacy" in error
    assert INJECTION not in text.replace(lines[1], "")


def test_a_clean_report_is_just_the_group() -> None:
    from helpers.reports import empty_report

    lines = github.render(empty_report(), RenderOptions()).splitlines()
    assert lines[0].startswith("::group::azure-preflight 9.9.9: no results")
    assert lines[-1] == "::endgroup::"
    assert Status.PASS  # the statuses without annotations
    assert github.COMMANDS == {Status.FAIL: "error", Status.ERROR: "error", Status.WARN: "warning"}


def test_a_finding_another_explains_names_it_instead_of_repeating_the_fix() -> None:
    from dataclasses import replace

    from preflight.model import Remediation

    report = every_status_report()
    fail = next(r for r in report.results if r.check_id == "rbac.data-action")
    twin = replace(fail, subject="Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action")
    assert isinstance(fail.remediation, Remediation)
    text = github.render(replace(report, results=(*report.results, twin)), RenderOptions())
    annotations = [line for line in text.splitlines() if line.startswith("::error title=FAIL rbac.data-action")]
    assert len(annotations) == 2
    assert "fix: assign the least-privilege role" in annotations[0]
    assert "fix:" not in annotations[1] and "root cause reported by rbac.data-action [Microsoft" in annotations[1]
