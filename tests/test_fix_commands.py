"""Every fix command a built-in scenario prints is the one real Azure needs, and safe to paste (issue 19 item 3).

For each built-in scenario (run as ``preflight demo`` runs it: every check, ``--probe`` when the scenario asks for
it) the commands of every remediation are parsed as argv with :func:`shlex.split` and compared with the exact
command the scenario's cause calls for: the right ``az`` subcommand, the right ids (appId vs object id), the right
role id and scope, the right tenant. Each command shape is checked against the Azure CLI reference:

- ``az login --tenant T [--scope S]``: https://learn.microsoft.com/cli/azure/reference-index#az-login
- ``az role assignment create --assignee-object-id --assignee-principal-type {ForeignGroup, Group,
  ServicePrincipal, User} --role --scope`` and ``az role assignment delete --ids``:
  https://learn.microsoft.com/cli/azure/role/assignment
- ``az ad sp show --id`` / ``az ad sp create --id <appId>``: https://learn.microsoft.com/cli/azure/ad/sp
- ``az ad app federated-credential create --id --parameters <JSON file path or in-line JSON string>`` (name,
  issuer, subject, audiences; the name at most 120 URL-friendly characters):
  https://learn.microsoft.com/cli/azure/ad/app/federated-credential
- ``az ad app credential reset --id [--append] [--years]``: https://learn.microsoft.com/cli/azure/ad/app/credential
- ``az cognitiveservices account network-rule add --name --resource-group --ip-address``:
  https://learn.microsoft.com/cli/azure/cognitiveservices/account/network-rule
- ``az cognitiveservices account update --name --resource-group --custom-domain``:
  https://learn.microsoft.com/cli/azure/cognitiveservices/account#az-cognitiveservices-account-update
- ``az resource update --ids --set``: https://learn.microsoft.com/cli/azure/resource#az-resource-update
- global arguments ``--query`` / ``--output, -o``: https://learn.microsoft.com/cli/azure/use-azure-cli-successfully-query

Every built-in scenario gets the reference, paste-safety and narrowness checks; the scenarios in EXPECTED also
get their exact commands pinned (add a new scenario there once its story is settled).
"""

from __future__ import annotations

import json
import os
import re
import shlex
from typing import Any

import pytest

from helpers.twin_fixtures import apply_environment

from preflight.builtin_roles import builtin_roles
from preflight.engine import RunOptions
from preflight.model import Report, Result
from preflight.remedies import arm_read_fix
from preflight.run import CheckOptions, run
from preflight.target import build_target
from preflight.twin import Twin
from preflight.twin.commands import demo_check_args
from preflight.twin.scenario import list_scenarios, load_scenario

TENANT = "11111111-1111-4111-8111-111111111111"
FABRIKAM = "99999999-9999-4999-8999-999999999999"
SUBSCRIPTION = "22222222-2222-4222-8222-222222222222"
ACCOUNT = (
    f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ai/providers/Microsoft.CognitiveServices/accounts/contoso-openai"
)
WORKSPACE = f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-ai/providers/Microsoft.MachineLearningServices/workspaces/contoso-ml"
ALICE = "a11ce000-0000-4000-8000-00000000a11c"  # Alice's object id
CI_APP = "c1c1c1c1-0000-4000-8000-0000000000c1"  # the CI app's appId (Application (client) ID)
CI_SP = "c1c1c1c1-0000-4000-8000-0000000000b0"  # its service principal's object id


def _role_id(name: str) -> str:
    """A built-in role's GUID, from the shipped role definitions (the ones Azure returns)."""
    return next(r.name for r in builtin_roles() if r.role_name == name)


OPENAI_USER = _role_id("Cognitive Services OpenAI User")
DATA_SCIENTIST = _role_id("AzureML Data Scientist")
GRANT_OPENAI_USER = (
    "az role assignment create --assignee-object-id {oid} --assignee-principal-type User "
    f"--role {OPENAI_USER} --scope {ACCOUNT}"
)

