"""Secret hygiene canary sweep (issue 10): plant canary secrets — a client secret, a certificate's private key,
a federated assertion, the managed-identity header — sign in with them against the twin, healthy and failing
(wrong secret, a secret in AZURE_CLIENT_ID, expired secret, unregistered certificate, federated subject mismatch,
MFA required) and, against an Entra that quotes what it was sent, with a trailing-newline secret, a secret
quoted URL-encoded and JSON-escaped and an opaque federated assertion (issue 17), and search
every byte the tool wrote — every report format, stdout, ``-v`` logs on stderr, the GitHub step summary — plus
the twin's JSONL request log for each canary, for every token the twin issued during the sweep, and for
anything shaped like a JWT. None may appear; where the product shows a secret it shows it masked.

Fast by construction: one dedicated twin (with a JSONL request log) for the whole module; per scenario one
in-process run rendered in every format (terse and verbose) from the same Report, and the CLI subprocesses —
needed for the ``-v`` logs — started together so they overlap.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from helpers.canaries import (
    Canary,
    encoded_canary,
    find_leaks,
    for_private_key,
    for_secret,
    for_token,
    jwt_shaped,
    opaque_canary,
    secret_canary,
)
from helpers.cli import clean_env
from helpers.cli_driver import CliDriver
from helpers.readonly import violations
from helpers.twin_fixtures import apply_environment, core_scenario

from preflight import reports
from preflight.engine import RunOptions
from preflight.redact import looks_like_secret
from preflight.run import CheckOptions, run
from preflight.target import build_target
from preflight.twin import Twin
from preflight.twin.scenario import builtin_scenario_text

APP = "c1c1c1c1-0000-4000-8000-0000000000c1"
TENANT = "11111111-1111-4111-8111-111111111111"
CHAT = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
# Every --output extension the CLI knows, so one `check` writes every file format (github goes to stdout).
OUTPUT_FILES = ("report.json", "report.html", "report.md", "report.xml", "report.sarif", "report.csv", "report.txt")
MASKED = "set ({n} characters, hidden)"


def _builtin(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(builtin_scenario_text(name))
    return doc


def _secret_scenario(signin_secret: str, registered: str, *, expired: bool = False) -> dict[str, Any]:
    """The service principal of ``principal-secret-expiring`` (it may read its own app registration, so
    principal.credentials shows its secrets' metadata) signing in with ``signin_secret``."""
    doc = _builtin("sp-expired-secret" if expired else "principal-secret-expiring")
    app = doc["directory"]["applications"][0]
    cred = app["passwordCredentials"][0]
    cred["x-twin-secretText"], cred["hint"] = registered, registered[:3]
    doc["signIn"]["environment"]["clientSecret"] = signin_secret
    # on an App Service host with an identity: its IDENTITY_HEADER (a secret) is in the environment too, and must
    # be masked like the rest (the twin sets it only where the scenario has a managed identity, issue 19)
    doc["signIn"]["managedIdentity"] = {"style": "appService"}
    return doc


def _swapped_scenario(secret: str) -> dict[str, Any]:
    """AZURE_CLIENT_ID and AZURE_CLIENT_SECRET swapped: the secret sits in the id variable, where env.config
    would show it and Entra quotes it back (AADSTS700016 "Application with identifier '<secret>'")."""
    doc = _secret_scenario(APP, secret)
    doc["signIn"]["environment"]["clientId"] = secret
    return doc


def _certificate_scenario(*, registered: bool) -> dict[str, Any]:
    """The same principal signing in with a certificate (AZURE_CLIENT_CERTIFICATE_PATH); unregistered →
    the twin hands out a stray certificate and answers AADSTS700027."""
    doc = _builtin("principal-secret-expiring")
    doc["directory"]["applications"][0]["keyCredentials"] = [{"x-twin-generate": True}] if registered else []
    doc["signIn"]["environment"] = {"clientId": APP, "tenantId": TENANT, "certificate": True}
    return doc


def _workload_scenario(*, matching: bool) -> dict[str, Any]:
    doc = _builtin("principal-federated-mismatch")
    if matching:
        doc["signIn"]["workloadIdentity"]["subject"] = "repo:contoso/ai-app:ref:refs/heads/main"
        doc["signIn"]["azureCli"] = None  # so the federated credential is the one that signs in
    return doc


def _echoing_entra(doc: dict[str, Any], code: int, message: str) -> dict[str, Any]:
    """``doc`` with every token request answered by an Entra error quoting ``message`` (what it was sent)."""
    body = {"error": "invalid_client", "error_description": f"AADSTS{code}: {message}", "error_codes": [code]}
    doc["faults"] = [{"match": {"service": "entra", "method": "POST", "path": "/token"}, "status": 401, "body": body}]
    return doc


@dataclass
class Case:
    """One sign-in situation: its scenario (given the case's planted secrets), the commands run, and the
    AADSTS code (or status) the JSON report must show, which proves the failure path really ran."""

    name: str
    scenario: Callable[[dict[str, str]], dict[str, Any]]
    expect: str
    probe: bool = False
    commands: tuple[str, ...] = ("check", "whoami")
    planted: dict[str, str] = field(default_factory=dict)
    opaque_assertion: bool = False  # replace the federated token file's JWT with planted["assertion"]


CASES = (
    Case(
        "secret-ok",
        lambda s: _secret_scenario(s["secret"], s["secret"]),
        '"status": "pass"',
        commands=("check", "whoami", "audit", "can-i"),
    ),
    Case(
        "secret-wrong",
        lambda s: _secret_scenario(s["secret"], s["registered"]),
        "7000215",
        commands=("check", "whoami", "audit", "can-i"),
    ),
    Case(
        "client-id-swapped",
        lambda s: _swapped_scenario(s["secret"]),
        "700016",
        commands=("check", "whoami", "audit", "can-i"),
    ),
    Case("secret-expired", lambda s: _secret_scenario(s["secret"], s["secret"], expired=True), "7000222"),
    Case(
        "certificate-ok",
        lambda s: _certificate_scenario(registered=True),
        '"status": "pass"',
        commands=("check", "whoami", "can-i"),
    ),
    Case("certificate-unregistered", lambda s: _certificate_scenario(registered=False), "700027"),
    Case("federated-ok", lambda s: _workload_scenario(matching=True), '"status": "pass"'),
    Case(
        "federated-mismatch",
        lambda s: _workload_scenario(matching=False),
        "70021",
        commands=("check", "whoami", "can-i"),
    ),
    Case("mfa-required", lambda s: _builtin("mfa-required"), "50076", commands=("check", "whoami", "audit")),
    Case("healthy-probe", lambda s: _builtin("healthy"), '"status": "pass"', probe=True),
    # Issue 17 item 4, against an Entra that quotes what it was sent (as AADSTS700016 quotes a client id; a proxy
    # or a future message may quote more): a secret read from a file or a Kubernetes secret ends in a newline
    # the quote drops; a federated assertion need not be a JWT; a quote may be URL-encoded or JSON-escaped.
    Case(
        "secret-trailing-newline",
        lambda s: _echoing_entra(
            _secret_scenario(s["secret"] + "\n", s["registered"]),
            7000215,
            f"Invalid client secret provided: '{s['secret']}'.",
        ),
        "7000215",
        commands=("check", "whoami", "audit", "can-i"),
    ),
    Case(
        "client-id-swapped-newline",
        lambda s: _swapped_scenario(s["secret"] + "\n"),
        "700016",
        commands=("check", "whoami", "can-i"),
    ),
    Case(
        "client-id-swapped-encoded",
        lambda s: _echoing_entra(
            _swapped_scenario(s["encoded"]),
            700016,
            f"Application with identifier '{quote(s['encoded'], safe='')}' was not found; "
            f"request {json.dumps({'client_id': s['encoded']})}.",
        ),
        "700016",
        commands=("check", "whoami", "can-i"),
    ),
    Case(
        "federated-opaque",
        lambda s: _echoing_entra(
            _workload_scenario(matching=True), 50027, f"JWT token is invalid or malformed: '{s['assertion']}'."
        ),
        "50027",
        opaque_assertion=True,
        commands=("check", "whoami", "can-i"),
    ),
)


def _argv(command: str, out: Path) -> list[str]:
    if command == "check":
        files = [arg for name in OUTPUT_FILES for arg in ("--output", str(out / name))]
        return ["check", "-v", "--debug", "--format", "github", "--fail-on", "never", *files]
    if command == "audit":
        files = [
            arg for name in OUTPUT_FILES if name != "report.csv" for arg in ("--output", str(out / f"audit-{name}"))
        ]
        return ["audit", "-v", "--debug", "--format", "csv", "--fail-on", "never", *files]
    if command == "whoami":
        return ["whoami", "-v", "--debug", "--format", "json"]
    return ["can-i", "-v", "--debug", "--format", "json", CHAT]


@dataclass
class Sweep:
    """Everything the sweep wrote (name → text), the canaries, the per-case JSON reports, the twin's log."""

    corpus: dict[str, str] = field(default_factory=dict)
    canaries: list[Canary] = field(default_factory=list)
    json_reports: dict[str, dict[str, Any]] = field(default_factory=dict)
    planted: dict[str, dict[str, str]] = field(default_factory=dict)
    exit_codes: dict[str, int] = field(default_factory=dict)
    tokens: tuple[str, ...] = ()
    read_only_violations: list[str] = field(default_factory=list)
    twin_errors: list[str] = field(default_factory=list)
    sent_to_entra: int = 0
    client_ids_sent: dict[str, str] = field(default_factory=dict)  # swapped cases: what AZURE_CLIENT_ID held


def _entra_client_ids_removed(jsonl: str, client_ids: frozenset[str]) -> tuple[str, int]:
    """The twin's log with the swapped case's client id taken out of Entra token requests (``extra.client_id``):
    Entra is the one party that must receive what AZURE_CLIENT_ID holds, and the twin logs it as Entra's sign-in
    log would. Everything else in the log is searched; returns how many requests carried it."""
    lines, count = [], 0
    for line in jsonl.splitlines():
        entry = json.loads(line)
        extra = entry.get("extra") or {}
        if entry.get("service") == "entra" and entry.get("method") == "POST" and extra.get("client_id") in client_ids:
            extra["client_id"] = "<client id sent to Entra>"
            count += 1
        lines.append(json.dumps(entry))
    return "\n".join(lines), count


def _read(path: Path) -> str:
    # every byte: latin-1 maps each byte to one character, so nothing is dropped by decoding
    return path.read_bytes().decode("latin-1")


def _in_process(twin: Twin, case: Case, sweep: Sweep, overrides: Mapping[str, str]) -> None:
    """One library run, rendered by every registered format, terse and verbose, from the same Report."""
    with pytest.MonkeyPatch.context() as mp:
        apply_environment(mp, {**twin.environment(), **overrides})
        target = build_target(dict(os.environ))
        report = run(CheckOptions(target, probe=case.probe, engine=RunOptions(timeout=30, deadline=60)))
    for name in reports.FORMATS:
        renderer = reports.get(name)
        for verbose in (False, True):
            text = renderer.render(report, reports.RenderOptions(verbose=verbose))
            sweep.corpus[f"{case.name}/in-process.{name}{'.v' if verbose else ''}"] = text


def _plant_refresh_token(twin: Twin, env_vars: Mapping[str, str], case: Case) -> None:
    """Where a real ``az login`` keeps its refresh token (MSAL's cache in AZURE_CONFIG_DIR), put one the twin
    issued for the signed-in user: preflight reads the CLI's config directory and must never echo it."""
    cli = (twin.scenario.get("signIn") or {}).get("azureCli") or {}
    if not cli.get("user"):
        return
    token = twin.refresh_token(str(cli["user"]))
    cache = {
        "RefreshToken": {
            f"{case.name}-rt": {
                "credential_type": "RefreshToken",
                "secret": token,
                "client_id": "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
                "home_account_id": "alice",
                "environment": "login.twin",
            }
        }
    }
    Path(env_vars["AZURE_CONFIG_DIR"], "msal_token_cache.json").write_text(json.dumps(cache), "utf-8")


def _run_case(twin: Twin, driver: CliDriver, case: Case, root: Path, sweep: Sweep) -> None:
    planted = {
        "secret": secret_canary("secret", 1),
        "registered": secret_canary("registered", 2),
        "encoded": encoded_canary(3),
        "assertion": opaque_canary(),
    }
    sweep.planted[case.name] = planted
    twin.use(case.scenario(planted))
    env_vars = twin.environment()
    out = root / case.name
    out.mkdir()
    overrides: dict[str, str] = {}
    if case.opaque_assertion:  # a file of our own (the twin rewrites its token file on every environment()),
        opaque = root / f"{case.name}-federated-token"  # outside `out`, whose files are all searched
        opaque.write_text(planted["assertion"] + "\n", "utf-8")
        overrides["AZURE_FEDERATED_TOKEN_FILE"] = str(opaque)
        env_vars = {**env_vars, **overrides}
    if looks_like_secret(env_vars.get("AZURE_CLIENT_ID", "")):
        sweep.client_ids_sent[case.name] = env_vars["AZURE_CLIENT_ID"]
    _plant_refresh_token(twin, env_vars, case)
    sweep.canaries += [for_secret(f"{case.name}:{k}", v) for k, v in planted.items()]
    if "IDENTITY_HEADER" in env_vars:  # set only where the scenario has a managed identity (issue 19)
        sweep.canaries.append(for_secret("IDENTITY_HEADER", env_vars["IDENTITY_HEADER"]))
    if "AZURE_CLIENT_CERTIFICATE_PATH" in env_vars:
        pem = Path(env_vars["AZURE_CLIENT_CERTIFICATE_PATH"]).read_text("utf-8")
        sweep.canaries.append(for_private_key(f"{case.name}:certificate private key", pem))
    if "AZURE_FEDERATED_TOKEN_FILE" in env_vars:
        assertion = Path(env_vars["AZURE_FEDERATED_TOKEN_FILE"]).read_text("utf-8").strip()
        sweep.canaries.append(for_token(f"{case.name}:federated assertion", assertion))

    summary = out / "github-step-summary.md"
    env = {**twin.process_environment(clean_env({"GITHUB_STEP_SUMMARY": str(summary), "NO_COLOR": "1"})), **overrides}

    def commands() -> None:
        for command in case.commands:
            argv = _argv(command, out) + (["--probe"] if case.probe and command == "check" else [])
            outcome = driver.run(argv, env, out)
            sweep.exit_codes[f"{case.name}/{command}"] = outcome.code
            sweep.corpus[f"{case.name}/{command}.stdout"] = outcome.stdout
            sweep.corpus[f"{case.name}/{command}.stderr (-v)"] = outcome.stderr

    # The CLI runs in the driver's interpreter while this one renders its own run: two cores, half the wall time.
    with ThreadPoolExecutor(1) as pool:
        cli_done = pool.submit(commands)
        _in_process(twin, case, sweep, overrides)
        cli_done.result(timeout=300)
    for path in sorted(out.rglob("*")):
        if path.is_file():
            sweep.corpus[f"{case.name}/{path.name}"] = _read(path)
    sweep.json_reports[case.name] = json.loads((out / "report.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sweep]:
    root = tmp_path_factory.mktemp("canaries")
    log_path = root / "twin-requests.jsonl"
    result = Sweep()
    with Twin(core_scenario(), request_log_path=str(log_path)) as twin, CliDriver(clean_env()) as driver:
        for case in CASES:
            _run_case(twin, driver, case, root, result)
        result.tokens = twin.issued_tokens()
        result.read_only_violations = violations(twin.all_requests())
        result.twin_errors = twin.errors()
    swapped = frozenset(result.client_ids_sent.values())
    result.corpus["twin request log (JSONL)"], result.sent_to_entra = _entra_client_ids_removed(
        _read(log_path), swapped
    )
    result.canaries += [for_token(f"issued token #{i}", t) for i, t in enumerate(result.tokens)]
    yield result


def test_the_sweep_really_ran_every_path(sweep: Sweep) -> None:
    """A sweep that silently ran nothing would find nothing: every case produced its report, the failing ones
    failed for the planted reason, every format was written, and the twin issued tokens to search for."""
    assert sweep.twin_errors == []
    for case in CASES:
        text = json.dumps(sweep.json_reports[case.name], indent=2)
        assert case.expect in text, f"{case.name}: expected {case.expect!r} in its JSON report"
        for name in OUTPUT_FILES:
            assert sweep.corpus[f"{case.name}/{name}"].strip(), f"{case.name}: {name} is empty"
        assert sweep.corpus[f"{case.name}/check.stdout"].strip(), f"{case.name}: no github output"
        assert sweep.corpus[f"{case.name}/github-step-summary.md"].strip()
        # -v really logged the HTTP traffic (where a secret in a request would show)
        assert "Request URL" in sweep.corpus[f"{case.name}/check.stderr (-v)"]
        for command in case.commands:
            assert sweep.exit_codes[f"{case.name}/{command}"] in (0, 1, 3), f"{case.name}/{command}"
    assert {"audit", "can-i", "whoami"} <= {c for case in CASES for c in case.commands}
    access = [t for t in sweep.tokens if t.count(".") == 2]
    refresh = [t for t in sweep.tokens if t.startswith("1.")]
    assert len(access) >= 20 and refresh, (len(access), len(refresh))
    assert sum(c.name.endswith("certificate private key") for c in sweep.canaries) == 2
    assert sum(c.name.endswith("federated assertion") for c in sweep.canaries) == 3
    assert sweep.sent_to_entra >= 1  # the swapped case really signed in with the secret as client id
    assert "twin request log (JSONL)" in sweep.corpus and sweep.corpus["twin request log (JSONL)"].count("\n") > 100


def test_no_canary_appears_in_any_output(sweep: Sweep) -> None:
    leaks = find_leaks(sweep.corpus, sweep.canaries)
    assert leaks == [], "secrets leaked:\n" + "\n".join(leaks[:40])


def test_nothing_shaped_like_a_jwt_appears(sweep: Sweep) -> None:
    found = {where: jwt_shaped(text) for where, text in sweep.corpus.items()}
    found = {where: hits for where, hits in found.items() if hits}
    assert found == {}, "JWT-shaped text:\n" + "\n".join(f"{w}: {h[:2]}" for w, h in list(found.items())[:20])


def _evidence(report: Mapping[str, Any], check_id: str) -> list[Any]:
    return [e for r in report["results"] if r["check_id"] == check_id for e in r.get("evidence", [])]


def test_secrets_shown_in_evidence_are_masked(sweep: Sweep) -> None:
    """env.config shows the secret variables only as "set (N characters, hidden)"; principal.credentials shows
    a secret by the three-character hint Graph keeps — never more than "abc…xyz (40 chars)" would."""
    for case in ("secret-ok", "secret-wrong", "secret-expired"):
        report = sweep.json_reports[case]
        text = json.dumps(_evidence(report, "env.config"))
        secret = sweep.planted[case]["secret"]
        assert MASKED.format(n=len(secret)) in text, f"{case}: AZURE_CLIENT_SECRET not shown masked: {text[:400]}"
        assert MASKED.format(n=32) in text, f"{case}: IDENTITY_HEADER not shown masked"
    swapped = json.dumps(_evidence(sweep.json_reports["client-id-swapped"], "env.config"))
    assert f'"AZURE_CLIENT_ID": "{MASKED.format(n=40)}"' in swapped, swapped[:400]
    creds = json.dumps(_evidence(sweep.json_reports["secret-ok"], "principal.credentials"))
    hint = sweep.planted["secret-ok"]["secret"][:3]
    assert f'"hint": "{hint}"' in creds, creds[:400]


def test_the_twin_stayed_read_only(sweep: Sweep) -> None:
    assert sweep.read_only_violations == []


# -- the detector itself: it must catch what it is for ---------------------------------------------------------


def test_detector_catches_a_cut_or_encoded_secret() -> None:
    secret = secret_canary("x")
    canary = for_secret("s", secret)
    assert find_leaks({"a": f"oops {secret[5:14]} …"}, [canary])
    assert find_leaks({"a": "x=" + secret.replace("~", "%7E")}, [canary])
    assert find_leaks({"a": f"<td>{secret}</td>"}, [canary])
    assert not find_leaks({"a": f"hint '{secret[:3]}', {MASKED.format(n=40)}, {secret[:3]}…{secret[-3:]}"}, [canary])


def test_detector_finds_jwt_shapes_but_not_dotted_names() -> None:
    jwt = (
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tIn0."
        "c2lnbmF0dXJlLWJ5dGVzLWhlcmU"
    )
    assert jwt_shaped(f"Bearer {jwt} trailing")
    assert jwt_shaped(f"cut: {jwt[:60]}")  # header + start of the claims
    assert not jwt_shaped("azure.core.pipeline.policies.http_logging_policy contoso-openai.openai.azure.com")
    assert not jwt_shaped("preflight.checks.signin_checks.something_longer Microsoft.CognitiveServices.accounts")
