"""Load a twin scenario: a built-in name, a JSON file or a mapping → one validated, normalised plain dict.

A scenario stores ARM and Microsoft Graph objects in exactly the shapes the real APIs return, so a payload
captured from Azure can be dropped in unchanged. Loading does three things, in this order:

1. **validate** — unknown top-level keys, values of the wrong type (against the published JSON Schema,
   docs/scenario.schema.json) and malformed objects raise :class:`ScenarioError` naming every bad key by its
   path (``roleAssignments[2].properties.scope``), so a typo never silently changes behaviour;
2. **normalise** — fill what the real API always returns but a hand-written scenario may omit (ids, ``type``,
   ``provisioningState`` …), resolve built-in roles referenced by NAME (``"roleDefinitionId": "Reader"``) to
   their real ids, and resolve relative timestamps (``"@now-60s"``) anywhere in the document;
3. the account endpoints are *not* rewritten here: they depend on the twin's port, see
   :func:`bind_endpoints`, which the ``Twin`` calls once it is listening.

Every key is documented in docs/twin-scenarios.md.
"""

from __future__ import annotations

import copy
import importlib
import re
import time
import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from preflight.errors import ConfigError
from preflight.twin import hosts, roles

# Every top-level key and the type its value must have (signIn: None, its own validator in signin.py says).
TOP_LEVEL_TYPES: dict[str, type | None] = {
    "name": str,
    "description": str,
    "target": dict,
    "app": dict,
    "options": dict,
    "demo": dict,
    "tenant": dict,
    "otherTenants": list,
    "subscriptions": list,
    "managementGroups": list,
    "resourceGroups": list,
    "resources": list,
    "roleDefinitions": list,
    "roleAssignments": list,
    "denyAssignments": list,
    "directory": dict,
    "signIn": None,
    "tokenErrors": list,
    "faults": list,
}
TOP_LEVEL_KEYS = tuple(TOP_LEVEL_TYPES)
DIRECTORY_TYPES: dict[str, type] = {
    "users": list,
    "groups": list,
    "memberships": dict,
    "servicePrincipals": list,
    "applications": list,
    "conditionalAccessPolicies": list,
    "permissions": dict,
}
DIRECTORY_KEYS = tuple(DIRECTORY_TYPES)
_A_TYPE: dict[type, str] = {list: "a list", dict: "an object", str: "a string"}
TARGET_KEYS = ("subscriptionId", "resourceId", "endpoint", "tenantId", "profile")
# option → (type, default). Keys starting with "x-" are free for experiments and other twin modules.
OPTION_DEFAULTS: dict[str, tuple[type, Any]] = {
    "pageSize": (int, 100),  # ARM lists and Resource Graph pages
    "graphPageSize": (int, 100),  # Microsoft Graph collections
    "dataPlanePropagationSeconds": (int, 0),  # role assignments younger than this are not yet seen by the data plane
    "conditionalAccessWhatIf": (bool, True),  # Graph's identity/conditionalAccess/evaluate is served
}

ACCOUNT_TYPE = "microsoft.cognitiveservices/accounts"
DEPLOYMENT_TYPE = "microsoft.cognitiveservices/accounts/deployments"
EVERYONE = "00000000-0000-0000-0000-000000000000"
_UUID_NS = uuid.UUID("6f1c0b6e-3c1e-4f7a-9d59-7a1f0c2b5e11")  # deterministic ids for omitted names
_RELATIVE_TIME = re.compile(r"@now(?:([+-])(\d+(?:\.\d+)?)([smhd]))?")
SCENARIO_MAX_BYTES = 16 * 1024 * 1024  # the largest built-in is 15 KB; captured tenants stay far below
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ScenarioError(ConfigError, ValueError):
    """The scenario is invalid. ``errors`` lists every problem, each starting with the bad key's path.
    A :class:`~preflight.errors.ConfigError` (the user supplied it), and a ValueError for plain callers."""

    def __init__(self, errors: list[str], source: str = "scenario") -> None:
        self.errors = list(errors)
        self.source = source
        super().__init__(
            f"invalid {source}: " + "; ".join(self.errors),
            remediation="docs/twin-scenarios.md documents every key; "
            "`preflight twin scenarios --dump healthy` prints a valid example",
        )


# ---------------------------------------------------------------------------------------------------- loading


