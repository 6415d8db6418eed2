"""`preflight explain` on the command line (issue 18): text or stdin (`-`), the JSON list contract, exit codes
0 / 1 / 2, and no secret of the paste in any output."""

from __future__ import annotations

import json
import subprocess

import pytest

from helpers.cli import clean_env, preflight_exe, run_cli

KEYS = {
    "category",
    "source",
    "code",
    "status",
    "title",
    "message",
    "cause",
    "fix",
    "commands",
    "verify",
    "docs",
    "credential",
    "action",
    "scope",
    "principal",
    "role",
    "expected_audience",
    "conditional_access",
    "variant",
}
FORBIDDEN = (
    '{"error": {"code": "AuthenticationTypeDisabled", "message": "Key based authentication is disabled '
    'for this resource."}}'
)
DENIED = (
    "azure.core.exceptions.HttpResponseError: (AuthorizationFailed) The client 'a@contoso.com' with object id "
    "'11111111-2222-3333-4444-555555555555' does not have authorization to perform action "
    "'Microsoft.CognitiveServices/accounts/read' over scope '/subscriptions/s/resourceGroups/rg/providers/"
    "Microsoft.CognitiveServices/accounts/acc' or the scope is invalid.\nCode: AuthorizationFailed\n"
    "Message: The client 'a@contoso.com' with object id '11111111-2222-3333-4444-555555555555' does not have "
    "authorization to perform action 'Microsoft.CognitiveServices/accounts/read' over scope "
    "'/subscriptions/s/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/acc' or the scope "
    "is invalid."
)


def stdin_cli(args: list[str], text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [preflight_exe(), *args], input=text, env=clean_env(), capture_output=True, text=True, timeout=120
    )


def test_stdin_and_the_json_list_contract() -> None:
    proc = stdin_cli(["explain", "--format", "json", "-"], DENIED + "\n\n" + FORBIDDEN)
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    assert [d["category"] for d in document] == ["authorization_failed", "keys_disabled"]
    assert all(set(d) == KEYS for d in document)
    assert document[0]["source"] == "arm" and document[1]["source"] == "data_plane"
    assert document[0]["action"] == "Microsoft.CognitiveServices/accounts/read"
    assert document[0]["commands"][0].startswith("az role assignment create --assignee-object-id 11111111-")
    assert all(d["verify"].startswith("preflight check --only ") for d in document)


def test_table_lists_each_explanation_with_its_verify_command() -> None:
    proc = run_cli(["explain", DENIED, FORBIDDEN])
    assert proc.returncode == 0, proc.stderr
    assert "[1/2]" in proc.stdout and "[2/2]" in proc.stdout
    assert "category: authorization_failed (arm, HTTP" not in proc.stdout  # no invented status
    assert proc.stdout.count("verify:   preflight check --only") == 2


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('{"error": {"code": "InternalServerError", "message": "The server had an error."}}', 1),
        ("my laptop is slow today", 2),
    ],
)
def test_exit_codes(text: str, code: int) -> None:
    assert run_cli(["explain", text]).returncode == code


# Secrets a user may paste along with the error: none may reach stdout or stderr, in either format.
API_KEY = "0123456789abcdef0123456789abcdef"
NEW_KEY = "A1b2C3d4" * 10 + "JQQJ"  # the 84-character form
JWT = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2NvZ25pdGl2ZSJ9.c2lnbmF0dXJlY2FuYXJ5"
SECRET = "abc8Q~canary-secret-value-0123456789xyz"
APIM = "apimcanarykey42"
PASTE = f"""\
Traceback (most recent call last):
  File "/app/main.py", line 7, in <module>
    client = AzureOpenAI(api_key="{API_KEY}", azure_endpoint="https://acc.openai.azure.com")
  File "/app/auth.py", line 3, in <module>
    requests.post(url, data="grant_type=client_credentials&client_secret={SECRET}&scope=x")
DEBUG:urllib3: headers={{'api-key': '{NEW_KEY}', 'Authorization': 'Bearer {JWT}', 'Ocp-Apim-Subscription-Key': '{APIM}'}}
Ocp-Apim-Subscription-Key: {APIM}
openai.AuthenticationError: Error code: 401 - {{'error': {{'code': '401', 'message': 'Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid key for an active subscription and use a correct regional API endpoint for your resource.'}}}}
"""


@pytest.mark.parametrize("fmt", ["table", "json"])
@pytest.mark.parametrize("via", ["argument", "stdin"])
def test_secrets_in_the_paste_never_appear(fmt: str, via: str) -> None:
    paste = PASTE + f"\nbad: {API_KEY} {SECRET}"  # a key and a secret quoted in an unrecognised line too
    proc = (
        stdin_cli(["explain", "--format", fmt, "-"], paste)
        if via == "stdin"
        else run_cli(["explain", "--format", fmt, paste])
    )
    assert proc.returncode == 0, proc.stderr
    assert "invalid_key" in proc.stdout
    for canary in (API_KEY, NEW_KEY, JWT, JWT.split(".")[1], SECRET, APIM):
        assert canary not in proc.stdout + proc.stderr


def test_secrets_in_an_unrecognised_paste_never_appear_in_the_error() -> None:
    proc = run_cli(["explain", f"hello api-key: {APIM} {API_KEY}"])
    assert proc.returncode == 2
    assert APIM not in proc.stderr and API_KEY not in proc.stderr


def test_explain_is_offline_and_light(tmp_path: object) -> None:
    """Pure text work: no Azure SDK, no HTTP client and never the twin is imported (the product does not import
    the twin; explain must answer in a fraction of a second)."""
    import sys

    probe = (
        "import sys\nfrom preflight.cli import main\n"
        "main(['explain', '--format', 'json', 'AADSTS50076'])\n"
        "print('LOADED=' + ','.join(sorted(n for n in sys.modules if n.split('.')[0] in "
        "('azure', 'msal', 'requests', 'httpx', 'jinja2', 'cryptography') or n.startswith('preflight.twin'))), "
        "file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=str(tmp_path), env=clean_env()
    )
    assert [line for line in proc.stderr.splitlines() if line.startswith("LOADED=")] == ["LOADED="], proc.stderr


def test_the_json_names_which_meaning_entra_s_words_chose(capsys: pytest.CaptureFixture[str]) -> None:
    from preflight.cli import main

    text = (
        "AADSTS700027: Client assertion contains an invalid signature. [Reason - The key was not found., "
        "Thumbprint of key used by client: 'ABC']"
    )
    assert main(["explain", text, "--format", "json"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert item["code"] == 700027 and item["variant"] == "certificate_not_registered"
