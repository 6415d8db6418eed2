"""``-v`` shows evidence, ``--debug`` shows logs (issue 19 item 5): evidence as readable key/value lines in
JSON's spelling, never Python reprs; the SDKs' HTTP logs (azure-core, azure-identity, msal) on stderr only with
``--debug``, and redacted there."""

from __future__ import annotations

import re
from pathlib import Path

from helpers.cli import run_cli
from helpers.reports import every_status_report

from preflight.model import Evidence
from preflight.reports import RenderOptions, evidence, table
from preflight.twin import Twin

REPR = re.compile(r"\{'|\['|': |\bTrue\b|\bFalse\b|\bNone\b")  # what str() of a dict / list / bool looks like


def test_evidence_lines_are_key_value_in_json_spelling() -> None:
    items = (
        Evidence("count", 3),
        Evidence("source", "resource-graph"),
        Evidence("by_principal_type", {"User": 2, "Group": 1}),
        Evidence("flags", {"enabled": True, "reason": None}),
        Evidence("scopes", ["/subscriptions/a", "/subscriptions/b"]),
        Evidence("items", [{"role": "Owner", "scope": "/subscriptions/a", "condition": None}]),
        Evidence("nested", {"deep": {"k": [1, {"x": False}]}}),
    )
    assert evidence.lines(items) == [
        ("count", "3"),
        ("source", "resource-graph"),
        ("by_principal_type.User", "2"),
        ("by_principal_type.Group", "1"),
        ("flags.enabled", "true"),
        ("flags.reason", "null"),
        ("scopes", "/subscriptions/a, /subscriptions/b"),
        ("items[0]", "role=Owner, scope=/subscriptions/a"),
        ("nested.deep", '{"k": [1, {"x": false}]}'),
    ]


def test_a_long_list_of_objects_is_cut_with_a_pointer_to_the_json_report() -> None:
    rows = [{"n": i} for i in range(evidence.MAX_ITEMS + 5)]
    out = evidence.lines([Evidence("items", rows)])
    assert len(out) == evidence.MAX_ITEMS + 1
    assert out[-1] == ("items", "… 5 more in the JSON report")


def test_the_verbose_table_prints_no_python_repr() -> None:
    text = table.render(every_status_report(), RenderOptions(verbose=True))
    evidence_lines = [line for line in text.splitlines() if line.startswith("        ") and ": " in line]
    assert evidence_lines, text
    for line in evidence_lines:
        _, _, value = line.strip().partition(": ")
        assert not REPR.search(value), line


def _run(twin: Twin, tmp_path: Path, *flags: str) -> tuple[str, str]:
    twin.use("ci-sp-data-role")  # a client secret in the environment: the logs must not show it
    env = twin.process_environment()
    env["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = "http://127.0.0.1:9"
    done = run_cli(["check", "--only", "signin.*", "--only", "tokens.*", *flags], env=env, cwd=tmp_path)
    assert done.returncode in (0, 1), done.stderr
    return done.stdout, done.stderr


def test_verbose_shows_evidence_and_no_sdk_logs(twin_session: Twin, tmp_path: Path) -> None:
    out, err = _run(twin_session, tmp_path, "-v")
    assert "        selected: EnvironmentCredential" in out  # signin.chain's evidence, key: value
    assert "        claims.aud: https://management.azure.com" in out
    assert not re.search(r"\{'|: \[\{", out)
    assert err == ""  # no azure.core / azure.identity / msal / urllib3 lines


def test_debug_shows_the_sdk_logs_redacted(twin_session: Twin, tmp_path: Path) -> None:
    out, err = _run(twin_session, tmp_path, "--debug")
    assert "azure.core.pipeline.policies.http_logging_policy" in err and "azure.identity" in err
    assert "msal" in err
    assert "twin-ci-secret-value" not in out + err
    assert "eyJ" not in out + err  # no JWT in any form
    assert "        claims.aud:" not in out  # evidence is -v's


def test_no_renderer_shows_evidence_as_a_python_repr() -> None:
    """Markdown and HTML show structured evidence as JSON (``"k": true``), the table as key/value lines."""
    from preflight import reports

    report = every_status_report()
    assert any(isinstance(e.value, dict | list) for r in report.results for e in r.evidence)
    for fmt in ("table", "md", "html"):
        text = reports.get(fmt).render(report, RenderOptions(verbose=True))
        assert not re.search(r"\{'|\['|\bTrue\b|\bNone\b", text), fmt