def list_scenarios() -> list[str]:
    """The names of the built-in scenarios (``preflight/twin/scenarios/*.json``), sorted."""
    folder = resources.files("preflight.twin.scenarios")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def builtin_scenario_text(name: str) -> str:
    """The raw JSON text of a built-in scenario (what ``twin scenarios --dump NAME`` prints)."""
    if name not in list_scenarios():
        raise ScenarioError([f"unknown built-in scenario {name!r}; built-ins: {', '.join(list_scenarios())}"])
    return resources.files("preflight.twin.scenarios").joinpath(f"{name}.json").read_text("utf-8")


def load_scenario(source: str | Path | Mapping[str, Any], *, now: float | None = None) -> dict[str, Any]:
    """Load, validate and normalise a scenario from a built-in name, a path to a JSON file or a mapping.

    ``now`` (seconds since the epoch, default: the current time) anchors ``@now…`` timestamps, so a test can
    pin them. Raises :class:`ScenarioError` naming every bad key.
    """
    label = "scenario"
    if isinstance(source, Mapping):
        raw: Any = copy.deepcopy(dict(source))
    else:
        text_source = str(source)
        path = Path(text_source)
        if text_source in list_scenarios():
            label = f"built-in scenario {text_source!r}"
            text: str | None = builtin_scenario_text(text_source)
        elif path.suffix.lower() == ".json" or path.exists():
            label = f"scenario file {text_source}"
            text = None
        else:
            raise ScenarioError(
                [f"{text_source!r} is neither a built-in scenario ({', '.join(list_scenarios())}) nor a file"]
            )
        raw = _read_json(text, path, label)
    if not isinstance(raw, dict):
        raise ScenarioError(["the document must be a JSON object"], label)
    errors: list[str] = []
    anchor = time.time() if now is None else now
    doc: dict[str, Any] = resolve_relative_times(raw, anchor)
    _validate_top(doc, errors)
    if not errors:  # the published schema (docs/scenario.schema.json): every value's type, before any use
        from preflight.twin.schema import validate as validate_schema

        errors.extend(validate_schema(doc))
    if not errors:
        _normalise(doc, errors)
    errors.extend(_external_validators(doc))
    if errors:
        raise ScenarioError(errors, label)
    return doc


def _read_json(text: str | None, path: Path, label: str) -> Any:
    """The parsed document: ``text`` (a built-in) or the file at ``path``, bounded in size and nesting and
    refused unless a regular file (a FIFO or /dev/zero must not hang the twin's start)."""
    from preflight.target import JsonInputError, parse_json, read_json_file

    try:
        return parse_json(text) if text is not None else read_json_file(path, max_bytes=SCENARIO_MAX_BYTES)
    except JsonInputError as exc:
        raise ScenarioError([str(exc)], label) from exc


def resolve_relative_times(obj: Any, now: float) -> Any:
    """Replace every string ``@now``, ``@now-60s``, ``@now+2d`` (units s, m, h, d) by an ISO-8601 UTC
    timestamp, anywhere in the document: scenarios stay valid whenever they are run."""
    if isinstance(obj, dict):
        return {k: resolve_relative_times(v, now) for k, v in obj.items()}
    if isinstance(obj, list):
        return [resolve_relative_times(v, now) for v in obj]
    if isinstance(obj, str) and obj.startswith("@now"):
        match = _RELATIVE_TIME.fullmatch(obj)
        if match:
            sign, amount, unit = match.groups()
            delta = float(amount) * _UNIT_SECONDS[unit] if amount else 0.0
            return iso_time(now + delta if sign == "+" else now - delta)
    return obj


