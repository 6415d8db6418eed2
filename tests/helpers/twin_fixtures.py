"""Twin fixtures: ONE twin per test session, reset per test.

(PYTEST_DONT_REWRITE: loaded both as a plugin and by import; its asserts carry their own messages.)

Import into ``tests/conftest.py``::

    from helpers.twin_fixtures import *  # noqa: F401,F403  (twin_session, twin, twin_env, core_twin, ...)

The session twin is a module-level singleton, so importing these fixtures in several places never starts a
second server. ``twin`` resets it to the default scenario before each test (``use()`` also clears the request
log and fault counters) and fails the test if a handler crashed inside the twin. ``twin_env`` points *this*
process at the twin (CA bundle, authority, managed identity, ``az`` on PATH) through ``monkeypatch``, for
tests that build azure-identity credentials in-process; subprocesses take ``twin.process_environment()``.
"""

from __future__ import annotations

import atexit
import copy
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from preflight.twin import Twin
from preflight.twin.instance import INHERITED_IDENTITY_VARIABLES

__all__ = [
    "IDS",
    "apply_environment",
    "core_env",
    "core_scenario",
    "core_twin",
    "named_session_twin",
    "named_twin",
    "named_twin_session",
    "session_twin",
    "twin",
    "twin_env",
    "twin_session",
]

# Stable ids for the core test scenario (readable on purpose: they show up in assertion messages).
IDS = {
    "tenant": "aaaaaaaa-0000-4000-8000-000000000001",
    "other_tenant": "aaaaaaaa-0000-4000-8000-000000000002",
    "subscription": "bbbbbbbb-0000-4000-8000-000000000001",
    "secret_app": "cccccccc-0000-4000-8000-000000000001",
    "secret_sp": "dddddddd-0000-4000-8000-000000000001",
    "expired_app": "cccccccc-0000-4000-8000-000000000002",
    "cert_app": "cccccccc-0000-4000-8000-000000000003",
    "cert_sp": "dddddddd-0000-4000-8000-000000000003",
    "wi_app": "cccccccc-0000-4000-8000-000000000004",
    "wi_sp": "dddddddd-0000-4000-8000-000000000004",
    "no_sp_app": "cccccccc-0000-4000-8000-000000000005",
    "disabled_app": "cccccccc-0000-4000-8000-000000000006",
    "mi_client": "cccccccc-0000-4000-8000-000000000007",
    "mi_principal": "dddddddd-0000-4000-8000-000000000007",
    "alice": "eeeeeeee-0000-4000-8000-000000000001",
}
SECRET = "twin-secret-value~0"
WI_ISSUER = "https://oidc.twin.test/cluster-1/"
WI_SUBJECT = "system:serviceaccount:default:workload"
MI_RESOURCE_ID = (
    f"/subscriptions/{IDS['subscription']}/resourcegroups/rg-twin/providers/"
    "Microsoft.ManagedIdentity/userAssignedIdentities/twin-mi"
)


def _app(key: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": IDS[key].replace("cccccccc", "ffffffff"),
        "appId": IDS[key],
        "displayName": name,
        "publisherDomain": "contoso.onmicrosoft.com",
        "signInAudience": "AzureADMyOrg",
        **extra,
    }


def _sp(sp_key: str, app_key: str, name: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": IDS[sp_key],
        "appId": IDS[app_key],
        "displayName": name,
        "servicePrincipalType": "Application",
        "accountEnabled": True,
        "appOwnerOrganizationId": IDS["tenant"],
        **extra,
    }


def _secret(value: str, end: str) -> dict[str, Any]:
    return {
        "keyId": str(uuid.uuid5(uuid.NAMESPACE_URL, "twin-secret:" + value)),
        "displayName": "twin",
        "hint": value[:3],
        "startDateTime": "2024-01-01T00:00:00Z",
        "endDateTime": end,
        "secretText": None,
        "x-twin-secretText": value,
    }


