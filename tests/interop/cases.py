"""The diagnosis commands a person runs, each with what real Azure would answer this identity.

A :class:`Case` is one ``az`` command plus its expectation: ``ok`` (exit 0, then ``check`` looks at key fields
of the JSON), ``error`` (non-zero exit whose message names ``code``, e.g. ``AuthorizationFailed``), or
``observe`` (real Azure's answer is not pinned down here — recorded, never counted as a divergence).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from interop import expect
from interop.expect import Identity
from preflight.twin import decode_claims

Check = Callable[[Any], list[str]]
ARM = "https://management.core.windows.net/"
COGNITIVE = "https://cognitiveservices.azure.com"
ACCOUNTS = "Microsoft.CognitiveServices/accounts"
# az prints Graph's message, not its code (Authorization_RequestDenied).
GRAPH_DENIED = "Insufficient privileges to complete the operation"


@dataclass
class Case:
    name: str
    argv: list[str]
    outcome: str  # "ok" | "error" | "observe"
    code: str = ""
    check: Check | None = None
    why: str = ""


def _ids(rows: Any, key: str = "id") -> set[str]:
    return {str(r.get(key, "")).lower() for r in rows or () if isinstance(r, Mapping)}


def _field(name: str, want: Any) -> Check:
    def check(data: Any) -> list[str]:
        got: Any = data
        for part in name.split("."):
            got = got.get(part) if isinstance(got, Mapping) else None
        return [] if str(got).lower() == str(want).lower() else [f"{name}: got {got!r}, want {want!r}"]

    return check


def _token(audience: str, who: Identity) -> Check:
    def check(data: Any) -> list[str]:
        claims = decode_claims(str((data or {}).get("accessToken", "")))
        problems = []
        if str(claims.get("aud", "")).rstrip("/") != audience.rstrip("/"):
            problems.append(f"aud: got {claims.get('aud')!r}, want {audience!r}")
        if str(claims.get("oid", "")).lower() != who.object_id.lower():
            problems.append(f"oid: got {claims.get('oid')!r}, want {who.object_id!r}")
        if str(claims.get("tid", "")).lower() != who.tenant_id.lower():
            problems.append(f"tid: got {claims.get('tid')!r}, want {who.tenant_id!r}")
        return problems

    return check


def _role_names(want: set[str]) -> Check:
    def check(data: Any) -> list[str]:
        got = {str(r.get("roleDefinitionName", "")) for r in data or () if isinstance(r, Mapping)}
        return [] if got == want else [f"roleDefinitionName: got {sorted(got)}, want {sorted(want)}"]

    return check


def _superset(key: str, want: set[str], what: str) -> Check:
    def check(data: Any) -> list[str]:
        got = _ids(data, key) if key else {str(x).lower() for x in data or ()}
        missing = {w.lower() for w in want} - got
        extra = got - {w.lower() for w in want}
        problems = [f"{what}: missing {sorted(missing)}"] if missing else []
        return problems + ([f"{what}: unexpected {sorted(extra)}"] if extra else [])

    return check


# A few of the properties Graph v1.0 returns by default (the reference's GET response examples), which a
# scenario rarely names: their absence means the twin serves a sparse object.
SP_DEFAULT_KEYS = {"appDisplayName", "tags", "info", "replyUrls", "appRoleAssignmentRequired", "signInAudience"}
APP_DEFAULT_KEYS = {"web", "api", "spa", "publicClient", "requiredResourceAccess", "tags", "info"}


def _keys(want: set[str], what: str) -> Check:
    def check(data: Any) -> list[str]:
        missing = want - set(data or {})
        return [f"{what} missing: {sorted(missing)}"] if missing else []

    return check


def _both(*checks: Check) -> Check:
    return lambda data: [p for c in checks for p in c(data)]


def _allow(ok: bool, code: str = "AuthorizationFailed") -> tuple[str, str]:
    return ("ok", "") if ok else ("error", code)


@dataclass(frozen=True)
class Origins:
    """Where az reaches the twin's services: ARM and Graph at one loopback origin, or at their named hosts
    (``--named-hosts``: management.twin.test, graph.twin.test), where az picks each request's audience by host."""

    arm: str
    graph: str
    named: bool = False

    @classmethod
    def one(cls, base_url: str) -> Origins:
        return cls(base_url.rstrip("/"), base_url.rstrip("/"))