# scenario → every "check: command" its fixes print (argv, order-free). Nothing listed: the fixes are prose only.
EXPECTED: dict[str, set[str]] = {
    "ca-blocked": set(),
    "ca-policies": set(),
    "ci-sp-data-role": set(),
    "cs-user-subscription": set(),
    "custom-data-only": set(),
    "deny-assignment": set(),
    "dev-data-role-only": set(),
    "group-assignment": set(),
    "healthy": set(),
    # MFA for the data plane: sign in interactively for that scope (AADSTS50076's fix, lifted out of its prose)
    "mfa-required": {f"tokens.scope: az login --tenant {TENANT} --scope https://cognitiveservices.azure.com/.default"},
    "mi-via-group": set(),
    "ml-ca-mfa": set(),
    "ml-data-scientist": set(),
    # AADSTS7000222: a new secret next to the old one (--append keeps the others working)
    "sp-expired-secret": {f"signin.chain: az ad app credential reset --id {CI_APP} --append"},
    "throttled": set(),
    # the over-privileged CI app: the narrow role at the workspace first, then the Owner assignment removed
    "ml-ci-sp-owner": {
        f"rbac.least-privilege: az role assignment create --assignee-object-id {CI_SP} "
        f"--assignee-principal-type ServicePrincipal --role {DATA_SCIENTIST} --scope {WORKSPACE}",
        f"rbac.least-privilege: az role assignment delete --ids {WORKSPACE}/providers/Microsoft.Authorization/"
        "roleAssignments/e11c9efc-986a-54e6-8b26-76e003534d5d",
    },
    # one address through a variable the reader sets (a <placeholder> would be a shell redirection)
    "network-blocked": {
        "resource.endpoint: az cognitiveservices account network-rule add --name contoso-openai "
        '--resource-group rg-ai --ip-address "$X"'
    },
    # nothing signs in: each developer tool's sign-in, into the target's tenant (a guest must name it)
    "no-credentials": {
        f"signin.chain: az login --tenant {TENANT}",
        f"signin.chain: Connect-AzAccount -Tenant {TENANT}",
        f"signin.chain: azd auth login --tenant-id {TENANT}",
    },
    "no-custom-subdomain": {
        "resource.endpoint: az cognitiveservices account update --name contoso-openai --resource-group rg-ai "
        "--custom-domain contoso-openai",
        f"resource.endpoint: az resource update --ids {ACCOUNT} --set properties.disableLocalAuth=true",
    },
    "owner-without-data-role": {"rbac.data-action: " + GRANT_OPENAI_USER.format(oid=ALICE)},
    "wrong-data-role": {"rbac.data-action: " + GRANT_OPENAI_USER.format(oid=ALICE)},
    "principal-federated-mismatch": {
        f"principal.credentials: az ad app federated-credential create --id {CI_APP} --parameters JSON",
        # AADSTS70021: compare the presented subject with the app's federated credentials first
        f"signin.chain: az ad app federated-credential list --id {CI_APP}",
    },
    "principal-secret-expiring": {
        f"principal.credentials: az ad app credential reset --id {CI_APP} --append --years 1"
    },
    "propagation-pending": {"rbac.propagation: preflight check --wait 10m"},
    # deleted, another tenant's, or an object id: first tell which; provisioning takes the appId
    "sp-missing": {
        f"principal.exists: az ad sp show --id {CI_APP} --query appId -o tsv",
        f"signin.chain: az ad sp show --id {CI_APP} --query appId -o tsv",  # AADSTS700016: is it an object id?
        f"principal.exists: az ad sp create --id {CI_APP}",
    },
    # an object id in AZURE_CLIENT_ID: look its appId up — never `az ad sp create` (issue 20)
    "sp-object-id": {
        f"{check}: az ad sp show --id {CI_SP} --query appId -o tsv" for check in ("principal.exists", "signin.chain")
    },
    # the target's tenant (the subscription's), not the one the CLI is in — and ARM's 401 on the resource is
    # the same cause, not a wrong resource id
    "wrong-tenant": {
        f"{check}: az login --tenant {TENANT}"
        for check in ("signin.chain", "signin.identity", "signin.tenants", "tokens.scope", "resource.endpoint")
    },
}

