"""`preflight explain`: AADSTS codes or pasted messages → category, cause and fix; exit 0 / 1 / 2."""

from __future__ import annotations

import json

import pytest

from helpers.cli import run_cli


@pytest.mark.parametrize(
    ("given", "code", "category"),
    [
        (["AADSTS50076"], 50076, "mfa_required"),
        (["53003"], 53003, "conditional_access_blocked"),
        (
            ["AADSTS7000222:", "The", "provided", "client", "secret", "keys", "are", "expired."],
            7000222,
            "expired_client_secret",
        ),
        # a chained message is classified by its most specific code
        (
            ["AADSTS70002: Error validating credentials. AADSTS50126: Invalid username or password."],
            50126,
            "invalid_user_credentials",
        ),
    ],
)
def test_known_codes_exit_0_with_the_classification(given: list[str], code: int, category: str) -> None:
    proc = run_cli(["explain", "--format", "json", *given])
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)[0]  # a list since issue 18: one explanation per error
    assert document["code"] == code
    assert document["category"] == category
    assert document["fix"] and "{" not in document["fix"]  # placeholders shown as <tenant>, never raw
    assert document["docs"] == f"https://login.microsoftonline.com/error?code={code}"


def test_unknown_code_exits_1_and_says_so() -> None:
    proc = run_cli(["explain", "AADSTS12345678"])
    assert proc.returncode == 1
    assert "category: unknown" in proc.stdout


def test_no_code_exits_2() -> None:
    proc = run_cli(["explain", "something went wrong"])
    assert proc.returncode == 2
    assert "no AADSTS error code found" in proc.stderr and "Traceback" not in proc.stderr