def iso_time(epoch: float) -> str:
    """ISO-8601 UTC with a ``Z`` suffix, the form ARM and Graph return."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _external_validators(doc: Mapping[str, Any]) -> list[str]:
    """Sections owned by other twin modules are validated by them (each returns a list of error strings)."""
    checks: list[tuple[str, str, str]] = [
        ("signIn", "preflight.twin.signin", "validate"),
        ("faults", "preflight.twin.faults", "validate"),
        ("tokenErrors", "preflight.twin.entra", "validate_token_errors"),
    ]
    errors: list[str] = []
    for key, module_name, func_name in checks:
        if key not in doc:
            continue
        module = importlib.import_module(module_name)
        func: Callable[[Any], list[str]] = getattr(module, func_name)
        errors.extend(func(doc[key]))
    return errors


def rule_list_errors(
    section: Any, name: str, not_a_list: str, check_rule: Callable[[str, Mapping[str, Any]], list[str]]
) -> list[str]:
    """The problems of a section that is a list of rule objects (``faults``, ``tokenErrors``): the section's own
    shape, then each rule's through ``check_rule(where, rule)``, where ``where`` is the rule's path
    (``faults[2]``) that starts each of its messages. An absent section has none."""
    if section is None:
        return []
    if not isinstance(section, Sequence) or isinstance(section, (str, bytes)):
        return [f"{name}: {not_a_list}"]
    errors: list[str] = []
    for i, rule in enumerate(section):
        where = f"{name}[{i}]"
        if isinstance(rule, Mapping):
            errors.extend(check_rule(where, rule))
        else:
            errors.append(f"{where}: must be an object")
    return errors


def unknown_key_errors(where: str, obj: Mapping[str, Any], known: Collection[str], expected: str) -> list[str]:
    """One message per key of ``obj`` outside ``known``, in sorted order, each saying what was ``expected``."""
    return [f"{where}.{key}: unknown key (expected {expected})" for key in sorted(set(obj) - set(known))]


# ------------------------------------------------------------------------------------------------ validation


def _validate_top(doc: dict[str, Any], errors: list[str]) -> None:
    for key in doc:
        if key not in TOP_LEVEL_KEYS and not key.startswith("$"):  # "$schema" / "$comment" are allowed
            errors.append(f"{key}: unknown top-level key (allowed: {', '.join(TOP_LEVEL_KEYS)})")
    if "tenant" not in doc:
        errors.append("tenant: required (an object with at least id, the tenant GUID)")
    for key, want in TOP_LEVEL_TYPES.items():
        if want is not None and key in doc and not isinstance(doc[key], want):
            errors.append(f"{key}: must be {_A_TYPE[want]}")
    for key in doc.get("target", {}) if isinstance(doc.get("target"), dict) else {}:
        if key not in TARGET_KEYS:
            errors.append(f"target.{key}: unknown key (allowed: {', '.join(TARGET_KEYS)})")
    opts = doc.get("options")
    if isinstance(opts, dict):
        for key, value in opts.items():
            if key.startswith("x-"):
                continue
            if key not in OPTION_DEFAULTS:
                errors.append(f"options.{key}: unknown option (allowed: {', '.join(OPTION_DEFAULTS)})")
            elif OPTION_DEFAULTS[key][0] is bool:
                if not isinstance(value, bool):
                    errors.append(f"options.{key}: must be true or false")
            elif (
                not isinstance(value, int)
                or isinstance(value, bool)
                or value < 0
                or ((key.endswith("PageSize") or key == "pageSize") and value < 1)
            ):
                errors.append(f"options.{key}: must be a {'positive' if 'age' in key else 'non-negative'} integer")
    directory = doc.get("directory")
    if isinstance(directory, dict):
        for key in directory:
            if key not in DIRECTORY_KEYS:
                errors.append(f"directory.{key}: unknown key (allowed: {', '.join(DIRECTORY_KEYS)})")
        for key, kind in DIRECTORY_TYPES.items():
            if key in directory and not isinstance(directory[key], kind):
                errors.append(f"directory.{key}: must be {_A_TYPE[kind]}")


def _require(obj: Any, path: str, keys: tuple[str, ...], errors: list[str]) -> bool:
    if not isinstance(obj, dict):
        errors.append(f"{path}: must be an object")
        return False
    ok = True
    for key in keys:
        cur: Any = obj
        for part in key.split("."):
            cur = cur.get(part) if isinstance(cur, dict) else None
        if cur in (None, ""):
            errors.append(f"{path}.{key}: required")
            ok = False
    return ok


# ------------------------------------------------------------------------------------------------ normalising


def _normalise(doc: dict[str, Any], errors: list[str]) -> None:
    tenant = doc["tenant"]
    for path, obj in [("tenant", tenant)] + [
        (f"otherTenants[{i}]", o) for i, o in enumerate(doc.setdefault("otherTenants", []))
    ]:
        if not isinstance(obj, dict) or not (obj.get("id") or obj.get("tenantId")):
            errors.append(f"{path}.id: required (the tenant GUID)")
        else:
            _fill_tenant(obj)
    tid = tenant.get("tenantId", "")
    options = doc.setdefault("options", {})
    for key, (_, default) in OPTION_DEFAULTS.items():
        options.setdefault(key, default)

    subs: dict[str, dict[str, Any]] = {}
    for i, sub in enumerate(doc.setdefault("subscriptions", [])):
        if not _require(sub, f"subscriptions[{i}]", ("subscriptionId",), errors):
            continue
        sid = sub["subscriptionId"]
        sub.setdefault("id", f"/subscriptions/{sid}")
        sub.setdefault("authorizationSource", "RoleBased")
        sub.setdefault("managedByTenants", [])
        sub.setdefault("tenantId", tid)
        sub.setdefault("displayName", f"Subscription {sid[:8]}")
        sub.setdefault("state", "Enabled")
        sub.setdefault(
            "subscriptionPolicies",
            {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"},
        )
        subs[sid.lower()] = sub

    _normalise_management_groups(doc, subs, tid, errors)

    groups: dict[str, dict[str, Any]] = {}
    for i, rg in enumerate(doc.setdefault("resourceGroups", [])):
        path = f"resourceGroups[{i}]"
        if not _require(rg, path, ("id",), errors):
            continue
        parts = rg["id"].strip("/").split("/")
        if len(parts) != 4 or parts[0].lower() != "subscriptions" or parts[2].lower() != "resourcegroups":
            errors.append(f"{path}.id: must look like /subscriptions/{{id}}/resourceGroups/{{name}}")
            continue
        if parts[1].lower() not in subs:
            errors.append(f"{path}.id: subscription {parts[1]} is not in subscriptions")
        rg.setdefault("name", parts[3])
        rg.setdefault("type", "Microsoft.Resources/resourceGroups")
        rg.setdefault("location", "eastus")
        rg.setdefault("properties", {}).setdefault("provisioningState", "Succeeded")
        groups[rg["id"].lower()] = rg

    for i, res in enumerate(doc.setdefault("resources", [])):
        _normalise_resource(res, f"resources[{i}]", groups, errors)

    _check_unique_subdomains(doc, errors)
    _normalise_role_definitions(doc, errors)
    _normalise_directory(doc, errors)
    _normalise_role_assignments(doc, errors)
    _normalise_deny_assignments(doc, errors)
    _normalise_target(doc, errors)


def _fill_tenant(tenant: dict[str, Any]) -> None:
    """A tenant is described like Graph's ``organization``: ``id`` is the tenant GUID (``tenantId`` is accepted
    as an alias and always filled). ARM's ``GET /tenants`` shape is built from it by the ARM service."""
    tid = str(tenant.get("tenantId") or tenant.get("id") or "").rsplit("/", 1)[-1]
    tenant["id"] = tid
    tenant["tenantId"] = tid
    tenant.setdefault("tenantCategory", "Home")
    tenant.setdefault("countryCode", "US")
    tenant.setdefault("displayName", "Contoso")
    tenant.setdefault("defaultDomain", "contoso.onmicrosoft.com")
    tenant.setdefault("domains", [tenant["defaultDomain"]])
    tenant.setdefault("tenantType", "AAD")