def account_cases(scenario: Mapping[str, Any], who: Identity, origins: Origins, sub: str | None) -> list[Case]:
    cases = [
        Case("account show", ["account", "show"], "ok", check=_field("user.name", who.name)),
        Case(
            "account list", ["account", "list"], "ok", check=(_superset("id", {sub}, "subscriptions") if sub else None)
        ),
        Case("token arm", ["account", "get-access-token"], "ok", check=_token(ARM, who)),
        Case(
            "token graph",
            ["account", "get-access-token", "--resource-type", "ms-graph"],
            "ok",
            check=_token(origins.graph + "/", who),
        ),
        Case(
            "token cognitive",
            ["account", "get-access-token", "--scope", f"{COGNITIVE}/.default"],
            "ok",
            check=_token(COGNITIVE, who),
        ),
    ]
    if sub:
        cases[0].check = _both(_field("user.name", who.name), _field("id", sub), _field("tenantId", who.tenant_id))
    return cases


def role_cases(scenario: Mapping[str, Any], who: Identity, sub: str | None, target: str | None) -> list[Case]:
    if not sub:
        return []
    sub_scope = f"/subscriptions/{sub}"
    read = "Microsoft.Authorization/roleAssignments/read"
    mine = [a for a in expect.assignments(scenario, who, groups=False) if _under(a, sub_scope)]
    with_groups = [a for a in expect.assignments(scenario, who) if _under(a, sub_scope)]
    cases = []
    outcome, code = _allow(expect.holds(scenario, who, read, sub_scope))
    cases.append(
        Case(
            "role assignment list --all",
            ["role", "assignment", "list", "--assignee", who.object_id, "--all"],
            outcome,
            code,
            _role_names({expect.role_name(scenario, a) for a in mine}),
        )
    )
    cases.append(
        Case(
            "role assignment list --all --include-groups",
            ["role", "assignment", "list", "--assignee", who.object_id, "--all", "--include-groups"],
            outcome,
            code,
            _role_names({expect.role_name(scenario, a) for a in with_groups}),
        )
    )
    if target:
        inherited = [a for a in expect.effective_on(scenario, who, target) if _lower_pid(a) == who.object_id.lower()]
        outcome, code = _allow(expect.holds(scenario, who, read, target))
        cases.append(
            Case(
                "role assignment list --scope --include-inherited",
                ["role", "assignment", "list", "--assignee", who.object_id, "--scope", target, "--include-inherited"],
                outcome,
                code,
                _role_names({expect.role_name(scenario, a) for a in inherited}),
            )
        )
    cases.append(
        Case(
            "role definition list --name Reader",
            ["role", "definition", "list", "--name", "Reader"],
            "observe",
            check=lambda data: [] if [r.get("roleName") for r in data or ()] == ["Reader"] else ["roleName != Reader"],
            why="who may read role definitions at a subscription is not pinned down here",
        )
    )
    return cases


def _under(assignment: Mapping[str, Any], scope: str) -> bool:
    return str(assignment["properties"].get("scope", "")).lower().startswith(scope.lower())


def _lower_pid(assignment: Mapping[str, Any]) -> str:
    return str(assignment["properties"].get("principalId", "")).lower()


