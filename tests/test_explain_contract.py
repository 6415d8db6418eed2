"""`preflight explain --format json`: the document issue 5 specifies — code, category, title, cause, fix — for a
bare number, a prefixed code and a whole pasted azure-identity message; unknown codes keep the code. Since
issue 18 the output is a list, one such document per error (docs/explain.md)."""

from __future__ import annotations

import json

import pytest

from helpers.cli import run_cli

CONTRACT = {"code", "category", "title", "cause", "fix"}


@pytest.mark.parametrize(
    "given",
    [
        "50076",
        "AADSTS50076",
        "DefaultAzureCredential failed to retrieve a token from the included credentials.\nAttempted credentials:\n"
        "\tAzureCliCredential: ERROR: AADSTS50076: Due to a configuration change made by your administrator, or "
        "because you moved to a new location, you must use multi-factor authentication to access '797f4846'. "
        "Trace ID: 0 Correlation ID: 0 Timestamp: 2026-01-01 00:00:00Z",
    ],
)
def test_json_document(given: str) -> None:
    proc = run_cli(["explain", "--format", "json", given])
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)[0]  # a list since issue 18: one explanation per error
    assert CONTRACT <= set(document)
    assert (document["code"], document["category"]) == (50076, "mfa_required")
    assert all(isinstance(document[k], str) and document[k] for k in ("title", "cause", "fix"))


def test_unknown_code_json_keeps_the_code() -> None:
    proc = run_cli(["explain", "--format", "json", "AADSTS999999: Something new happened."])
    assert proc.returncode == 1
    document = json.loads(proc.stdout)[0]  # a list since issue 18: one explanation per error
    assert (document["code"], document["category"]) == (999999, "unknown")
    assert "Something new happened" in document["cause"] + document["title"]
