"""A stand-in ``az`` for the process under test, answering like the real Azure CLI from the twin's state.

``AzureCliCredential`` runs ``az account get-access-token --output json --resource R [--tenant T]
[--subscription S]`` (found on ``PATH``, cwd ``/bin``, 10 s timeout) and parses ``accessToken`` plus
``expires_on`` (or ``expiresOn``); it recognises "not logged in" from stderr mentioning ``az login`` *without*
an ``AADSTS`` code. The real CLI takes ~0.5 s per call and needs a login against a real cloud, so the twin writes
a tiny Python ``az`` (shebang = the running interpreter, so it works in any venv) into a directory it
controls. The script forwards its argv to the twin's ``POST /_twin/az`` endpoint (service ``twin``); the twin
answers ``{"exitCode", "stdout", "stderr"}`` from the scenario's ``signIn.azureCli`` — so swapping the scenario
changes the CLI's login state with no file to rewrite.

Supported: ``az account get-access-token`` (``--resource``, ``--resource-type arm|ms-graph``, ``--scope`` …,
``--tenant``/``-t``, ``--subscription``/``-s``, ``--output``/``-o`` json|tsv|none), ``az account show``,
``az --version``.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from preflight.twin import entra, signin, tokens
from preflight.twin.http import TWIN, Router, TwinRequest, TwinResponse, TwinState

SHIM_PATH = "/_twin/az"
NOT_LOGGED_IN = "ERROR: Please run 'az login' to setup account.\n"
DEFAULT_RESOURCE = "https://management.core.windows.net/"
CLI_VERSION = "2.91.0"
# `--resource-type` values (the ones a preflight user would plausibly pass) and the resource each stands for.
RESOURCE_TYPES = {"arm": "https://management.core.windows.net/", "ms-graph": "https://graph.microsoft.com/"}

_SCRIPT = '''#!{python}
"""az, as answered by the azure-preflight twin at {base_url} (generated; do not edit)."""
import json, ssl, sys, urllib.request

def main():
    body = json.dumps({{"argv": sys.argv[1:]}}).encode()
    request = urllib.request.Request({url!r}, data=body, method="POST",
                                     headers={{"Content-Type": "application/json"}})
    context = ssl.create_default_context(cafile={ca_file!r})
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            answer = json.loads(response.read().decode("utf-8"))
    except Exception as exc:  # the twin is gone: fail like a CLI that cannot reach its cloud
        sys.stderr.write("ERROR: cannot reach the Azure twin: %s\\n" % exc)
        return 1
    sys.stdout.write(answer.get("stdout", ""))
    sys.stderr.write(answer.get("stderr", ""))
    return int(answer.get("exitCode", 1))

sys.exit(main())
'''


def write_shim(directory: Path, base_url: str, ca_file: Path) -> Path:
    """Write the ``az`` executable into ``directory`` (created if needed) and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "az"
    path.write_text(
        _SCRIPT.format(python=sys.executable, base_url=base_url, url=base_url + SHIM_PATH, ca_file=str(ca_file)),
        encoding="utf-8",
    )
    path.chmod(0o755)
    return path


# ---------------------------------------------------------------------------------------------- argv parsing


class UsageError(Exception):
    pass


def parse_options(args: Sequence[str]) -> dict[str, list[str]]:
    """``--opt v1 v2 -x v`` → ``{"opt": [v1, v2], "x": [v]}`` (knack-style multi-value options)."""
    options: dict[str, list[str]] = {}
    current: str | None = None
    for arg in args:
        if arg.startswith("-") and not re.fullmatch(r"-\d+", arg):
            name, _, inline = arg.lstrip("-").partition("=")
            current = name
            options.setdefault(current, [])
            if inline:
                options[current].append(inline)
        elif current is None:
            raise UsageError(f"unrecognized arguments: {arg}")
        else:
            options[current].append(arg)
    return options


def _one(options: Mapping[str, list[str]], *names: str) -> str | None:
    for name in names:
        if name in options:
            return options[name][0] if options[name] else ""
    return None


# ---------------------------------------------------------------------------------------------- answers


class Answer:
    def __init__(self, exit_code: int = 0, stdout: str = "", stderr: str = "", principal: str | None = None):
        self.exit_code, self.stdout, self.stderr, self.principal = exit_code, stdout, stderr, principal


def _error(text: str, code: int = 1) -> Answer:
    return Answer(code, "", text if text.endswith("\n") else text + "\n")


def _aad_failure(description: str, scope: str) -> Answer:
    # What azure-cli prints when MSAL returns an error for a silent token request.
    text = description.replace("\r\n", "\n")
    return _error(f"ERROR: {text}\nInteractive authentication is needed. Please run:\naz login --scope {scope}")


