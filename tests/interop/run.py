"""The interop suite: the real Azure CLI against the twin, for every built-in scenario (issue 21).

Opt-in (needs azure-cli in its own venv, ~730 MB; never part of ``pytest`` or CI)::

    python3 -m venv .venv-az && .venv-az/bin/pip install azure-cli
    AZ=$PWD/.venv-az/bin/az tools/interop.sh [--scenario healthy ...] [--report DIR] [--named-hosts]

For each scenario it signs in the scenario's identity (a fresh ``AZURE_CONFIG_DIR``; see driver.py), runs the
diagnosis commands of cases.py and compares each with what real Azure would answer that identity. It writes
``report.json`` and ``report.md`` (az version, every command, the divergences) and exits 1 when a command
diverges, 2 when it cannot run (no az). ``--named-hosts`` serves ARM, Graph and Entra under names of their own
(preflight.twin.hosts) through the twin's proxy, so az picks each request's audience by host as against Azure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ (interop, helpers)

from interop import cases as _cases
from interop import expect
from interop.driver import AzSession, az_version, quoted, refused_names
from preflight.twin import Twin
from preflight.twin.http import ARM, ENTRA, GRAPH
from preflight.twin.scenario import list_scenarios

# Sign-ins real Entra refuses for these scenarios (the twin's scenario says why); anything else must sign in.
LOGIN_REFUSED = {"sp-missing": "AADSTS700016", "sp-expired-secret": "AADSTS7000222", "sp-object-id": "AADSTS700016"}


def identities(scenario: Mapping[str, Any]) -> list[tuple[expect.Identity, dict[str, str]]]:
    """The identities a scenario signs in, each with how (``{"secret": …}`` or ``{"user": …}``)."""
    sign_in = scenario.get("signIn") or {}
    directory = scenario.get("directory") or {}
    tenant = str((scenario.get("tenant") or {}).get("id", ""))
    found: list[tuple[expect.Identity, dict[str, str]]] = []
    env = sign_in.get("environment") or {}
    if env.get("clientSecret"):
        app_id = str(env["clientId"])
        sp = next((s for s in directory.get("servicePrincipals") or () if s.get("appId") == app_id), {})
        who = expect.Identity("servicePrincipal", str(sp.get("id", "")), app_id, str(env.get("tenantId") or tenant))
        found.append((who, {"secret": str(env["clientSecret"])}))
    mi = sign_in.get("managedIdentity") or {}
    if mi.get("principalId"):
        sp = next((s for s in directory.get("servicePrincipals") or () if s.get("id") == mi["principalId"]), {})
        user_assigned = "isExplicit=True" in (sp.get("alternativeNames") or ())
        name = "userAssignedIdentity" if user_assigned else "systemAssignedIdentity"  # what az records
        who = expect.Identity("servicePrincipal", str(mi["principalId"]), name, tenant)
        found.append((who, {"identity": str(mi.get("clientId") or "") if user_assigned else ""}))
    cli = sign_in.get("azureCli") or {}
    if cli.get("loggedIn") and cli.get("user"):
        wanted = str(cli["user"]).lower()
        user = next(
            (u for u in directory.get("users") or () if wanted in (str(u.get("id")).lower(), str(u.get("userPrincipalName")).lower())),
            {},
        )  # fmt: skip
        who = expect.Identity("user", str(user.get("id", "")), str(user.get("userPrincipalName", "")), tenant)
        found.append((who, {"user": str(cli["user"])}))
    return found


def _verdict(case: _cases.Case, result: Any) -> tuple[str, list[str]]:
    """(``pass`` | ``diverge`` | ``observed``, problems)."""
    problems: list[str] = []
    if case.outcome == "ok":
        if result.exit_code != 0:
            problems.append(f"exit {result.exit_code}, want success: {result.error_text[-300:]}")
        elif case.check is not None:
            problems = case.check(result.data)
    elif case.outcome == "error":
        if result.exit_code == 0:
            problems.append(f"succeeded, want an error naming {case.code}")
        elif case.code.lower() not in result.stderr.lower():
            problems.append(f"error does not name {case.code}: {result.error_text[-300:]}")
    else:
        notes = [] if result.exit_code != 0 or case.check is None else case.check(result.data)
        return "observed", notes
    return ("pass" if not problems else "diverge"), problems


def _session(twin: Twin, az: Path, config: Path, work: Path, extension_dir: Path | None) -> AzSession:
    """An az session pointed at the twin: ARM's origin for ``az cloud register``; with named hosts, the sign-in
    host and the proxy too."""
    env = twin.environment(sign_in=False)
    session = AzSession(az, twin.server.origin(ARM), twin.ca_file, config, work / "dns.log", extension_dir)
    if twin.named_hosts:
        session.login_url, session.proxy = twin.server.origin(ENTRA), env["HTTPS_PROXY"]
    return session


def run_scenario(twin: Twin, name: str, az: Path, work: Path, extension_dir: Path | None) -> list[dict[str, Any]]:
    twin.use(name)
    scenario = twin.scenario
    faulty = bool(scenario.get("faults") or scenario.get("tokenErrors") or expect.has_deny_assignments(scenario))
    rows: list[dict[str, Any]] = []
    for index, (who, how) in enumerate(identities(scenario)):
        config = work / f"{name}-{index}"
        config.mkdir(parents=True)
        session = _session(twin, az, config, work, extension_dir)
        session.register_cloud()
        if "secret" in how:
            login = session.login_service_principal(who.name, how["secret"], who.tenant_id)
        elif "identity" in how:
            env = twin.environment(sign_in=False)
            if "IDENTITY_ENDPOINT" not in env:  # an IMDS-style identity: az would need 169.254.169.254
                continue
            login = session.login_identity(env["IDENTITY_ENDPOINT"], env["IDENTITY_HEADER"], how["identity"] or None)
        else:
            login = session.login_user(twin.refresh_token(how["user"]), who.tenant_id)
        refused = LOGIN_REFUSED.get(name) if "secret" in how else None
        login_case = _cases.Case("login", login.argv, "error" if refused else "ok", refused or "")
        if faulty:
            login_case.outcome = "observe"
        rows.append(_row(name, who, login_case, login))
        if login.exit_code != 0:
            continue
        sub = str((scenario.get("target") or {}).get("subscriptionId") or "") or None
        if sub and not expect.sees_subscription(scenario, who, sub):
            sub = None  # az login records a tenant-level account: no subscription commands to run
        origins = _cases.Origins(twin.server.origin(ARM), twin.server.origin(GRAPH), twin.named_hosts)
        for case in _cases.all_cases(scenario, who, origins, sub):
            if faulty and case.outcome != "observe":
                case.outcome, case.why = "observe", "the scenario injects faults, token errors or deny assignments"
            rows.append(_row(name, who, case, session.run(*case.argv)))
        if not faulty:
            rows.append(_cache_row(twin, session, name, who))
    return rows


def _cache_row(twin: Twin, session: AzSession, name: str, who: expect.Identity) -> dict[str, Any]:
    """MSAL serves a second ``get-access-token`` from az's cache when the token answer's ``scope`` holds the
    requested ``.default`` (real Entra's answer); a twin answer without it makes az redeem on every command."""
    session.run("account", "get-access-token", "--query", "tokenType")
    before = len(twin.requests())
    result = session.run("account", "get-access-token", "--query", "tokenType")
    redeemed = [e for e in twin.requests()[before:] if e.method == "POST" and "/oauth2/" in e.path]
    case = _cases.Case(
        "token cache (second get-access-token)",
        result.argv,
        "ok",
        check=lambda _: [f"{len(redeemed)} token request(s), want 0 (served from MSAL's cache)"] if redeemed else [],
    )
    return _row(name, who, case, result)


def _row(scenario: str, who: expect.Identity, case: _cases.Case, result: Any) -> dict[str, Any]:
    verdict, problems = _verdict(case, result)
    return {
        "scenario": scenario,
        "identity": f"{who.kind}:{who.name}",
        "case": case.name,
        "command": quoted(result.argv),
        "expected": case.outcome + (f" ({case.code})" if case.code else ""),
        "exit": result.exit_code,
        "seconds": round(result.seconds, 2),
        "verdict": verdict,
        "problems": problems,
        "why": case.why,
        "stderr": result.error_text[-400:] if result.exit_code != 0 else "",
    }


def write_report(directory: Path, meta: Mapping[str, Any], rows: list[dict[str, Any]]) -> tuple[int, int, int]:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.json").write_text(json.dumps({**meta, "results": rows}, indent=2), encoding="utf-8")
    counts = {v: sum(1 for r in rows if r["verdict"] == v) for v in ("pass", "diverge", "observed")}
    lines = [
        "# Interop report: the real Azure CLI against the twin",
        "",
        f"az {meta['az_version'].get('azure-cli', '?')} (core {meta['az_version'].get('azure-cli-core', '?')}, "
        f"extensions {meta['az_version'].get('extensions', {})}); scenarios: {len(meta['scenarios'])}; "
        f"commands: {len(rows)} — {counts['pass']} pass, {counts['diverge']} diverge, {counts['observed']} observed.",
        f"Names the DNS guard refused (never resolved, never reached): {meta['refused_names'] or 'none'}.",
        f"Requests the twin's proxy refused (never resolved, never reached): {meta.get('proxy_refused') or 'none'}.",
        "Hosts: "
        + (
            "named (management / graph / login .twin.test, through the twin's proxy)."
            if meta.get("named_hosts")
            else "one loopback origin for ARM, Graph and Entra."
        ),
        "",
        "## Divergences",
        "",
    ]
    for row in rows:
        if row["verdict"] == "diverge":
            lines.append(f"- `{row['scenario']}` {row['identity']}: `{row['command']}` — {'; '.join(row['problems'])}")
    lines += ["", "## Observed (not asserted)", ""]
    for row in rows:
        if row["verdict"] == "observed":
            lines.append(f"- `{row['scenario']}` `{row['command']}` → exit {row['exit']} {row['why']}")
    (directory / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return counts["pass"], counts["diverge"], counts["observed"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--az", default=os.environ.get("AZ", ""), help="path to az (default: $AZ)")
    parser.add_argument("--scenario", action="append", help="a built-in scenario (repeatable; default: all)")
    parser.add_argument("--report", default="interop-report", help="directory for report.json / report.md")
    parser.add_argument("--extension-dir", default=os.environ.get("AZ_EXTENSION_DIR", ""))
    parser.add_argument("--named-hosts", action="store_true", help="ARM, Graph, Entra under names of their own")
    args = parser.parse_args(argv)
    az = Path(args.az)
    if not args.az or not az.is_file():
        print("interop: set AZ=/path/to/az (python3 -m venv .venv-az && .venv-az/bin/pip install azure-cli)")
        return 2
    names = args.scenario or [str(n) for n in list_scenarios()]
    extension_dir = Path(args.extension_dir) if args.extension_dir else None
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="interop-") as tmp, Twin(names[0], named_hosts=args.named_hosts) as twin:
        work = Path(tmp)
        probe = _session(twin, az, work, work, extension_dir)
        version = az_version(az, probe.environment())
        for name in names:
            rows += run_scenario(twin, name, az, work, extension_dir)
            done = [r for r in rows if r["scenario"] == name]
            diverged = sum(1 for r in done if r["verdict"] == "diverge")
            print(f"interop: {name}: {len(done)} commands, {diverged} diverge", flush=True)
            meta = {
                "az_version": version,
                "scenarios": names,
                "named_hosts": args.named_hosts,
                "refused_names": refused_names(work / "dns.log"),
                "proxy_refused": sorted(set(twin.proxy_refused())),
                "twin_errors": twin.errors(),
            }
            passed, diverged, observed = write_report(Path(args.report), meta, rows)  # after each: a partial run
        errors = twin.errors()
    print(f"interop: az {version.get('azure-cli', '?')}: {passed} pass, {diverged} diverge, {observed} observed")
    print(f"interop: report in {Path(args.report).resolve()}/report.md")
    return 1 if diverged or errors else 0


if __name__ == "__main__":
    sys.exit(main())
