"""The console script end to end: exit codes, formats, files, errors without tracebacks, secrets never shown."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from helpers.cli import clean_env, run_cli

SCHEMA = json.loads((Path(__file__).parents[1] / "preflight" / "schemas" / "report-1.schema.json").read_text())
APP = "11111111-2222-3333-4444-555555555555"
TENANT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
SECRET = "Q7x8Q~very.secret-client-value_42"


def test_version() -> None:
    from preflight import __version__

    proc = run_cli(["--version"])
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"azure-preflight {__version__}"


def test_list_checks_json_lists_the_builtins() -> None:
    proc = run_cli(["list-checks", "--format", "json"])
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert document["schema"] == "preflight.checks/1"
    ids = {c["id"] for c in document["checks"]}
    assert "env.config" in ids
    assert all(c["load_error"] is None for c in document["checks"])


def test_check_json_validates_against_the_schema_and_exits_0_when_clean() -> None:
    proc = run_cli(["check", "--format", "json", "--only", "env.*"])
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    jsonschema.validate(document, SCHEMA)
    (result,) = document["results"]
    assert result["check_id"] == "env.config" and result["status"] == "pass"


def test_a_fail_exits_1_and_fail_on_never_exits_0() -> None:
    env = clean_env({"AZURE_TOKEN_CREDENTIALS": "bogus"})
    proc = run_cli(["check", "--only", "env.config"], env=env)
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout and "AZURE_TOKEN_CREDENTIALS" in proc.stdout
    assert run_cli(["check", "--only", "env.config", "--fail-on", "never"], env=env).returncode == 0


def test_warnings_gate_only_with_fail_on_warn() -> None:
    env = clean_env({"AZURE_CLIENT_ID": APP, "AZURE_CLIENT_SECRET": SECRET})  # no tenant → WARN
    assert run_cli(["check", "--only", "env.config"], env=env).returncode == 0
    assert run_cli(["check", "--only", "env.config", "--fail-on", "warn"], env=env).returncode == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "--only", "nope.*"], "no check matches 'nope.*'"),
        (["check", "--resource-id", "/subscriptions/x"], "is not an Azure resource id"),
        (["check", "--subscription", "not-a-guid"], "is not a GUID"),
        (["check", "--endpoint", "http://insecure.example"], "must be an https:// URL"),
        (["check", "--format", "yaml"], "Invalid value for '--format'"),
        (["check", "--timeout", "-1"], "Invalid value for '--timeout'"),
        (["frobnicate"], "No such command"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line_and_no_traceback(args: list[str], message: str) -> None:
    proc = run_cli(args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_output_file_is_written_atomically_in_the_format_of_its_extension(tmp_path: Path) -> None:
    out = tmp_path / "nested" / "report.json"
    proc = run_cli(["check", "--only", "env.config", "--output", str(out)])
    assert proc.returncode == 0, proc.stderr
    assert "env.config" in proc.stdout  # the terminal view is still printed
    jsonschema.validate(json.loads(out.read_text()), SCHEMA)
    assert [p.name for p in out.parent.iterdir()] == ["report.json"]  # no temp file left behind


def test_an_unwritable_report_exits_3(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    proc = run_cli(["check", "--only", "env.config", "--output", str(blocker / "report.json")])
    assert proc.returncode == 3
    assert "could not write the report" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_client_secret_never_appears_in_any_output(tmp_path: Path) -> None:
    env = clean_env({"AZURE_CLIENT_ID": APP, "AZURE_TENANT_ID": TENANT, "AZURE_CLIENT_SECRET": SECRET})
    out = tmp_path / "r.json"
    # Offline check only: with a service principal configured, the sign-in checks would contact its authority
    # (full runs with canary secrets go through the twin in tests/checks/).
    proc = run_cli(["check", "--only", "env.config", "--format", "json", "-v", "--output", str(out)], env=env)
    assert proc.returncode == 0, proc.stderr
    for text in (proc.stdout, proc.stderr, out.read_text()):
        assert SECRET not in text
    document = json.loads(proc.stdout)
    (result,) = [r for r in document["results"] if r["check_id"] == "env.config"]
    variables = next(e["value"] for e in result["evidence"] if e["name"] == "variables")
    assert variables["AZURE_CLIENT_SECRET"] == f"set ({len(SECRET)} characters, hidden)"
    assert variables["AZURE_CLIENT_ID"] == APP


def test_no_progress_output_when_not_a_tty() -> None:
    proc = run_cli(["check", "--only", "env.config"])
    assert "running:" not in proc.stderr
    assert proc.stderr == ""


def test_table_output_is_plain_without_a_tty_and_honours_no_color() -> None:
    proc = run_cli(["check", "--only", "env.config", "--no-color"])
    assert "\033[" not in proc.stdout
    assert proc.stdout.rstrip().splitlines()[-1].startswith("1 PASS")