def resource_cases(
    scenario: Mapping[str, Any], who: Identity, origins: Origins, sub: str | None, target: str | None
) -> list[Case]:
    cases: list[Case] = []
    if target and f"/providers/{ACCOUNTS}/".lower() in target.lower() + "/":
        account = next(
            (r for r in scenario.get("resources") or () if str(r.get("id", "")).lower() == target.lower()), {}
        )
        outcome, code = _allow(expect.holds(scenario, who, f"{ACCOUNTS}/read", target))
        cases.append(
            Case(
                "cognitiveservices account show",
                ["cognitiveservices", "account", "show", *_group_and_name(target)],
                outcome,
                code,
                _both(
                    _field("kind", account.get("kind")),
                    _field("properties.endpoint", (account.get("properties") or {}).get("endpoint")),
                ),
            )
        )
        can_list = expect.holds(scenario, who, f"{ACCOUNTS}/listKeys/action", target)
        outcome, code = _allow(can_list)
        cases.append(
            Case(
                "cognitiveservices account keys list",
                ["cognitiveservices", "account", "keys", "list", *_group_and_name(target)],
                outcome,
                code,
                lambda data: [] if {"key1", "key2"} <= set(data or {}) else ["no key1/key2"],
            )
        )
        cases.append(_rest_data_plane(scenario, who, target, account))
        cases.append(
            Case(
                "rest permissions (account)",
                ["rest", "--method", "get", "--url",
                 f"{origins.arm}{target}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01"],
                "ok",
                check=_permissions(bool(expect.effective_on(scenario, who, target))),
            )
        )  # fmt: skip
    if sub:
        cases.append(
            Case(
                "provider show",
                ["provider", "show", "--namespace", "Microsoft.CognitiveServices"],
                "observe",
                check=_field("namespace", "Microsoft.CognitiveServices"),
                why="which callers may read a provider registration is not pinned down here",
            )
        )
        visible = {
            str(r["id"]).lower()
            for r in scenario.get("resources") or ()
            if str(r.get("type", "")).lower() == ACCOUNTS.lower()
            and expect.holds(scenario, who, f"{ACCOUNTS}/read", str(r["id"]))
        }
        cases.append(
            Case(
                "graph query (accounts)",
                [
                    "graph",
                    "query",
                    "-q",
                    "Resources | where type =~ 'microsoft.cognitiveservices/accounts' | project id, name",
                ],
                "ok",
                check=lambda data: _superset("id", visible, "rows")((data or {}).get("data")),
            )
        )
        cases += _graph_kql_cases(scenario, who)
    return cases


def _graph_kql_cases(scenario: Mapping[str, Any], who: Identity) -> list[Case]:
    """KQL beyond the product's fixed queries (extend, summarize … by, join), as a person types it."""
    read = "Microsoft.Authorization/roleAssignments/read"
    scopes = {
        str(a["properties"]["scope"]).lower()
        for a in expect.assignments(scenario, who, groups=False)
        if expect.holds(scenario, who, read, str(a["properties"]["scope"]))
    }
    assignments = "authorizationresources | where type =~ 'microsoft.authorization/roleassignments'"
    return [
        Case(
            "graph query (summarize by scope)",
            ["graph", "query", "-q",
             f"{assignments} | where properties.principalId =~ '{who.object_id}' "
             "| extend scope = tolower(tostring(properties.scope)) | summarize n = count() by scope"],
            "ok",
            check=lambda data: _superset("scope", scopes, "scopes")((data or {}).get("data")),
        ),
        Case(
            "graph query (join)",
            ["graph", "query", "-q",
             f"{assignments} | extend scope = tolower(tostring(properties.scope)) "
             "| join kind=inner (resources | project scope = tolower(id), resource = name) on scope "
             "| project id, resource"],
            "ok",
            check=lambda data: [] if isinstance((data or {}).get("data"), list) else ["no data[]"],
        ),
    ]  # fmt: skip


def _group_and_name(resource_id: str) -> list[str]:
    """``-g RG -n NAME`` (the cognitiveservices commands take no ``--ids``)."""
    parts = resource_id.strip("/").split("/")
    return ["--resource-group", parts[3], "--name", parts[-1]]


def _permissions(any_role: bool) -> Check:
    def check(data: Any) -> list[str]:
        rows = (data or {}).get("value") if isinstance(data, Mapping) else None
        if not isinstance(rows, list):
            return ["no value[]"]
        actions = [a for r in rows for p in [r] for key in ("actions", "dataActions") for a in p.get(key) or ()]
        if any_role and not actions:
            return ["no actions though a role applies"]
        if not any_role and actions:
            return ["actions though no role applies"]
        return []

    return check