def _render(payload: Mapping[str, Any], output: str) -> str:
    if output == "none":
        return ""
    if output in ("tsv",):
        return "\t".join("" if v is None else str(v) for v in payload.values()) + "\n"
    return json.dumps(payload, indent=2) + "\n"


def _login(state: TwinState) -> Mapping[str, Any] | None:
    cli = signin.section(state.scenario, "azureCli")
    return cli if cli and cli.get("loggedIn") else None


def _subscription(state: TwinState, cli: Mapping[str, Any]) -> Mapping[str, Any]:
    wanted = str(cli.get("subscriptionId") or "").lower()
    subs = [s for s in state.scenario.get("subscriptions") or () if isinstance(s, Mapping)]
    for sub in subs:
        if str(sub.get("subscriptionId", "")).lower() == wanted:
            return sub
    if not wanted and subs:
        return subs[0]
    return {"subscriptionId": cli.get("subscriptionId") or "", "displayName": "", "state": "Enabled"}


def _tenant_id(state: TwinState, cli: Mapping[str, Any]) -> str:
    return str(cli.get("tenantId") or entra.tenant_id_of(state.scenario.get("tenant") or {}))


def _identity(state: TwinState, cli: Mapping[str, Any]) -> tuple[str, Mapping[str, Any] | None]:
    """``("user", user)`` or ``("servicePrincipal", sp)``; the object is ``None`` if the directory lacks it."""
    if cli.get("servicePrincipal"):
        return "servicePrincipal", entra.find_service_principal(state.scenario, app_id=str(cli["servicePrincipal"]))
    return "user", entra.find_user(state.scenario, str(cli.get("user", "")))


def account_show(state: TwinState, options: Mapping[str, list[str]]) -> Answer:
    cli = _login(state)
    if cli is None:
        return _error(NOT_LOGGED_IN)
    kind, obj = _identity(state, cli)
    sub = _subscription(state, cli)
    tenant = state.scenario.get("tenant") or {}
    name = (obj or {}).get("userPrincipalName") if kind == "user" else (obj or {}).get("appId")
    payload = {
        "environmentName": "AzureCloud",
        "homeTenantId": _tenant_id(state, cli),
        "id": sub.get("subscriptionId", ""),
        "isDefault": True,
        "managedByTenants": [],
        "name": sub.get("displayName", ""),
        "state": sub.get("state", "Enabled"),
        "tenantDefaultDomain": tenant.get("defaultDomain", ""),
        "tenantDisplayName": tenant.get("displayName", ""),
        "tenantId": _tenant_id(state, cli),
        "user": {"name": name or cli.get("user") or cli.get("servicePrincipal"), "type": kind},
    }
    return Answer(0, _render(payload, _one(options, "output", "o") or "json"))