# (command path) → the flags the reference documents for it (switches take no value)
AZ_REFERENCE: dict[tuple[str, ...], tuple[set[str], set[str]]] = {
    # path: (flags taking a value, switches)
    ("az", "login"): ({"--tenant", "--scope"}, set()),
    ("az", "role", "assignment", "create"): (
        {"--assignee-object-id", "--assignee-principal-type", "--role", "--scope"},
        set(),
    ),
    ("az", "role", "assignment", "delete"): ({"--ids"}, set()),
    ("az", "ad", "sp", "show"): ({"--id", "--query", "-o"}, set()),
    ("az", "ad", "sp", "create"): ({"--id"}, set()),
    ("az", "ad", "sp", "update"): ({"--id", "--set"}, set()),
    ("az", "account", "list"): ({"--output"}, set()),
    # https://learn.microsoft.com/azure/developer/azure-developer-cli/reference#azd-auth-login
    ("azd", "auth", "login"): ({"--tenant-id"}, set()),
    # https://learn.microsoft.com/powershell/module/az.accounts/connect-azaccount (-Tenant)
    ("Connect-AzAccount",): ({"-Tenant"}, set()),
    ("az", "ad", "app", "federated-credential", "create"): ({"--id", "--parameters"}, set()),
    ("az", "ad", "app", "credential", "reset"): ({"--id", "--years", "--cert"}, {"--append"}),
    ("az", "cognitiveservices", "account", "network-rule", "add"): (
        {"--name", "--resource-group", "--ip-address"},
        set(),
    ),
    ("az", "cognitiveservices", "account", "update"): ({"--name", "--resource-group", "--custom-domain"}, set()),
    ("az", "resource", "update"): ({"--ids", "--set"}, set()),
    # the AADSTS knowledge base's commands (preflight/aadsts.py), lifted out of its prose by Remediation:
    # https://learn.microsoft.com/cli/azure/ad/app/federated-credential#az-ad-app-federated-credential-list
    ("az", "ad", "app", "federated-credential", "list"): ({"--id"}, set()),
    # https://learn.microsoft.com/cli/azure/ad/app/credential#az-ad-app-credential-list
    ("az", "ad", "app", "credential", "list"): ({"--id"}, {"--cert"}),
    # https://learn.microsoft.com/cli/azure/ad/app#az-ad-app-update
    ("az", "ad", "app", "update"): ({"--id", "--set"}, set()),
    # https://learn.microsoft.com/cli/azure/ad/app/permission
    ("az", "ad", "app", "permission", "list"): ({"--id"}, set()),
    ("az", "ad", "app", "permission", "admin-consent"): ({"--id"}, set()),
    # https://learn.microsoft.com/cli/azure/account
    ("az", "account", "show"): ({"--query", "-o"}, set()),
    ("az", "account", "tenant", "list"): ({"--output"}, set()),
    ("az", "account", "get-access-token"): ({"--scope"}, set()),
    ("preflight", "check"): ({"--wait"}, set()),
}
PRINCIPAL_TYPES = {"ForeignGroup", "Group", "ServicePrincipal", "User"}
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _run(twin: Twin, monkeypatch: pytest.MonkeyPatch, name: str) -> Report:
    """The scenario as ``preflight demo`` runs it: every check, and --probe when the scenario asks for it."""
    twin.use(name)
    apply_environment(monkeypatch, twin.environment())
    probe = "--probe" in demo_check_args(twin.scenario, ())
    options = CheckOptions(build_target(dict(os.environ)), probe=probe, engine=RunOptions(timeout=30, deadline=60))
    return run(options)


def _commands(report: Report) -> list[tuple[Result, str]]:
    return [(r, c) for r in report.results if r.remediation is not None for c in r.remediation.commands]


def _shape(argv: list[str]) -> tuple[tuple[str, ...], dict[str, str | None]]:
    """The command path and its flags, checked against the reference: every flag documented, every value-taking
    flag given exactly one value, switches none."""
    path = max((p for p in AZ_REFERENCE if tuple(argv[: len(p)]) == p), key=len, default=None)
    assert path is not None, f"not a command the reference documents: {argv}"
    valued, switches = AZ_REFERENCE[path]
    flags: dict[str, str | None] = {}
    rest = argv[len(path) :]
    while rest:
        flag, rest = rest[0], rest[1:]
        assert flag in valued | switches, f"{' '.join(path)}: {flag} is not a documented argument ({argv})"
        assert flag not in flags, f"{flag} given twice: {argv}"
        if flag in switches:
            flags[flag] = None
            continue
        assert rest and not rest[0].startswith("--"), f"{flag} needs a value: {argv}"
        flags[flag], rest = rest[0], rest[1:]
    return path, flags


def _paste_safe(command: str) -> list[str]:
    """argv of ``command`` as a POSIX shell reads it; no unquoted redirection, pipe, list or substitution."""
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    assert not [t for t in tokens if t and set(t) <= set("<>|&;()")], f"shell operators in {command!r}"
    assert "`" not in command and "$(" not in command, f"command substitution in {command!r}"
    return shlex.split(command)