_CORE: dict[str, Any] = {
    "name": "twin-core-tests",
    "tenant": {"tenantId": IDS["tenant"], "displayName": "Contoso", "defaultDomain": "contoso.onmicrosoft.com"},
    "otherTenants": [
        {"tenantId": IDS["other_tenant"], "displayName": "Fabrikam", "defaultDomain": "fabrikam.onmicrosoft.com"}
    ],
    "subscriptions": [{"subscriptionId": IDS["subscription"], "displayName": "Twin Subscription"}],
    "directory": {
        "users": [
            {
                "id": IDS["alice"],
                "userPrincipalName": "alice@contoso.onmicrosoft.com",
                "displayName": "Alice Example",
                "givenName": "Alice",
                "surname": "Example",
                "mail": "alice@contoso.com",
                "userType": "Member",
                "accountEnabled": True,
            }
        ],
        "applications": [
            _app("secret_app", "secret-app", passwordCredentials=[_secret(SECRET, "2099-01-01T00:00:00Z")]),
            _app("expired_app", "expired-app", passwordCredentials=[_secret("old-secret", "2020-01-01T00:00:00Z")]),
            _app("cert_app", "cert-app", keyCredentials=[{"x-twin-generate": True}]),
            _app(
                "wi_app",
                "wi-app",
                federatedIdentityCredentials=[
                    {
                        "name": "aks",
                        "issuer": WI_ISSUER,
                        "subject": WI_SUBJECT,
                        "audiences": ["api://AzureADTokenExchange"],
                        "description": "AKS workload",
                    }
                ],
            ),
            _app("no_sp_app", "no-sp-app", passwordCredentials=[_secret(SECRET, "2099-01-01T00:00:00Z")]),
            _app("disabled_app", "disabled-app", passwordCredentials=[_secret(SECRET, "2099-01-01T00:00:00Z")]),
        ],
        "servicePrincipals": [
            _sp("secret_sp", "secret_app", "secret-app"),
            _sp("cert_sp", "cert_app", "cert-app"),
            _sp("wi_sp", "wi_app", "wi-app"),
            {
                "id": "dddddddd-0000-4000-8000-000000000006",
                "appId": IDS["disabled_app"],
                "displayName": "disabled-app",
                "servicePrincipalType": "Application",
                "accountEnabled": False,
            },
            {
                "id": "dddddddd-0000-4000-8000-000000000002",
                "appId": IDS["expired_app"],
                "displayName": "expired-app",
                "servicePrincipalType": "Application",
                "accountEnabled": True,
            },
            {
                "id": IDS["mi_principal"],
                "appId": IDS["mi_client"],
                "displayName": "twin-mi",
                "servicePrincipalType": "ManagedIdentity",
                "accountEnabled": True,
                "alternativeNames": ["isExplicit=True", MI_RESOURCE_ID],
            },
        ],
    },
    "signIn": {
        "environment": None,
        "workloadIdentity": None,
        "managedIdentity": {"clientId": IDS["mi_client"], "principalId": IDS["mi_principal"], "style": "appService"},
        "azureCli": {
            "loggedIn": True,
            "user": "alice@contoso.onmicrosoft.com",
            "tenantId": IDS["tenant"],
            "subscriptionId": IDS["subscription"],
        },
    },
}


def core_scenario(**overrides: Any) -> dict[str, Any]:
    """A fresh copy of the core test scenario; top-level keys in ``overrides`` replace the defaults and
    ``signIn`` keys are merged (``core_scenario(signIn={"azureCli": None})``)."""
    doc = copy.deepcopy(_CORE)
    for key, value in overrides.items():
        if key == "signIn":
            doc["signIn"].update(copy.deepcopy(value))
        else:
            doc[key] = copy.deepcopy(value)
    return doc


def _default_scenario() -> Any:
    """The built-in ``healthy`` scenario once it exists, else the core test scenario."""
    try:
        from preflight.twin.scenario import list_scenarios

        if "healthy" in list_scenarios():
            return "healthy"
    except ImportError:
        pass
    return core_scenario()


_lock = threading.Lock()
_session: Twin | None = None


def session_twin() -> Twin:
    """The process-wide twin (started on first use, stopped at exit)."""
    global _session
    with _lock:
        if _session is None:
            _session = Twin(core_scenario()).start()
            atexit.register(_session.stop)
        return _session


_named: Twin | None = None


def named_session_twin() -> Twin:
    """The process-wide twin with named hosts (``login.twin.test`` …; started on first use, stopped at exit)."""
    global _named
    with _lock:
        if _named is None:
            _named = Twin("healthy", named_hosts=True).start()
            atexit.register(_named.stop)
        return _named


def session_twins() -> list[Twin]:
    """Every twin this process started (for the session's read-only proof)."""
    return [t for t in (_session, _named) if t is not None]


def apply_environment(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Make ``os.environ`` look like a process started under the twin (inherited identity variables removed)."""
    for name in INHERITED_IDENTITY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def twin_session() -> Twin:
    """The session's twin, in whatever state the last test left it (prefer ``twin``)."""
    return session_twin()


@pytest.fixture
def twin(twin_session: Twin) -> Iterator[Twin]:
    """The session twin reset to the default scenario; fails the test if the twin itself crashed."""
    twin_session.use(_default_scenario())
    yield twin_session
    assert twin_session.errors() == [], "the twin crashed while handling a request:\n" + "\n".join(
        twin_session.errors()
    )


@pytest.fixture(scope="session")
def named_twin_session() -> Twin:
    """The session's named-hosts twin, in whatever state the last test left it (prefer ``named_twin``)."""
    return named_session_twin()


@pytest.fixture
def named_twin(named_twin_session: Twin) -> Iterator[Twin]:
    """The named-hosts twin reset to ``healthy``; fails the test if the twin itself crashed."""
    named_twin_session.use("healthy")
    yield named_twin_session
    assert named_twin_session.errors() == [], "the twin crashed while handling a request:\n" + "\n".join(
        named_twin_session.errors()
    )


@pytest.fixture
def core_twin(twin_session: Twin) -> Iterator[Twin]:
    """The session twin serving the core test scenario (see ``IDS``)."""
    twin_session.use(core_scenario())
    yield twin_session
    assert twin_session.errors() == [], "the twin crashed while handling a request:\n" + "\n".join(
        twin_session.errors()
    )


@pytest.fixture
def twin_env(twin_session: Twin, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point this process at the twin (with the current scenario's sign-in variables); returns the variables.

    Request it AFTER ``twin`` / ``core_twin`` (or call ``apply_environment`` after ``use()``), since the
    sign-in variables depend on the scenario being served.
    """
    env = twin_session.environment()
    apply_environment(monkeypatch, env)
    return env


@pytest.fixture
def core_env(core_twin: Twin, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``core_twin`` plus this process pointed at it (see ``twin_env``)."""
    env = core_twin.environment()
    apply_environment(monkeypatch, env)
    return env