def _normalise_management_groups(doc: dict[str, Any], subs: Mapping[str, Any], tid: str, errors: list[str]) -> None:
    ids: set[str] = set()
    mgs = doc.setdefault("managementGroups", [])
    for i, mg in enumerate(mgs):
        path = f"managementGroups[{i}]"
        if not isinstance(mg, dict) or not (mg.get("id") or mg.get("name")):
            errors.append(f"{path}: needs an id (/providers/Microsoft.Management/managementGroups/{{name}}) or name")
            continue
        name = mg.setdefault("name", str(mg.get("id", "")).rstrip("/").rsplit("/", 1)[-1])
        mg.setdefault("id", f"/providers/Microsoft.Management/managementGroups/{name}")
        mg.setdefault("type", "Microsoft.Management/managementGroups")
        props = mg.setdefault("properties", {})
        props.setdefault("displayName", name)
        props.setdefault("tenantId", tid)
        props.setdefault("details", {}).setdefault("parent", None)
        ids.add(mg["id"].lower())
        for j, sid in enumerate(mg.setdefault("x-twin-subscriptions", [])):
            if str(sid).lower() not in subs:
                errors.append(f"{path}.x-twin-subscriptions[{j}]: subscription {sid} is not in subscriptions")
    for i, mg in enumerate(mgs):
        parent = ((mg.get("properties") or {}).get("details") or {}).get("parent") if isinstance(mg, dict) else None
        if isinstance(parent, dict) and parent.get("id") and parent["id"].lower() not in ids:
            errors.append(f"managementGroups[{i}].properties.details.parent.id: {parent['id']} is not a listed group")