def _normalised(argv: list[str]) -> str:
    """The argv as a comparable string: the federated credential's JSON and a variable stand in as JSON / $X."""
    out = []
    for i, arg in enumerate(argv):
        if i and argv[i - 1] == "--parameters":
            out.append("JSON")
        elif arg.startswith("$"):
            out.append('"$X"')
        else:
            out.append(arg)
    return " ".join(out)


def _check_federated(result: Result, flags: dict[str, str | None], scenario: dict[str, Any]) -> None:
    """The narrow form: exactly the issuer and subject the job presents, the default audience, a valid name —
    and the fix says it widens trust and to check the branch (issue 19)."""
    wi = scenario["signIn"]["workloadIdentity"]
    params = json.loads(str(flags["--parameters"]))
    assert set(params) == {"name", "issuer", "subject", "audiences"}
    assert (params["issuer"], params["subject"]) == (wi["issuer"], wi["subject"])
    assert params["audiences"] == ["api://AzureADTokenExchange"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,120}", params["name"]), params["name"]
    assert "*" not in params["subject"]
    assert result.remediation is not None
    text = result.remediation.text
    assert "widens trust" in text and "intended branch or environment" in text, text
    assert "refs/heads/main" in text  # the other fix: run where the app already trusts the job


def _check_role_grant(flags: dict[str, str | None]) -> None:
    """A role grant names the principal by object id with its type, a built-in role by GUID, a resource scope."""
    assert flags["--assignee-principal-type"] in PRINCIPAL_TYPES
    assert GUID.match(str(flags["--assignee-object-id"])) and GUID.match(str(flags["--role"]))
    assert str(flags["--scope"]).count("/") == 8, "the resource itself, the narrowest scope"


@pytest.mark.parametrize("name", list_scenarios())
def test_fix_commands_are_the_ones_real_azure_needs(
    name: str, twin_session: Twin, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = _run(twin_session, monkeypatch, name)
    scenario = dict(load_scenario(name))
    seen: set[str] = set()
    for result, command in _commands(report):
        argv = _paste_safe(command)
        path, flags = _shape(argv)
        if path[:4] == ("az", "role", "assignment", "create"):
            _check_role_grant(flags)
        if path[:5] == ("az", "ad", "app", "federated-credential", "create"):
            _check_federated(result, flags, scenario)
        if path == ("az", "ad", "sp", "create"):
            assert result.remediation is not None and "trust decision" in result.remediation.text
        seen.add(f"{result.check_id}: {_normalised(argv)}")
    if name in EXPECTED:
        assert seen == EXPECTED[name]
    assert twin_session.errors() == []


def test_every_expected_scenario_is_built_in() -> None:
    assert set(EXPECTED) <= set(list_scenarios())


# ---------------------------------------------------------------------------------------------- pure


@pytest.mark.parametrize(
    ("status", "code", "message", "tenant", "expected"),
    [
        # ARM's own wrong-issuer answer names the subscription's tenant: sign in there
        (
            401,
            "InvalidAuthenticationTokenTenant",
            f"The access token is from the wrong issuer 'https://sts.windows.net/{FABRIKAM}/'. It must match the "
            f"tenant 'https://sts.windows.net/{TENANT}/' associated with this subscription.",
            None,
            [f"az login --tenant {TENANT}"],
        ),
        (401, "InvalidAuthenticationTokenTenant", "", TENANT, [f"az login --tenant {TENANT}"]),
        (401, "ExpiredAuthenticationToken", "", TENANT, [f"az login --tenant {TENANT}"]),
        (404, "SubscriptionNotFound", "", None, ["az account list --output table"]),
        (404, "ResourceNotFound", "", TENANT, []),
    ],
)
def test_arm_refusals_get_the_fix_for_their_cause(
    status: int, code: str, message: str, tenant: str | None, expected: list[str]
) -> None:
    fix = arm_read_fix(status, code, message, tenant)
    assert list(fix.commands) == expected
    if code == "ResourceNotFound":
        assert "resource id" in fix.text
    else:
        assert "resource id / endpoint" not in fix.text


def test_the_demo_probes_only_where_the_scenario_asks() -> None:
    asked = [n for n in list_scenarios() if "--probe" in demo_check_args(load_scenario(n), ())]
    assert asked == ["network-blocked", "propagation-pending"]
    assert demo_check_args({"demo": {"probe": True}}, ("--probe",)) == ["--probe"]  # never twice
    assert demo_check_args({}, ("--only", "rbac.*")) == ["--only", "rbac.*"]
