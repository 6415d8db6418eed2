"""The CLI end to end under the twin: several report files in one run (format from the extension) besides the
terminal view, and ``--format github`` appending the Markdown summary to ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from helpers.cli import clean_env, run_cli

from preflight.twin import Twin

ONLY = ["--only", "signin.chain", "--only", "tokens.*", "--only", "resource.*", "--only", "rbac.data-action"]


def test_github_format_with_every_output_file_and_the_step_summary(twin: Twin, tmp_path: Path) -> None:
    twin.use("owner-without-data-role")
    summary = tmp_path / "step-summary.md"
    summary.write_text("previous step\n", encoding="utf-8")
    env = twin.process_environment(clean_env({"GITHUB_STEP_SUMMARY": str(summary)}))
    outputs = {
        name: tmp_path / "out" / name
        for name in ("report.html", "results.sarif", "junit.xml", "summary.md", "report.json", "report.txt")
    }
    args = ["check", "--format", "github", *ONLY]
    for path in outputs.values():
        args += ["--output", str(path)]
    proc = run_cli(args, env=env)
    assert proc.returncode == 1, proc.stderr  # the owner has no data role: FAIL gates
    assert proc.stderr == ""
    assert proc.stdout.startswith("::group::azure-preflight ")
    assert "\n::error title=FAIL rbac.data-action [Microsoft.CognitiveServices/accounts/OpenAI/deployments/" in (
        proc.stdout
    )

    appended = summary.read_text(encoding="utf-8")
    assert appended.startswith("previous step\n## ❌ azure-preflight: FAIL\n")
    assert "| ❌ FAIL | `rbac.data-action` |" in appended

    assert outputs["report.html"].read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    sarif = json.loads(outputs["results.sarif"].read_text(encoding="utf-8"))
    assert any(r["ruleId"] == "rbac.data-action" for r in sarif["runs"][0]["results"])
    junit = ET.fromstring(outputs["junit.xml"].read_text(encoding="utf-8"))
    assert junit.findall(".//testcase/failure")
    assert outputs["summary.md"].read_text(encoding="utf-8") in appended
    assert json.loads(outputs["report.json"].read_text(encoding="utf-8"))["schema"] == "preflight.report/1"
    assert "FAIL  rbac.data-action" in outputs["report.txt"].read_text(encoding="utf-8")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(outputs)  # no temp file left


def test_the_step_summary_is_only_written_by_the_github_format(tmp_path: Path) -> None:
    summary = tmp_path / "step-summary.md"
    env = clean_env({"GITHUB_STEP_SUMMARY": str(summary)})
    proc = run_cli(["check", "--only", "env.config"], env=env)
    assert proc.returncode == 0, proc.stderr
    assert not summary.exists()
    proc = run_cli(["check", "--only", "env.config", "--format", "github"], env=env)
    assert proc.returncode == 0, proc.stderr
    assert summary.read_text(encoding="utf-8").startswith("## ✅ azure-preflight: PASS\n")


def test_an_unwritable_step_summary_exits_3_without_a_traceback(tmp_path: Path) -> None:
    env = clean_env({"GITHUB_STEP_SUMMARY": str(tmp_path / "missing-dir" / "summary.md")})
    proc = run_cli(["check", "--only", "env.config", "--format", "github"], env=env)
    assert proc.returncode == 3
    assert "could not append the summary" in proc.stderr and "Traceback" not in proc.stderr