def directory_cases(scenario: Mapping[str, Any], who: Identity, origins: Origins) -> list[Case]:
    directory = scenario.get("directory") or {}
    groups = expect.transitive_groups(scenario, who.object_id)
    cases: list[Case] = []
    if who.kind == "user":
        cases.append(
            Case(
                "ad signed-in-user show",
                ["ad", "signed-in-user", "show"],
                "ok",
                check=_both(_field("id", who.object_id), _field("userPrincipalName", who.name)),
            )
        )
        cases.append(
            Case(
                "ad user get-member-groups",
                ["ad", "user", "get-member-groups", "--id", who.object_id],
                "ok",
                check=lambda data: _superset("id", groups, "groups")(data),
            )
        )
        cases.append(_rest_graph(origins, "/me", who.object_id, "ok", ""))
    else:
        cases.append(
            Case(
                "ad signed-in-user show",
                ["ad", "signed-in-user", "show"],
                "error",
                "/me request is only valid with delegated authentication flow",
            )
        )
    perms = expect.graph_permissions(scenario, who)
    reads_apps = who.kind == "user" or bool(
        perms & {"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All"}
    )
    for app in directory.get("applications") or ():
        app_id = str(app.get("appId", ""))
        outcome, code = _allow(reads_apps, GRAPH_DENIED)
        cases.append(
            Case(
                "ad app show",
                ["ad", "app", "show", "--id", app_id],
                outcome,
                code,
                _both(_field("appId", app_id), _keys(APP_DEFAULT_KEYS, "Graph v1.0 default properties")),
            )
        )
        key_ids = {str(c.get("keyId", "")) for c in app.get("passwordCredentials") or ()}
        cases.append(
            Case(
                "ad app credential list",
                ["ad", "app", "credential", "list", "--id", app_id],
                outcome,
                code,
                _superset("keyId", key_ids, "keyId"),
            )
        )
        break
    for sp in directory.get("servicePrincipals") or ():
        app_id = str(sp.get("appId", ""))
        outcome, code = _allow(reads_apps, GRAPH_DENIED)
        cases.append(
            Case(
                "ad sp show",
                ["ad", "sp", "show", "--id", app_id],
                outcome,
                code,
                _both(_field("id", sp.get("id")), _keys(SP_DEFAULT_KEYS, "Graph v1.0 default properties")),
            )
        )
        cases.append(_rest_graph(origins, f"/servicePrincipals(appId='{app_id}')", str(sp.get("id")), outcome, code))
        break
    return cases


DEPLOYMENTS_READ = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/read"


def _rest_data_plane(scenario: Mapping[str, Any], who: Identity, target: str, account: Mapping[str, Any]) -> Case:
    """``az rest`` to the account's own data plane (its endpoint from ARM: a name of its own with named hosts)
    with a Cognitive Services token: the deployments list when a role grants the data action, 401
    ``PermissionDenied`` when none does, 401 on a regional endpoint (no custom subdomain)."""
    props = account.get("properties") or {}
    url = f"{str(props.get('endpoint', '')).rstrip('/')}/openai/deployments?api-version=2024-10-21"
    argv = ["rest", "--method", "get", "--url", url, "--resource", COGNITIVE]
    if not props.get("customSubDomainName"):
        return Case("rest data plane (deployments)", argv, "error", "custom subdomain")
    granted = expect.holds(scenario, who, DEPLOYMENTS_READ, target, data=True)
    outcome, code = _allow(granted, "PermissionDenied")
    case = Case(
        "rest data plane (deployments)",
        argv,
        outcome,
        code,
        lambda data: [] if isinstance((data or {}).get("data"), list) else ["no deployments list (data)"],
    )
    network = props.get("networkAcls") or {}
    if str(props.get("publicNetworkAccess", "Enabled")).lower() == "disabled" or network.get("defaultAction") == "Deny":
        case.outcome, case.why = "observe", "network rules decide, by the client's address"
    elif expect.conditional_grants(scenario, who, target) or (scenario.get("options") or {}).get(
        "dataPlanePropagationSeconds"
    ):
        case.outcome, case.why = "observe", "ABAC conditions or role propagation decide (not read here)"
    return case


def _rest_graph(origins: Origins, path: str, object_id: str, outcome: str, code: str) -> Case:
    """``az rest`` to a Graph URL: az requests the token for the audience whose endpoint the URL's host matches
    (real Graph takes only its own). On one origin ARM's endpoint matches first and Graph refuses that token."""
    case = Case(
        "rest graph (audience by host)",
        ["rest", "--method", "get", "--url", f"{origins.graph}/v1.0{path}"],
        outcome,
        code,
        _field("id", object_id),
    )
    if not origins.named:
        case.outcome, case.why = "observe", "one origin: az sends ARM's audience to every twin URL (--named-hosts)"
    return case


def all_cases(scenario: Mapping[str, Any], who: Identity, origins: Origins, sub: str | None) -> list[Case]:
    # with no subscription visible (az records a tenant-level account) az itself stops at SubscriptionNotFound
    target = (str((scenario.get("target") or {}).get("resourceId") or "") or None) if sub else None
    return [
        *account_cases(scenario, who, origins, sub),
        *role_cases(scenario, who, sub, target),
        *resource_cases(scenario, who, origins, sub, target),
        *directory_cases(scenario, who, origins),
    ]
