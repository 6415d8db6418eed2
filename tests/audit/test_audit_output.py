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
from preflight.reports import RenderOptions

from preflight import reports
from preflight.audit.inventory import COLUMNS
from preflight.model import Report
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


@pytest.mark.parametrize("args", [
    ["--subscription", "not-a-guid"],
    ["--scope", "subscriptions/nope"],
    ["--all-subscriptions", "--subscription", SUB1],
    ["--management-group", "bad/id"],
    ["--only", "audit.nothing-like-this"],
    ["--format", "yaml"],
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from preflight.cli import main

    for name, value in clean_env().items():
        monkeypatch.setenv(name, value)
    assert main(["audit", *args]) == 2
    err = capsys.readouterr().err
    # ours: "preflight: error: …"; click's usage errors end with "Error: …"
    assert "Traceback" not in err and (err.startswith("preflight: error:")
                                       or err.strip().splitlines()[-1].startswith("Error:")), err


def test_progress_rewrites_one_line_on_stderr() -> None:
    from preflight.audit.command import _Progress

    stream = io.StringIO()
    progress = _Progress(stream)
    progress.message("Resource Graph: 1000/100001 assignments")
    progress.close()
    assert stream.getvalue() == "\r\x1b[KResource Graph: 1000/100001 assignments\r\x1b[K"