def _normalise_resource(res: Any, path: str, groups: Mapping[str, Any], errors: list[str]) -> None:
    if not _require(res, path, ("id",), errors):
        return
    parts = res["id"].strip("/").split("/")
    # /subscriptions/s/resourceGroups/rg/providers/NS/type/name[/childType/childName...]
    if (
        len(parts) < 8
        or len(parts) % 2 != 0
        or parts[0].lower() != "subscriptions"
        or parts[2].lower() != "resourcegroups"
        or parts[4].lower() != "providers"
    ):
        errors.append(
            f"{path}.id: must look like /subscriptions/{{s}}/resourceGroups/{{rg}}/providers/{{ns}}/{{type}}/{{name}}"
        )
        return
    rg_id = "/" + "/".join(parts[:4])
    rg = groups.get(rg_id.lower())
    if rg is None:
        errors.append(f"{path}.id: resource group {rg_id} is not in resourceGroups")
    type_segments = [parts[6]] + [parts[k] for k in range(8, len(parts), 2)]
    res.setdefault("name", parts[-1])  # ARM answers child resources with their own name only
    res.setdefault("type", "/".join([parts[5], *type_segments]))
    if res["type"].lower() != DEPLOYMENT_TYPE:
        res.setdefault("location", (rg or {}).get("location", "eastus"))
    props = res.setdefault("properties", {})
    if not isinstance(props, dict):
        errors.append(f"{path}.properties: must be an object")
        return
    props.setdefault("provisioningState", "Succeeded")
    if res["type"].lower() == ACCOUNT_TYPE:
        res.setdefault("kind", "OpenAI")
        res.setdefault("sku", {"name": "S0"})
        props.setdefault("publicNetworkAccess", "Enabled")
        sub = props.get("customSubDomainName")
        if sub is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{0,62}", str(sub)):
            errors.append(f"{path}.properties.customSubDomainName: invalid subdomain {sub!r}")
        keys = res.get("x-twin-keys")
        if keys is not None and not (isinstance(keys, list) and all(isinstance(k, str) for k in keys)):
            errors.append(f"{path}.x-twin-keys: must be a list of strings")
        acls = props.get("networkAcls")
        if acls is not None and (not isinstance(acls, dict) or acls.get("defaultAction") not in ("Allow", "Deny")):
            errors.append(f"{path}.properties.networkAcls.defaultAction: must be Allow or Deny")
        if props["publicNetworkAccess"] not in ("Enabled", "Disabled"):
            errors.append(f"{path}.properties.publicNetworkAccess: must be Enabled or Disabled")


def _check_unique_subdomains(doc: Mapping[str, Any], errors: list[str]) -> None:
    """Custom subdomains are globally unique in Azure; on the twin they also name the data-plane route."""
    seen: dict[str, int] = {}
    for i, res in enumerate(doc.get("resources", [])):
        if not isinstance(res, dict) or str(res.get("type", "")).lower() != ACCOUNT_TYPE:
            continue
        sub = str((res.get("properties") or {}).get("customSubDomainName") or "").lower()
        if sub and sub in seen:
            errors.append(
                f"resources[{i}].properties.customSubDomainName: {sub!r} is already used by resources[{seen[sub]}]"
            )
        elif sub:
            seen[sub] = i


_ACTION_LISTS = ("actions", "notActions", "dataActions", "notDataActions")


