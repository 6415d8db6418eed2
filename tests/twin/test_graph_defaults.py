"""Graph v1.0's default property set on the twin's service principals and applications (issue 21: the real
``az ad sp show`` against the twin showed ~10 fields where Graph answers ~35). Through azure-core's pipeline with
a bearer token, as the product's Graph calls go; ``$select`` still narrows the answer to what was asked."""

from __future__ import annotations

from typing import Any

from azure.core import PipelineClient
from azure.core.pipeline.policies import BearerTokenCredentialPolicy, RetryPolicy
from azure.core.rest import HttpRequest

from helpers.twin_world import APP_ID, SP, credential

from preflight.twin import Twin
from preflight.twin.graph_defaults import APPLICATION, SERVICE_PRINCIPAL

# Keys of the v1.0 reference's response examples (serviceprincipal-get.md, application-get.md), hand-copied so a
# change of the twin's table cannot silently change what is checked.
SP_EXAMPLE_KEYS = {
    "accountEnabled", "addIns", "alternativeNames", "appDisplayName", "appId", "appOwnerOrganizationId",
    "appRoleAssignmentRequired", "appRoles", "disabledByMicrosoftStatus", "displayName", "homepage", "id",
    "verifiedPublisher", "info", "keyCredentials", "logoutUrl", "oauth2PermissionScopes", "passwordCredentials",
    "replyUrls", "resourceSpecificApplicationPermissions", "servicePrincipalNames", "servicePrincipalType",
    "signInAudience", "tags", "tokenEncryptionKeyId",
}  # fmt: skip
APP_EXAMPLE_KEYS = {
    "id", "appId", "createdDateTime", "displayName", "identifierUris", "signInAudience", "tags", "api", "appRoles",
    "info", "keyCredentials", "passwordCredentials", "publicClient", "requiredResourceAccess", "web", "spa",
    "parentalControlSettings", "verifiedPublisher", "optionalClaims", "groupMembershipClaims", "publisherDomain",
}  # fmt: skip


def _get(twin: Twin, path: str, **params: str) -> dict[str, Any]:
    policy = BearerTokenCredentialPolicy(credential(twin), "https://graph.microsoft.com/.default")
    client: PipelineClient[Any, Any] = PipelineClient(
        twin.base_url, policies=[RetryPolicy(retry_total=0), policy], connection_verify=str(twin.ca_file)
    )
    response = client.send_request(HttpRequest("GET", f"{twin.base_url}/v1.0/{path}", params=params or None))
    assert response.status_code == 200, response.text()
    body: dict[str, Any] = response.json()
    return body


def test_a_service_principal_carries_graphs_default_properties(graph_twin: Twin) -> None:
    sp = _get(graph_twin, f"servicePrincipals/{SP}")
    assert SP_EXAMPLE_KEYS <= set(sp), sorted(SP_EXAMPLE_KEYS - set(sp))
    assert sp["appDisplayName"] == sp["displayName"]  # derived as Entra derives it, when the scenario omits it
    assert sp["tags"] == [] and sp["info"]["logoUrl"] is None and sp["appRoleAssignmentRequired"] is False
    assert set(_get(graph_twin, f"servicePrincipals/{SP}", **{"$select": "id,appId"})) == {
        "@odata.context",
        "id",
        "appId",
    }


def test_an_application_carries_graphs_default_properties(graph_twin: Twin) -> None:
    app = _get(graph_twin, f"applications(appId='{APP_ID}')")
    assert APP_EXAMPLE_KEYS <= set(app), sorted(APP_EXAMPLE_KEYS - set(app))
    assert app["web"]["redirectUris"] == [] and app["api"]["oauth2PermissionScopes"] == []
    assert all(c.get("secretText") is None for c in app["passwordCredentials"])  # secrets still never leave


def test_the_scenarios_own_values_win_and_defaults_are_not_shared() -> None:
    from preflight.twin.graph_defaults import complete

    first = complete({"id": "1", "displayName": "a", "tags": ["x"]}, "servicePrincipals")
    second = complete({"id": "2", "displayName": "b"}, "servicePrincipals")
    assert first["tags"] == ["x"] and second["tags"] == []
    second["replyUrls"].append("https://example.invalid")
    assert SERVICE_PRINCIPAL["replyUrls"] == [] and APPLICATION["web"]["redirectUris"] == []
    assert complete({"id": "u"}, "users") == {"id": "u"}
    assert complete({"servicePrincipalType": "ManagedIdentity"}, "servicePrincipals")["signInAudience"] is None
