"""``preflight audit`` output: every report format (plus csv, one row per assignment) renders the audit, the
JSON report carries the rows under ``tables`` and validates against the schema, and the command line keeps
``preflight check``'s exit codes (bad input → one line, exit 2)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest

from helpers.audit_scenarios import SUB1, audit_in_process, audit_scenario
from helpers.cli import clean_env, run_cli

from preflight import reports
from preflight.audit.inventory import COLUMNS
from preflight.model import Report
from preflight.reports import RenderOptions
from preflight.twin import Twin

SCHEMA = json.loads((Path(__file__).parents[2] / "preflight" / "schemas" / "report-1.schema.json").read_text())


@pytest.fixture(scope="module")
def report(twin_session: Twin) -> Iterator[Report]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield audit_in_process(twin_session, monkeypatch, audit_scenario())


@pytest.mark.parametrize("fmt", list(reports.FORMATS))
def test_every_format_renders_the_audit(fmt: str, report: Report) -> None:
    for verbose in (False, True):
        text = reports.get(fmt).render(report, RenderOptions(verbose=verbose))
        assert isinstance(text, str) and text.strip()
        if fmt not in ("csv",):
            assert "audit.privileged-apps" in text or "Privileged roles" in text, fmt


def test_csv_has_one_row_per_assignment(report: Report) -> None:
    rows = list(csv.DictReader(io.StringIO(reports.get("csv").render(report, RenderOptions()))))
    assert len(rows) == len(report.tables["assignments"]) == 10
    assert list(rows[0]) == list(COLUMNS)
    orphan = [r for r in rows if r["principal_exists"] == "false"]
    assert len(orphan) == 1 and orphan[0]["principal_display_name"] == "Unknown"
    # a condition starting with '@' would run as a formula in a spreadsheet: neutralised
    assert any(r["condition"].startswith("'@Resource") for r in rows)


def test_json_carries_the_rows_and_validates(report: Report) -> None:
    document = json.loads(reports.get("json").render(report, RenderOptions()))
    jsonschema.validate(document, SCHEMA)
    assert len(document["tables"]["assignments"]) == 10
    assert {c["id"] for c in document["checks"]} >= {"audit.inventory", "audit.orphaned"}


def test_cli_exit_codes_stdout_and_files(twin_session: Twin, tmp_path: Path) -> None:
    twin_session.use(audit_scenario())
    env = twin_session.process_environment(clean_env())
    out = tmp_path / "audit.json"
    proc = run_cli(["audit", "--all-subscriptions", "--format", "csv", "--output", str(out)], env=env, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr  # privileged findings FAIL
    assert len(list(csv.DictReader(io.StringIO(proc.stdout)))) == 10
    assert len(json.loads(out.read_text())["tables"]["assignments"]) == 10


def test_only_and_fail_on_select_checks_and_exit_code(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> None:
    from preflight.run import exit_code

    report = audit_in_process(twin_session, monkeypatch, audit_scenario(), only=["audit.inventory", "audit.custom-*"])
    assert {r.check_id for r in report.results} == {"audit.inventory", "audit.custom-wildcards"}
    assert (exit_code(report, "fail"), exit_code(report, "warn")) == (0, 1)


@pytest.mark.parametrize(
    "args",
    [
        ["--subscription", "not-a-guid"],
        ["--scope", "subscriptions/nope"],
        ["--all-subscriptions", "--subscription", SUB1],
        ["--management-group", "bad/id"],
        ["--only", "audit.nothing-like-this"],
        ["--format", "yaml"],
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from preflight.cli import main

    for name, value in clean_env().items():
        monkeypatch.setenv(name, value)
    assert main(["audit", *args]) == 2
    err = capsys.readouterr().err
    # ours: "preflight: error: …"; click's usage errors end with "Error: …"
    assert "Traceback" not in err and (
        err.startswith("preflight: error:") or err.strip().splitlines()[-1].startswith("Error:")
    ), err


def test_progress_rewrites_one_line_on_stderr() -> None:
    from preflight.audit.command import _Progress

    stream = io.StringIO()
    progress = _Progress(stream)
    progress.message("Resource Graph: 1000/100001 assignments")
    progress.close()
    assert stream.getvalue() == "\r\x1b[KResource Graph: 1000/100001 assignments\r\x1b[K"


# An unknown subscription or management group audits nothing: never a clean audit (the gate rule). ARM answers 404
# SubscriptionNotFound for a subscription, 403 for a management group it will not show (missing or hidden alike).
TYPO_SUB = "5b000000-0000-4000-8000-0000000000ff"


@pytest.mark.parametrize(
    ("args", "named", "found"),
    [
        (["--subscription", TYPO_SUB], f"/subscriptions/{TYPO_SUB}: 404 SubscriptionNotFound", False),
        (["--scope", f"/subscriptions/{TYPO_SUB}"], f"/subscriptions/{TYPO_SUB}: 404 SubscriptionNotFound", False),
        # the twin's Resource Graph answers a management-group query with no subscription by the tenant-level
        # assignments (real Resource Graph may refuse it: then the ARM listing answers 403 the same way)
        (
            ["--management-group", "crop"],
            "/providers/Microsoft.Management/managementGroups/crop: 403 AuthorizationFailed",
            True,
        ),
    ],
    ids=["subscription", "scope", "management-group"],
)
def test_an_unknown_scope_is_an_error_never_a_pass_with_no_assignments(
    twin_session: Twin,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    named: str,
    found: bool,
) -> None:
    from helpers.twin_fixtures import apply_environment

    from preflight.cli import main

    twin_session.use(audit_scenario())
    apply_environment(monkeypatch, twin_session.environment())
    code = main(["audit", "--format", "json", *args])
    out, err = capsys.readouterr()
    results = {r["check_id"]: r for r in json.loads(out)["results"]}
    assert code == 1 and "Traceback" not in err
    inventory = results["audit.inventory"]
    assert inventory["status"] == "error" and named in inventory["summary"], inventory
    assert "az account list" in inventory["remediation"]["text"]
    if found:  # findings over what was found stand; the inventory's ERROR says the rest was not audited
        assert "not audited: " + named in inventory["summary"]
    else:  # no PASS over nothing: every finding points at the inventory
        assert {r["status"] for r in results.values()} <= {"error", "skip"}, results
        assert results["audit.orphaned"]["summary"] == (
            "skipped: audit:assignments is unavailable (see audit.inventory)"
        )


def test_an_unknown_subscription_beside_a_known_one_is_still_an_error(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from helpers.twin_fixtures import apply_environment

    from preflight.cli import main

    twin_session.use(audit_scenario())
    apply_environment(monkeypatch, twin_session.environment())
    code = main(
        [
            "audit",
            "--format",
            "json",
            "--subscription",
            SUB1,
            "--subscription",
            TYPO_SUB,
            "--only",
            "audit.inventory,audit.orphaned",
        ]
    )
    document = json.loads(capsys.readouterr().out)
    results = {r["check_id"]: r for r in document["results"]}
    assert code == 1
    assert results["audit.inventory"]["status"] == "error"
    assert f"not audited: /subscriptions/{TYPO_SUB}: 404" in results["audit.inventory"]["summary"]
    assert document["tables"]["assignments"]  # what was found is still listed
    requests = [e.path.lower() for e in twin_session.requests()]
    assert f"/subscriptions/{TYPO_SUB}" in requests and f"/subscriptions/{SUB1}" not in requests  # it had rows


def test_the_github_format_appends_the_audit_to_the_step_summary(
    twin_session: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """``audit`` ends through the same render-and-write path as ``check``: with ``--format github`` inside GitHub
    Actions, the Markdown report (its assignments table included) goes to the step summary too."""
    from helpers.twin_fixtures import apply_environment

    from preflight.cli import main

    twin_session.use(audit_scenario())
    apply_environment(monkeypatch, twin_session.environment())
    summary = tmp_path / "step-summary.md"
    summary.write_text("previous step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code = main(["audit", "--format", "github", "--only", "audit.inventory,audit.orphaned"])
    out = capsys.readouterr().out
    assert code == 0 and out.startswith("::group::azure-preflight "), out
    appended = summary.read_text(encoding="utf-8")
    assert appended.startswith("previous step\n## ") and "`audit.orphaned`" in appended, appended