def _permission_blocks(permissions: list[Any], path: str, errors: list[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """The permission blocks of a role definition or deny assignment (``path``), each with its four action lists
    defaulted to empty, as ARM returns them; a block that is not an object is an error and skipped."""
    for j, perm in enumerate(permissions):
        if not isinstance(perm, dict):
            errors.append(f"{path}.properties.permissions[{j}]: must be an object")
            continue
        for key in _ACTION_LISTS:
            perm.setdefault(key, [])
        yield j, perm


def _normalise_role_definitions(doc: dict[str, Any], errors: list[str]) -> None:
    """Entries are either a built-in role's name / GUID (a reference, kept as the full built-in definition)
    or a full custom role definition object (ARM shape)."""
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(doc.setdefault("roleDefinitions", [])):
        path = f"roleDefinitions[{i}]"
        if isinstance(entry, str):
            found = roles.find_builtin(entry)
            if found is None:
                errors.append(
                    f"{path}: {entry!r} is not a shipped built-in role ({', '.join(roles.builtin_role_names())})"
                )
            else:
                out.append(found)
            continue
        if not _require(entry, path, ("name", "properties.roleName", "properties.permissions"), errors):
            continue
        props = entry["properties"]
        props.setdefault("type", "CustomRole")
        props.setdefault("description", "")
        props.setdefault("assignableScopes", ["/"])
        for key in ("createdOn", "updatedOn", "createdBy", "updatedBy"):
            props.setdefault(key, None)
        for j, perm in _permission_blocks(props["permissions"], path, errors):
            for key in _ACTION_LISTS:
                if not isinstance(perm[key], list):
                    errors.append(f"{path}.properties.permissions[{j}].{key}: must be a list of strings")
        entry.setdefault("type", "Microsoft.Authorization/roleDefinitions")
        scope0 = props["assignableScopes"][0] if props["assignableScopes"] else "/"
        entry.setdefault("id", roles.role_definition_id(entry["name"], scope0))
        out.append(entry)
    doc["roleDefinitions"] = out


def find_role_definition(doc: Mapping[str, Any], ref: str) -> Mapping[str, Any] | None:
    """A role definition by full id, GUID or role name: the scenario's own first, then the shipped built-ins.
    Read-only: built-ins are shared."""
    key = ref.strip().rstrip("/").rsplit("/", 1)[-1].lower()
    for rd in doc.get("roleDefinitions", []):
        if rd.get("name", "").lower() == key or rd.get("properties", {}).get("roleName", "").lower() == key:
            return rd  # type: ignore[no-any-return]
    return roles.builtin_view(key)


def _normalise_directory(doc: dict[str, Any], errors: list[str]) -> None:
    directory = doc.setdefault("directory", {})
    for key in DIRECTORY_KEYS:
        directory.setdefault(key, {} if key in ("memberships", "permissions") else [])
    required = {
        "users": ("id", "userPrincipalName"),
        "groups": ("id",),
        "servicePrincipals": ("id", "appId"),
        "applications": ("id", "appId"),
        "conditionalAccessPolicies": ("id",),
    }
    known: set[str] = set()
    for key, keys in required.items():
        for i, obj in enumerate(directory[key]):
            if _require(obj, f"directory.{key}[{i}]", keys, errors):
                if key in ("users", "groups", "servicePrincipals"):  # what memberships may name
                    if obj["id"].lower() in known:
                        errors.append(f"directory.{key}[{i}].id: {obj['id']} is used by another directory object")
                    known.add(obj["id"].lower())
    for obj in directory["users"]:
        if isinstance(obj, dict):
            obj.setdefault("displayName", obj.get("userPrincipalName", "").split("@")[0])
            obj.setdefault("accountEnabled", True)
            obj.setdefault("userType", "Member")
    for obj in directory["servicePrincipals"]:
        if isinstance(obj, dict):
            obj.setdefault("servicePrincipalType", "Application")
            obj.setdefault("accountEnabled", True)
            obj.setdefault("appOwnerOrganizationId", doc["tenant"].get("tenantId"))
    for obj in directory["applications"]:
        if isinstance(obj, dict):
            obj.setdefault("passwordCredentials", [])
            obj.setdefault("keyCredentials", [])
            obj.setdefault("signInAudience", "AzureADMyOrg")
    group_ids = {g["id"].lower() for g in directory["groups"] if isinstance(g, dict) and "id" in g}
    for gid, members in directory["memberships"].items():
        if gid.lower() not in group_ids:
            errors.append(f"directory.memberships.{gid}: not a group in directory.groups")
        if not isinstance(members, list):
            errors.append(f"directory.memberships.{gid}: must be a list of member object ids")
            continue
        for j, member in enumerate(members):
            if str(member).lower() not in known:
                errors.append(f"directory.memberships.{gid}[{j}]: {member} is not a user, group or service principal")
    for oid, perms in directory["permissions"].items():
        if not isinstance(perms, list) or not all(isinstance(p, str) for p in perms):
            errors.append(f"directory.permissions.{oid}: must be a list of permission names")


def principal_type(doc: Mapping[str, Any], object_id: str) -> str:
    """ARM's principalType for a directory object id: User, Group or ServicePrincipal (User if unknown)."""
    directory = doc.get("directory", {})
    oid = object_id.lower()
    for key, kind in (("groups", "Group"), ("servicePrincipals", "ServicePrincipal"), ("users", "User")):
        if any(isinstance(o, dict) and str(o.get("id", "")).lower() == oid for o in directory.get(key, [])):
            return kind
    return "User"


def _normalise_role_assignments(doc: dict[str, Any], errors: list[str]) -> None:
    for i, ra in enumerate(doc.setdefault("roleAssignments", [])):
        path = f"roleAssignments[{i}]"
        if not _require(
            ra, path, ("properties.principalId", "properties.roleDefinitionId", "properties.scope"), errors
        ):
            continue
        props = ra["properties"]
        scope = "/" + props["scope"].strip("/") if props["scope"].strip("/") else "/"
        props["scope"] = scope
        rd = find_role_definition(doc, props["roleDefinitionId"])
        if rd is None:
            errors.append(
                f"{path}.properties.roleDefinitionId: {props['roleDefinitionId']!r} is neither a role "
                "in roleDefinitions nor a shipped built-in role"
            )
            continue
        props["roleDefinitionId"] = roles.role_definition_id(rd["name"], scope)
        if "principalType" not in props:  # not setdefault: the directory scan is costly at 100k assignments
            props["principalType"] = principal_type(doc, props["principalId"])
        for key in ("condition", "conditionVersion", "delegatedManagedIdentityResourceId", "description"):
            props.setdefault(key, None)
        props.setdefault("createdOn", "2024-01-01T00:00:00Z")
        props.setdefault("updatedOn", props["createdOn"])
        props.setdefault("createdBy", None)
        props.setdefault("updatedBy", None)
        name = ra.setdefault("name", str(uuid.uuid5(_UUID_NS, f"{scope}|{props['principalId']}|{rd['name']}".lower())))
        base = "" if scope == "/" else scope
        ra.setdefault("id", f"{base}/providers/Microsoft.Authorization/roleAssignments/{name}")
        ra.setdefault("type", "Microsoft.Authorization/roleAssignments")


def _normalise_deny_assignments(doc: dict[str, Any], errors: list[str]) -> None:
    for i, da in enumerate(doc.setdefault("denyAssignments", [])):
        path = f"denyAssignments[{i}]"
        if not _require(da, path, ("properties.scope", "properties.permissions", "properties.principals"), errors):
            continue
        props = da["properties"]
        scope = "/" + props["scope"].strip("/") if props["scope"].strip("/") else "/"
        props["scope"] = scope
        for _, perm in _permission_blocks(props["permissions"], path, errors):
            perm.setdefault("condition", None)
            perm.setdefault("conditionVersion", None)
        for j, principal in enumerate(props["principals"]):
            if not _require(principal, f"{path}.properties.principals[{j}]", ("id",), errors):
                continue
            principal.setdefault(
                "type", "SystemDefined" if principal["id"] == EVERYONE else principal_type(doc, principal["id"])
            )
        props.setdefault("excludePrincipals", [])
        props.setdefault("doNotApplyToChildScopes", False)
        props.setdefault("isSystemProtected", True)
        props.setdefault("description", "")
        name = da.setdefault("name", str(uuid.uuid5(_UUID_NS, f"deny|{scope}|{i}")))
        props.setdefault("denyAssignmentName", f"Deny assignment {name[:8]}")
        base = "" if scope == "/" else scope
        da.setdefault("id", f"{base}/providers/Microsoft.Authorization/denyAssignments/{name}")
        da.setdefault("type", "Microsoft.Authorization/denyAssignments")


def _normalise_target(doc: dict[str, Any], errors: list[str]) -> None:
    """Fill the target from the scenario when it is left out: the home tenant, the first subscription, the
    first Cognitive Services account; ``endpoint`` is filled by :func:`bind_endpoints`."""
    target = doc.setdefault("target", {})
    target.setdefault("tenantId", doc["tenant"].get("tenantId"))
    if doc["subscriptions"]:
        target.setdefault("subscriptionId", doc["subscriptions"][0].get("subscriptionId"))
    accounts = [r for r in doc["resources"] if str(r.get("type", "")).lower() == ACCOUNT_TYPE]
    if accounts:
        target.setdefault("resourceId", accounts[0]["id"])
    target.setdefault("profile", "openai")
    rid = target.get("resourceId")
    if rid and not any(str(r.get("id", "")).lower() == str(rid).lower() for r in doc["resources"]):
        errors.append(f"target.resourceId: {rid} is not in resources")


# ------------------------------------------------------------------------------------------------ endpoints


def account_endpoint(account: Mapping[str, Any], base_url: str, *, named_hosts: bool = False) -> str:
    """The twin URL of an account's data plane: ``{base}/dataplane/{customSubDomainName}/`` with a custom
    subdomain, else the shared regional endpoint ``{base}/dataplane/regional/{location}/`` (which, like the
    real ``{region}.api.cognitive.microsoft.com``, accepts keys but refuses Entra tokens). An account's
    ``x-twin-dataPlaneBase`` replaces ``base_url`` — a host fault (preflight.twin.hostfaults) puts the data
    plane on a host that does not resolve or presents an untrusted certificate. With ``named_hosts`` the account
    has a name of its own (:func:`preflight.twin.hosts.account_endpoint`), as in Azure."""
    if named_hosts and not account.get("x-twin-dataPlaneBase"):
        return hosts.account_endpoint(account)
    base = str(account.get("x-twin-dataPlaneBase") or base_url).rstrip("/")
    sub = (account.get("properties") or {}).get("customSubDomainName")
    if sub:
        return f"{base}/dataplane/{str(sub).lower()}/"
    return f"{base}/dataplane/regional/{str(account.get('location', 'eastus')).lower()}/"


def bind_endpoints(scenario: Mapping[str, Any], base_url: str, *, named_hosts: bool = False) -> dict[str, Any]:
    """A copy of ``scenario`` whose Cognitive Services accounts' ``properties.endpoint`` / ``endpoints`` point
    at the twin listening on ``base_url``, and whose ``target.endpoint`` names the target account's endpoint.

    Called by the ``Twin`` once it knows its port. The original endpoint (if the scenario gave one, e.g. a
    real ``https://contoso.openai.azure.com/``) is kept in ``x-twin-originalEndpoint``; a ``target.endpoint``
    equal to an original endpoint is rewritten too.
    """
    doc = copy.deepcopy(dict(scenario))
    originals: dict[str, str] = {}
    target = doc.setdefault("target", {})
    for res in doc.get("resources", []):
        if str(res.get("type", "")).lower() != ACCOUNT_TYPE:
            continue
        props = res.setdefault("properties", {})
        url = account_endpoint(res, base_url, named_hosts=named_hosts)
        original = res.get("x-twin-originalEndpoint", props.get("endpoint"))
        if original and original != url:
            res["x-twin-originalEndpoint"] = original
            originals[str(original).rstrip("/").lower()] = url
        if props.get("endpoint"):  # an earlier binding (another port) maps to the new one too
            originals[str(props["endpoint"]).rstrip("/").lower()] = url
        props["endpoint"] = url
        endpoints = props.get("endpoints")
        if isinstance(endpoints, dict) and endpoints:
            props["endpoints"] = {k: url for k in endpoints}
        elif str(res.get("kind", "")).lower() == "openai":
            props["endpoints"] = {"OpenAI Language Model Instance API": url}
        if str(target.get("resourceId", "")).lower() == str(res["id"]).lower() and not target.get("endpoint"):
            target["endpoint"] = url
    wanted = str(target.get("endpoint") or "").rstrip("/").lower()
    if wanted in originals:
        target["endpoint"] = originals[wanted]
    return doc


def option(doc: Mapping[str, Any], key: str) -> Any:
    """A scenario option with its documented default (for states built from un-normalised mappings)."""
    return (doc.get("options") or {}).get(key, OPTION_DEFAULTS[key][1])