def get_access_token(state: TwinState, options: Mapping[str, list[str]]) -> Answer:
    cli = _login(state)
    if cli is None:
        return _error(NOT_LOGGED_IN)
    scopes = options.get("scope") or []
    resource = _one(options, "resource") or ""
    resource_type = _one(options, "resource-type")
    if resource_type is not None:
        if resource_type not in RESOURCE_TYPES:
            return _error(
                f"ERROR: argument --resource-type: invalid choice: '{resource_type}' (choose from "
                f"{', '.join(repr(k) for k in RESOURCE_TYPES)})",
                2,
            )
        if resource or scopes:
            return _error("ERROR: usage error: --resource/--resource-type/--scope are mutually exclusive", 2)
        resource = RESOURCE_TYPES[resource_type]
    if scopes and resource:
        return _error("ERROR: usage error: --resource/--resource-type/--scope are mutually exclusive", 2)
    if scopes:
        scope = scopes[0]
        audience = scope.removesuffix("/.default")
    else:
        audience = resource or DEFAULT_RESOURCE
        scope = audience + "/.default"
    kind, obj = _identity(state, cli)
    requested_tenant = _one(options, "tenant", "t")
    home = _tenant_id(state, cli)
    names = [str(cli.get("user") or cli.get("servicePrincipal") or "")]
    if obj:
        names += [str(obj.get("id", "")), str(obj.get("userPrincipalName") or obj.get("appId") or "")]
    forced = entra.forced_error(
        state,
        client_id=tokens.AZURE_CLI_APP_ID if kind == "user" else str(cli.get("servicePrincipal")),
        principals=names,
        scope=scope,
        grant_type="refresh_token" if kind == "user" else "client_credentials",
    )
    if forced is not None:
        body = forced.body
        if isinstance(body, Mapping):
            return _aad_failure(str(body.get("error_description") or body.get("error") or ""), scope)
        return _error(f"ERROR: {body}")
    token_tenant = home
    try:
        if requested_tenant:
            where, tenant = entra.resolve_tenant(state.scenario, requested_tenant)
            if where == "unknown":
                raise entra.unknown_tenant(requested_tenant)
            if tenant is not None and requested_tenant.lower() not in ("organizations", "common"):
                token_tenant = entra.tenant_id_of(tenant)  # a domain name resolves to the tenant's GUID
            if where == "other" and token_tenant.lower() != home.lower():  # not the tenant az is signed into
                if kind == "user":
                    raise entra.EntraError(
                        400,
                        50020,
                        "invalid_grant",
                        (
                            f"User account '{cli.get('user')}' from identity provider "
                            f"'https://sts.windows.net/{home}/' does not exist in tenant "
                            f"'{entra.tenant_display_name(tenant)}' and cannot access the application "
                            f"'{tokens.AZURE_CLI_APP_ID}'(Microsoft Azure CLI) in that tenant. The account "
                            "needs to be added as an external user in the tenant first. Sign out and sign in again "
                            "with a different Microsoft Entra user account."
                        ),
                    )
                raise entra.app_not_found(str(cli.get("servicePrincipal")), tenant)
        if obj is None:
            if kind == "user":
                raise entra.EntraError(
                    400,
                    50034,
                    "invalid_grant",
                    (
                        f"The user account {cli.get('user')} does not exist in the {home} directory. To sign into "
                        "this application, the account must be added to the directory."
                    ),
                )
            raise entra.app_not_found(str(cli.get("servicePrincipal")), state.scenario.get("tenant"))
        if kind == "user" and obj.get("accountEnabled") is False:
            raise entra.EntraError(
                400,
                50057,
                "invalid_grant",
                ("The user account is disabled. The account has been disabled by an administrator."),
            )
        if kind == "user" and cli.get("refreshTokenExpired"):
            raise entra.refresh_token_expired(state.now() - 91 * 86400)
        if not entra.resource_known(state, audience):
            raise entra.resource_not_found(audience, state.scenario.get("tenant"))
    except entra.EntraError as exc:
        return _aad_failure(str(exc.body(state, None)["error_description"]), scope)
    if kind == "user":
        # The token comes from the tenant the CLI is signed into (or the one asked for with --tenant).
        token, claims = entra.mint_user_token(state, obj, audience, tenant_id=token_tenant)
    else:
        token, claims = entra.mint_app_token(state, obj, audience, appidacr="1")
    exp = int(claims["exp"])
    payload: dict[str, Any] = {
        "accessToken": token,
        # A naive local time, as the real CLI prints it (azure-identity falls back to it without expires_on).
        "expiresOn": _dt.datetime.fromtimestamp(exp).strftime("%Y-%m-%d %H:%M:%S.%f"),
        "expires_on": exp,
    }
    if not requested_tenant:
        payload["subscription"] = _one(options, "subscription", "s") or _subscription(state, cli).get(
            "subscriptionId", ""
        )
    payload.update(tenant=token_tenant, tokenType="Bearer")
    return Answer(0, _render(payload, _one(options, "output", "o") or "json"), principal=str(obj.get("id", "")))


def run(state: TwinState, argv: Sequence[str]) -> Answer:
    """Answer one ``az`` invocation."""
    args = [a for a in argv if a not in ("--only-show-errors", "--debug", "--verbose")]
    if not args or args[0] in ("--version", "version"):
        return Answer(
            0,
            f"azure-cli                         {CLI_VERSION}\n\ncore                              "
            f"{CLI_VERSION}\n\nPython location '{sys.executable}'\n",
        )
    try:
        if args[:2] == ["account", "get-access-token"]:
            return get_access_token(state, parse_options(args[2:]))
        if args[:2] == ["account", "show"]:
            return account_show(state, parse_options(args[2:]))
    except UsageError as exc:
        return _error(f"ERROR: {exc}", 2)
    return _error(f"ERROR: '{' '.join(args[:2])}' is misspelled or not recognized by the system.", 2)


def shim_endpoint(state: TwinState, request: TwinRequest, match: re.Match[str]) -> TwinResponse:
    argv = [str(a) for a in (request.json() or {}).get("argv", [])]
    answer = run(state, argv)
    server: Any = state
    with server.store_lock:
        server.store.setdefault("az_calls", []).append(argv)
    return TwinResponse.json(
        200,
        {"exitCode": answer.exit_code, "stdout": answer.stdout, "stderr": answer.stderr},
        principal=answer.principal,
    )


def register(router: Router) -> None:
    router.add("POST", re.escape(SHIM_PATH), TWIN)(shim_endpoint)
