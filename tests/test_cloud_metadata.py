"""The cloud metadata document over the standard library (preflight.azure.metadata), against the twin: the
first request of a run must leave before any SDK import, and still retry, trust the configured CA and say
what went wrong in one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from preflight.azure.metadata import MetadataError, fetch_metadata
from preflight.twin import Twin

PATH = "/metadata/endpoints?api-version=2022-09-01"


def with_faults(twin: Twin, *faults: dict[str, Any]) -> None:
    scenario = dict(twin.scenario)
    scenario["faults"] = list(faults)
    twin.use(scenario)


def env(twin: Twin) -> dict[str, str]:
    return {"REQUESTS_CA_BUNDLE": str(twin.ca_file)}


def test_reads_the_document_trusting_the_configured_ca(twin: Twin) -> None:
    doc = fetch_metadata(twin.base_url + PATH, env(twin))
    assert doc["resourceManager"].startswith(twin.base_url)


def test_throttling_is_retried_with_retry_after(twin: Twin) -> None:
    with_faults(twin, {"match": {"path": "metadata/endpoints"}, "status": 503, "retryAfter": 0, "count": 2})
    assert fetch_metadata(twin.base_url + PATH, env(twin))["resourceManager"]
    assert [e.status for e in twin.requests() if e.path == "/metadata/endpoints"] == [503, 503, 200]


def test_a_final_error_status_is_named(twin: Twin) -> None:
    with_faults(twin, {"match": {"path": "metadata/endpoints"}, "status": 404})
    with pytest.raises(MetadataError, match="HTTP 404") as caught:
        fetch_metadata(twin.base_url + PATH, env(twin))
    assert caught.value.status == 404


def test_an_untrusted_certificate_is_a_tls_failure(twin: Twin, tmp_path: Path) -> None:
    import certifi

    with pytest.raises(MetadataError, match="TLS: certificate not trusted"):
        fetch_metadata(twin.base_url + PATH, {"REQUESTS_CA_BUNDLE": certifi.where()})


def test_nothing_listening_and_other_schemes() -> None:
    with pytest.raises(MetadataError, match="refused"):
        fetch_metadata("https://127.0.0.1:9/metadata/endpoints", {})
    with pytest.raises(MetadataError, match="not an http"):
        fetch_metadata("file:///etc/passwd", {})


def test_a_body_that_is_not_json(twin: Twin) -> None:
    with_faults(twin, {"match": {"path": "metadata/endpoints"}, "status": 200, "body": "<html>proxy</html>"})
    with pytest.raises(ValueError):
        fetch_metadata(twin.base_url + PATH, env(twin))


def test_the_cloud_fact_imports_no_http_library(tmp_path: Path) -> None:
    """What makes the first request leave early: fetching the document loads neither requests nor an SDK."""
    probe = (
        "import sys\nfrom preflight.azure.metadata import fetch_metadata\n"
        "try:\n    fetch_metadata('https://127.0.0.1:9/x', {})\nexcept Exception:\n    pass\n"
        "print(sorted(n for n in sys.modules if n.split('.')[0] in ('requests', 'azure', 'msal', 'urllib3')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


@pytest.mark.parametrize("action", ["reset", "truncate", "malformed"])
def test_one_dropped_or_garbled_answer_is_asked_again(twin: Twin, action: str) -> None:
    """Everything in a run waits for this document: one reset, cut or garbled answer must not SKIP the run."""
    with_faults(twin, {"match": {"path": "metadata/endpoints"}, "action": action, "count": 1})
    assert fetch_metadata(twin.base_url + PATH, env(twin))["resourceManager"].startswith(twin.base_url)
    assert len([e for e in twin.requests() if e.path == "/metadata/endpoints"]) == 2


def test_a_connection_reset_for_good_is_named_after_the_attempts(twin: Twin) -> None:
    with_faults(twin, {"match": {"path": "metadata/endpoints"}, "action": "reset"})
    with pytest.raises(MetadataError, match=r"reset|closed"):
        fetch_metadata(twin.base_url + PATH, env(twin))
    assert len([e for e in twin.requests() if e.path == "/metadata/endpoints"]) == 3


# The gate rule through the CLI: a run that could not read its cloud's endpoints verified nothing, so it never
# exits 0; signin.chain (sign-in is the first step that needs them) tells the cause once, the others point at it.


def _check_json(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, dict[str, Any]]:
    import json

    from helpers.twin_fixtures import apply_environment

    from preflight.cli import main

    apply_environment(monkeypatch, twin.environment())
    code = main(["check", "--format", "json", *args])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("fault", "words"),
    [
        ({"status": 503, "retryAfter": 0}, "HTTP 503 Service Unavailable (after 3 attempts)"),
        ({"status": 429, "retryAfter": 0}, "HTTP 429"),
    ],
    ids=["5xx", "throttled"],
)
def test_unreadable_metadata_is_one_error_told_by_signin_and_the_run_exits_1(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fault: dict[str, Any], words: str
) -> None:
    with_faults(twin, {"match": {"path": "metadata/endpoints"}, **fault})
    code, report = _check_json(twin, monkeypatch, capsys)
    assert code == 1
    by_status: dict[str, list[dict[str, Any]]] = {}
    for result in report["results"]:
        by_status.setdefault(result["status"], []).append(result)
    (told,) = by_status["error"]
    assert told["check_id"] == "signin.chain"
    assert told["summary"].startswith(
        "could not decide: cloud is unavailable — could not read the cloud metadata "
        f"from {twin.base_url}/metadata/endpoints"
    )
    assert words in told["summary"] and "try again" in told["remediation"]["text"]
    told_once = "skipped: cloud is unavailable (see signin.chain)"
    assert by_status["skip"] and any(r["summary"] == told_once for r in by_status["skip"])
    # The rest do not apply whatever the cloud: the healthy app names no api-version and no deployment.
    others = {r["check_id"]: r["summary"] for r in by_status["skip"] if r["summary"] != told_once}
    assert set(others) <= {"app.api-version", "app.deployment"}, others
    assert all(" names no " in s or s.startswith("no api-version") for s in others.values()), others
    assert set(by_status) <= {"error", "skip", "pass"}  # env.config needs no network


def test_unreachable_metadata_without_the_signin_check_is_told_once_by_the_first_error(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from helpers.twin_fixtures import apply_environment

    from preflight.cli import main

    apply_environment(monkeypatch, twin.environment())
    monkeypatch.setenv("ARM_CLOUD_METADATA_URL", "https://127.0.0.1:9/metadata/endpoints?api-version=2022-09-01")
    code = main(["check", "--format", "json", "--only", "rbac.*"])
    results = json.loads(capsys.readouterr().out)["results"]
    assert code == 1
    assert [r["status"] for r in results] == ["error"] * len(results) and len(results) > 1
    first, *rest = results
    assert "could not read the cloud metadata from https://127.0.0.1:9/" in first["summary"]
    assert "refused" in first["summary"] and first["remediation"]["text"].startswith("check ARM_CLOUD_METADATA_URL")
    for result in rest:
        assert result["summary"] == f"could not decide: cloud is unavailable (same cause as {first['check_id']})"
        assert result["remediation"] is None


def test_the_report_names_the_cloud_the_metadata_describes(
    twin: Twin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With ARM_CLOUD_METADATA_URL the run talks to the cloud that document names (the twin's "AzureTwin"), not
    to --cloud's default; and when the document could not be read, the report does not pretend it knows."""
    code, report = _check_json(twin, monkeypatch, capsys, "--only", "signin.chain")
    assert code == 0 and report["target"]["cloud"] == "AzureTwin"
    with_faults(twin, {"match": {"path": "metadata/endpoints"}, "status": 503, "retryAfter": 0})
    code, report = _check_json(twin, monkeypatch, capsys, "--only", "signin.chain")
    assert code == 1 and report["target"]["cloud"] == "AzureCloud"  # --cloud's value, as given
