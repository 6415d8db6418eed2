"""Bad input (issue 10): every malformed flag, id, config or scenario file gives one clear line naming the
problem, exit 2 and no traceback — in a real subprocess, so the console script's own error path is tested.

The processes run with the twin's environment (everything points at loopback), although none of these
inputs should get as far as a network call.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from helpers.cli import preflight_exe

from preflight.twin import Twin

SUB = "22222222-2222-4222-8222-222222222222"
ACTION = "Microsoft.CognitiveServices/accounts/read"
# Variables that name a target: without them, `check` looks for .azureml/config.json.
TARGET_VARS = ("PREFLIGHT_RESOURCE_ID", "AZURE_OPENAI_ENDPOINT", "AZURE_AI_ENDPOINT")

Setup = Callable[[Path], None]


def _nothing(_: Path) -> None:
    return None


def _azureml(content: bytes) -> Setup:
    def write(directory: Path) -> None:
        (directory / ".azureml").mkdir()
        (directory / ".azureml" / "config.json").write_bytes(content)

    return write


def _scenario(content: bytes) -> Setup:
    def write(directory: Path) -> None:
        (directory / "scenario.json").write_bytes(content)

    return write


def _fifo(directory: Path) -> None:
    os.mkfifo(directory / "fifo.json")  # nobody ever writes: reading it would block for ever


# A document nested 5000 deep: past Python's recursion limit (json.loads would raise RecursionError), 30 KB.
DEEP = b'{"a":' * 5000 + b"1" + b"}" * 5000
WORKSPACE = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w"
CAN_I = ["can-i", "Microsoft.CognitiveServices/accounts/read"]

# (id, argv, files to create in the working directory, drop the target variables?, text the message must name)
CASES: list[tuple[str, list[str], Setup, bool, str]] = [
    (
        "resource-id-garbage",
        ["check", "--resource-id", "not-an-id"],
        _nothing,
        False,
        "'not-an-id' is not an Azure resource id",
    ),
    (
        "resource-id-truncated",
        ["check", "--resource-id", f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices"],
        _nothing,
        False,
        "is not an Azure resource id",
    ),
    (
        "resource-id-sub-not-guid",
        [
            "check",
            "--resource-id",
            "/subscriptions/x/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a",
        ],
        _nothing,
        False,
        "is not an Azure resource id",
    ),
    (
        "subscription-not-guid",
        ["check", "--subscription", "not-a-guid"],
        _nothing,
        False,
        "subscription 'not-a-guid' is not a GUID",
    ),
    ("subscription-trailing-newline", ["check", "--subscription", SUB + "\n"], _nothing, False, "is not a GUID"),
    (
        "can-i-subscription-not-guid",
        ["can-i", "--subscription", "nope", ACTION],
        _nothing,
        False,
        "subscription 'nope' is not a GUID",
    ),
    ("unknown-profile", ["check", "--profile", "nosuch"], _nothing, False, "unknown profile 'nosuch'"),
    ("scope-with-space", ["check", "--scope", "not a scope"], _nothing, False, "'not a scope' is not a token scope"),
    ("scope-empty", ["check", "--scope", ""], _nothing, False, "'' is not a token scope"),
    (
        "can-i-scope",
        ["can-i", "--scope", "garbage", ACTION],
        _nothing,
        False,
        "--scope 'garbage' is not an Azure scope",
    ),
    (
        "can-i-both-planes",
        ["can-i", "--data-action", "--control-action", ACTION],
        _nothing,
        False,
        "--data-action and --control-action are mutually exclusive",
    ),
    (
        "can-i-assignee-garbage",
        ["can-i", "--assignee", "a b", "--scope", f"/subscriptions/{SUB}", ACTION],
        _nothing,
        False,
        "--assignee 'a b' is neither",
    ),
    ("wait-words", ["check", "--wait", "abc"], _nothing, False, "'abc' is not a duration"),
    ("wait-negative", ["check", "--wait", "-5s"], _nothing, False, "'-5s' is not a duration"),
    ("wait-nan", ["check", "--wait", "nan"], _nothing, False, "'nan' is not a duration"),
    ("wait-infinite", ["check", "--wait", "inf"], _nothing, False, "'inf' is not a duration"),
    (
        "azureml-not-utf8",
        ["check"],
        _azureml(b'{"subscription_id": "\xff\xfe"}'),
        True,
        "not a readable JSON Azure ML config",
    ),
    ("azureml-bad-json", ["check"], _azureml(b"{not json"), True, "not a readable JSON Azure ML config"),
    ("azureml-not-object", ["check"], _azureml(b"[1, 2]"), True, "expected a JSON object"),
    (
        "azureml-missing-keys",
        ["check"],
        _azureml(b'{"subscription_id": 5}'),
        True,
        "missing subscription_id, resource_group, workspace_name",
    ),
    (
        "azureml-bad-subscription",
        ["check"],
        _azureml(b'{"subscription_id": "x", "resource_group": "rg", "workspace_name": "w"}'),
        True,
        "is not an Azure ML workspace id",
    ),
    (
        "workspace-flag",
        ["check", "--workspace", "nope"],
        _nothing,
        False,
        "--workspace: 'nope' is not an Azure ML workspace id",
    ),
    (
        "twin-exec-bad-json",
        ["twin", "exec", "--scenario", "scenario.json", "--", "true"],
        _scenario(b"{bad"),
        False,
        "not valid JSON",
    ),
    (
        "twin-exec-unknown-key",
        ["twin", "exec", "--scenario", "scenario.json", "--", "true"],
        _scenario(b'{"name": "x", "bogusKey": 1}'),
        False,
        "bogusKey: unknown top-level key",
    ),
    (
        "twin-exec-not-utf8",
        ["twin", "exec", "--scenario", "scenario.json", "--", "true"],
        _scenario(b'{"name": "\xff\xfe"}'),
        False,
        "not UTF-8 text",
    ),
    (
        "twin-exec-unknown-name",
        ["twin", "exec", "--scenario", "no-such-scenario", "--", "true"],
        _nothing,
        False,
        "'no-such-scenario' is neither a built-in scenario",
    ),
    ("demo-bad-json", ["demo", "--scenario", "scenario.json"], _scenario(b"{bad"), False, "not valid JSON"),
    ("demo-not-utf8", ["demo", "--scenario", "scenario.json"], _scenario(b"\xff\xfe{}"), False, "not UTF-8 text"),
    # issue 17 item 6: URLs that do not parse or carry what nobody means; ids that would rewrite ARM URLs; click's
    # own usage errors as one line. (Every URL names loopback: code that accepts them must reach nothing else.)
    (
        "endpoint-unparsable",
        ["check", "--endpoint", "https://[::1"],
        _nothing,
        False,
        "'https://[::1' is not a valid URL",
    ),
    (
        "metadata-url-unparsable",
        ["check", "--cloud-metadata-url", "https://[::1"],
        _nothing,
        False,
        "cloud metadata URL 'https://[::1' is not a valid URL",
    ),
    ("endpoint-bad-port", ["check", "--endpoint", "https://127.0.0.1:99999/"], _nothing, False, "is not a valid URL"),
    (
        "endpoint-newline",
        ["check", "--endpoint", "https://127.0.0.1:9/\nX-Injected: 1"],
        _nothing,
        False,
        "contains a control character",
    ),
    (
        "metadata-url-newline",
        ["check", "--cloud-metadata-url", "https://127.0.0.1:9/metadata\r\n"],
        _nothing,
        False,
        "contains a control character",
    ),
    (
        "endpoint-userinfo",
        ["check", "--endpoint", "https://user:hunter2@127.0.0.1:9/"],
        _nothing,
        False,
        "must not carry a user:password@",
    ),
    (
        "endpoint-fragment",
        ["check", "--endpoint", "https://127.0.0.1:9/#frag"],
        _nothing,
        False,
        "must not carry a #fragment",
    ),
    (
        "endpoint-query",
        ["check", "--endpoint", "https://127.0.0.1:9/?api-version=1"],
        _nothing,
        False,
        "must not carry a ?query",
    ),
    (
        "resource-id-query",
        [
            "check",
            "--resource-id",
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a?api-version=1&$expand=x#frag",
        ],
        _nothing,
        False,
        "is not an Azure resource id",
    ),
    (
        "resource-id-fragment",
        [
            "check",
            "--resource-id",
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a#frag",
        ],
        _nothing,
        False,
        "is not an Azure resource id",
    ),
    (
        "resource-id-dotdot",
        [
            "check",
            "--resource-id",
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/../../../../x",
        ],
        _nothing,
        False,
        "is not an Azure resource id",
    ),
    (
        "resource-id-dot",
        [
            "check",
            "--resource-id",
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/./accounts/a",
        ],
        _nothing,
        False,
        "is not an Azure resource id",
    ),
    (
        "resource-id-empty-segment",
        [
            "check",
            "--resource-id",
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts//a",
        ],
        _nothing,
        False,
        "is not an Azure resource id",
    ),
    (
        "resource-id-del",
        [
            "check",
            "--resource-id",
            f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a\x7f",
        ],
        _nothing,
        False,
        "is not an Azure resource id",
    ),
    (
        "format-unknown",
        ["check", "--format", "yaml"],
        _nothing,
        False,
        "Invalid value for '--format': 'yaml' is not one of",
    ),
    ("audit-format-unknown", ["audit", "--format", "yaml"], _nothing, False, "Invalid value for '--format'"),
    ("no-such-option", ["check", "--frobnicate"], _nothing, False, "No such option"),
    # issue 17 item 6, the rest: JSON inputs bounded in size and depth and read only from regular files; scenario
    # values checked against docs/scenario.schema.json; every ARM path option validated segment by segment.
    ("azureml-deep", ["check"], _azureml(DEEP), True, "nested more than 64 levels deep"),
    ("azureml-huge", ["check"], _azureml(b" " * 70_000 + b"{}"), True, "larger than 65536 bytes"),
    (
        "azureml-dotdot-group",
        ["check"],
        _azureml(f'{{"subscription_id": "{SUB}", "resource_group": "..", "workspace_name": "w"}}'.encode()),
        True,
        "is not an Azure ML workspace id",
    ),
    ("twin-exec-deep", ["twin", "exec", "--scenario", "scenario.json", "--", "true"], _scenario(DEEP), False, "nested"),
    ("demo-deep", ["demo", "--scenario", "scenario.json"], _scenario(DEEP), False, "nested more than 64 levels deep"),
    ("demo-dev-zero", ["demo", "--scenario", "/dev/zero"], _nothing, False, "/dev/zero: not a regular file"),
    ("twin-exec-fifo", ["twin", "exec", "--scenario", "fifo.json", "--", "true"], _fifo, False, "not a regular file"),
    (
        "twin-exec-tenant-not-string",
        ["twin", "exec", "--scenario", "scenario.json", "--", "true"],
        _scenario(b'{"tenant": {"id": 42}}'),
        False,
        "tenant.id: must be a string, not integer",
    ),
    (
        "demo-assignment-scope-not-string",
        ["demo", "--scenario", "scenario.json"],
        _scenario(
            b'{"tenant": {"id": "' + SUB.encode() + b'"}, "roleAssignments": [{"properties": {"scope": ["/"], '
            b'"principalId": "p", "roleDefinitionId": "Reader"}}]}'
        ),
        False,
        "roleAssignments[0].properties.scope: must be a string, not array",
    ),
    (
        "workspace-query",
        ["check", "--workspace", f"{WORKSPACE}?api-version=1&$expand=x#frag"],
        _nothing,
        False,
        "is not an Azure ML workspace id",
    ),
    (
        "workspace-dotdot",
        ["check", "--workspace", WORKSPACE.replace("/rg/", "/../")],
        _nothing,
        False,
        "is not an Azure ML workspace id",
    ),
    (
        "can-i-scope-query",
        [*CAN_I, "--scope", f"/subscriptions/{SUB}?api-version=1&$expand=x#frag"],
        _nothing,
        False,
        "is not an Azure scope",
    ),
    (
        "can-i-scope-dotdot",
        [*CAN_I, "--scope", f"/subscriptions/{SUB}/resourceGroups/.."],
        _nothing,
        False,
        "is not an Azure scope",
    ),
    (
        "can-i-scope-empty-segment",
        [*CAN_I, "--scope", f"/subscriptions/{SUB}/resourceGroups/rg/providers/A.B/c//d"],
        _nothing,
        False,
        "is not an Azure scope",
    ),
    (
        "can-i-scope-group-fragment",
        [*CAN_I, "--scope", "/providers/Microsoft.Management/managementGroups/corp#x"],
        _nothing,
        False,
        "is not an Azure scope",
    ),
    (
        "can-i-scope-control",
        [*CAN_I, "--scope", f"/subscriptions/{SUB}/resourceGroups/r\x01g"],
        _nothing,
        False,
        "is not an Azure scope",
    ),
    ("can-i-assignee-control", [*CAN_I, "--assignee", "a\x01b@contoso.com"], _nothing, False, "--assignee"),
    ("can-i-assignee-newline", [*CAN_I, "--assignee", "ab@contoso.com\nx"], _nothing, False, "--assignee"),
    (
        "audit-scope-query",
        ["audit", "--scope", f"/subscriptions/{SUB}/resourceGroups/rg?x=1"],
        _nothing,
        False,
        "is not an ARM scope",
    ),
    (
        "audit-scope-empty-segment",
        ["audit", "--scope", f"/subscriptions/{SUB}//resourceGroups/rg"],
        _nothing,
        False,
        "is not an ARM scope",
    ),
    (
        "audit-scope-dotdot",
        ["audit", "--scope", f"/subscriptions/{SUB}/resourceGroups/.."],
        _nothing,
        False,
        "is not an ARM scope",
    ),
    (
        "audit-scope-fragment",
        ["audit", "--scope", f"/subscriptions/{SUB}#frag"],
        _nothing,
        False,
        "is not an ARM scope",
    ),
    ("audit-subscription-query", ["audit", "--subscription", f"{SUB}?x=1"], _nothing, False, "is not a GUID"),
    # the same URL and id rules through every command's shared options
    ("can-i-endpoint-newline", [*CAN_I, "--endpoint", "https://127.0.0.1:9/\nx"], _nothing, False, "control character"),
    (
        "can-i-resource-id-dotdot",
        [*CAN_I, "--resource-id", f"/subscriptions/{SUB}/resourceGroups/rg/providers/A.B/c/../d"],
        _nothing,
        False,
        "is not an Azure resource id",
    ),
    ("can-i-workspace-fragment", [*CAN_I, "--workspace", f"{WORKSPACE}#x"], _nothing, False, "Azure ML workspace id"),
    (
        "audit-metadata-url-unparsable",
        ["audit", "--cloud-metadata-url", "https://[::1"],
        _nothing,
        False,
        "not a valid URL",
    ),
    (
        "whoami-metadata-url-userinfo",
        ["whoami", "--cloud-metadata-url", "https://u:secret@127.0.0.1:9/metadata"],
        _nothing,
        False,
        "must not carry a user:password@",
    ),
    ("audit-management-group-dotdot", ["audit", "--management-group", ".."], _nothing, False, "'..' is not valid"),
    ("audit-management-group-newline", ["audit", "--management-group", "corp\n"], _nothing, False, "is not valid"),
    ("audit-management-group-path", ["audit", "--management-group", "a/../b"], _nothing, False, "is not valid"),
]


def _run(
    twin: Twin, directory: Path, argv: list[str], setup: Setup, drop_target: bool
) -> subprocess.CompletedProcess[str]:
    setup(directory)
    env = twin.process_environment()
    for name in TARGET_VARS if drop_target else ():
        env.pop(name, None)
    return subprocess.run(
        [preflight_exe(), *argv], check=False, env=env, cwd=directory, capture_output=True, text=True, timeout=60
    )


@pytest.fixture(scope="module")
def outcomes(
    twin_session: Twin, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, subprocess.CompletedProcess[str]]:
    """All cases run at once (each ~0.2 s of interpreter start-up), so the table costs ~2 s, not ~6 s."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            case: pool.submit(_run, twin_session, tmp_path_factory.mktemp(case), argv, setup, drop)
            for case, argv, setup, drop, _ in CASES
        }
        return {case: future.result() for case, future in futures.items()}


@pytest.mark.parametrize("case,names", [(c[0], c[4]) for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_clear_line_and_exit_2(
    outcomes: dict[str, subprocess.CompletedProcess[str]], case: str, names: str
) -> None:
    proc = outcomes[case]
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stdout == ""
    # One line carries the problem ("preflight: error: …", click's usage errors included); only an indented hint
    # may follow — not click's usage block ("Usage: …", "Try …", a blank line, "Error: …").
    lines = proc.stderr.splitlines()
    assert lines and lines[0].startswith("preflight: error:") and names in lines[0], proc.stderr
    assert all(line.startswith("  ") for line in lines[1:]), proc.stderr
