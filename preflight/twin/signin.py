"""The scenario's ``signIn`` section: how each credential type is set up for the process under test.

``signIn`` says what a developer's machine would look like: environment variables for a service principal,
a workload-identity token file, a managed identity, an Azure CLI login. This module validates the section (the
scenario loader calls :func:`validate`) and turns it into environment variables (:func:`environment`).

Shape (each key optional, ``null`` = not set up)::

    {"environment": {"clientId", "tenantId", "clientSecret"} | {"clientId", "tenantId", "certificate": true},
     "workloadIdentity": {"clientId", "tenantId", "issuer", "subject", "audience"?},
     "managedIdentity": {"clientId", "principalId", "style": "appService" | "imds",
                         "hostEnvironment"?: {"WEBSITE_SITE_NAME": "…"}},
     "azureCli": {"loggedIn": bool, "user": "<UPN or object id>" | "servicePrincipal": "<appId>",
                  "tenantId", "subscriptionId", "refreshTokenExpired": bool}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from preflight.twin.scenario import unknown_key_errors

DEFAULT_FEDERATED_AUDIENCE = "api://AzureADTokenExchange"
MI_STYLES = ("appService", "imds")

_SECTIONS: dict[str, tuple[set[str], set[str]]] = {
    # section: (required keys, optional keys)
    "environment": ({"clientId", "tenantId"}, {"clientSecret", "certificate", "sendCertificateChain"}),
    "workloadIdentity": ({"clientId", "tenantId", "issuer", "subject"}, {"audience"}),
    "managedIdentity": ({"style"}, {"clientId", "principalId", "hostEnvironment"}),
    "azureCli": ({"loggedIn"}, {"user", "servicePrincipal", "tenantId", "subscriptionId", "refreshTokenExpired"}),
}


def validate(section: Any) -> list[str]:
    """Check a scenario's ``signIn`` section; one message per problem, each naming the bad key."""
    if section is None:
        return []
    if not isinstance(section, Mapping):
        return ["signIn: must be an object"]
    errors = unknown_key_errors("signIn", section, _SECTIONS, f"one of {', '.join(sorted(_SECTIONS))}")
    for name, (required, optional) in _SECTIONS.items():
        value = section.get(name)
        if value is None:
            continue
        where = f"signIn.{name}"
        if not isinstance(value, Mapping):
            errors.append(f"{where}: must be an object or null")
            continue
        for key in sorted(required - set(value)):
            errors.append(f"{where}.{key}: required")
        errors += unknown_key_errors(where, value, required | optional, ", ".join(sorted(required | optional)))
        for key in (
            "clientId",
            "tenantId",
            "principalId",
            "issuer",
            "subject",
            "audience",
            "clientSecret",
            "user",
            "servicePrincipal",
            "subscriptionId",
        ):
            if key in value and value[key] is not None and not isinstance(value[key], str):
                errors.append(f"{where}.{key}: must be a string")
        for key in ("loggedIn", "refreshTokenExpired", "certificate", "sendCertificateChain"):
            if key in value and not isinstance(value[key], bool):
                errors.append(f"{where}.{key}: must be true or false")
    env = section.get("environment")
    if isinstance(env, Mapping) and ("clientSecret" in env) == bool(env.get("certificate")):
        errors.append("signIn.environment: give exactly one of clientSecret or certificate: true")
    mi = section.get("managedIdentity")
    if isinstance(mi, Mapping) and "style" in mi and mi["style"] not in MI_STYLES:
        errors.append(f"signIn.managedIdentity.style: {mi['style']!r} is not one of {', '.join(MI_STYLES)}")
    host = mi.get("hostEnvironment") if isinstance(mi, Mapping) else None
    if host is not None and not (isinstance(host, Mapping) and all(isinstance(v, str) for v in host.values())):
        # the platform variables the host sets (App Service: WEBSITE_SITE_NAME …), exported as they are
        errors.append("signIn.managedIdentity.hostEnvironment: must map variable names to strings")
    cli = section.get("azureCli")
    if isinstance(cli, Mapping) and cli.get("loggedIn") and ("user" in cli) == ("servicePrincipal" in cli):
        errors.append("signIn.azureCli: a logged-in CLI needs exactly one of user or servicePrincipal")
    return errors


def section(scenario: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    """``scenario["signIn"][name]`` or ``None`` when absent or null."""
    sign_in = scenario.get("signIn") or {}
    value = sign_in.get(name)
    return value if isinstance(value, Mapping) else None
