"""Microsoft Graph v1.0's default property sets for service principals and applications, filled in for the twin.

A scenario names the ~10 fields a test cares about; Graph v1.0 answers a ``GET`` without ``$select`` with its
whole default set (~35 properties), most of them null or empty for an ordinary app. The interop suite (the real
Azure CLI, ``az ad sp show`` / ``az ad app show``; issue 21) showed the twin's sparse objects, so code that reads
a property it never saw in a test (``appDisplayName``, ``tags``, ``web.redirectUris`` …) met only ``KeyError``
-free twins. Keys and shapes follow the response examples of the Graph v1.0 reference
(microsoftgraph/microsoft-graph-docs-contrib: api-reference/v1.0/api/serviceprincipal-get.md and
application-get.md, resources/serviceprincipal.md and application.md). A scenario's own value always wins;
derived defaults are the ones Entra computes (a service principal's ``appDisplayName`` is its application's
display name).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

_INFO = {
    "logoUrl": None,
    "marketingUrl": None,
    "privacyStatementUrl": None,
    "supportUrl": None,
    "termsOfServiceUrl": None,
}

SERVICE_PRINCIPAL: dict[str, Any] = {
    "deletedDateTime": None,
    "accountEnabled": True,
    "alternativeNames": [],
    "appDescription": None,
    "applicationTemplateId": None,
    "appRoleAssignmentRequired": False,
    "description": None,
    "disabledByMicrosoftStatus": None,
    "homepage": None,
    "loginUrl": None,
    "logoutUrl": None,
    "notes": None,
    "notificationEmailAddresses": [],
    "preferredSingleSignOnMode": None,
    "preferredTokenSigningKeyThumbprint": None,
    "replyUrls": [],
    "samlSingleSignOnSettings": None,
    "servicePrincipalNames": [],
    "tags": [],
    "tokenEncryptionKeyId": None,
    "addIns": [],
    "appRoles": [],
    "info": _INFO,
    "keyCredentials": [],
    "oauth2PermissionScopes": [],
    "passwordCredentials": [],
    "resourceSpecificApplicationPermissions": [],
    "verifiedPublisher": {"displayName": None, "verifiedPublisherId": None, "addedDateTime": None},
}

APPLICATION: dict[str, Any] = {
    "deletedDateTime": None,
    "applicationTemplateId": None,
    "disabledByMicrosoftStatus": None,
    "createdDateTime": None,
    "description": None,
    "groupMembershipClaims": None,
    "identifierUris": [],
    "isDeviceOnlyAuthSupported": None,
    "isFallbackPublicClient": None,
    "notes": None,
    "publisherDomain": None,
    "serviceManagementReference": None,
    "signInAudience": "AzureADMyOrg",
    "tags": [],
    "tokenEncryptionKeyId": None,
    "samlMetadataUrl": None,
    "defaultRedirectUri": None,
    "certification": None,
    "optionalClaims": None,
    "requestSignatureVerification": None,
    "addIns": [],
    "api": {
        "acceptMappedClaims": None,
        "knownClientApplications": [],
        "requestedAccessTokenVersion": None,
        "oauth2PermissionScopes": [],
        "preAuthorizedApplications": [],
    },
    "appRoles": [],
    "info": _INFO,
    "keyCredentials": [],
    "parentalControlSettings": {"countriesBlockedForMinors": [], "legalAgeGroupRule": "Allow"},
    "passwordCredentials": [],
    "publicClient": {"redirectUris": []},
    "requiredResourceAccess": [],
    "verifiedPublisher": {"displayName": None, "verifiedPublisherId": None, "addedDateTime": None},
    "web": {
        "homePageUrl": None,
        "logoutUrl": None,
        "redirectUris": [],
        "implicitGrantSettings": {"enableAccessTokenIssuance": False, "enableIdTokenIssuance": False},
        "redirectUriSettings": [],
    },
    "spa": {"redirectUris": []},
}

_DEFAULTS = {"servicePrincipals": SERVICE_PRINCIPAL, "applications": APPLICATION}

# A user is the other way round: Graph v1.0 answers GET /me, /users/{id}, /users and directoryObjects/getByIds
# without $select with a small default subset, and every other property (userType, accountEnabled,
# onPremisesSyncEnabled …) only when $select names it ("Only a subset of user properties are returned by
# default"; api-reference/v1.0/api/user-get.md, directoryobject-getbyids.md, resources/user.md's "Returned by
# default" notes). The twin answering the whole scenario object hid product reads that real Graph never fills.
USER_DEFAULT_PROPERTIES = (
    "businessPhones",
    "displayName",
    "givenName",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
    "id",
)


def default_view(obj: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """What Graph answers for ``obj`` without ``$select``: a user's default subset (absent ones null, phones an
    empty list) plus the ``@odata.*`` annotations; any other kind whole."""
    if kind != "users":
        return dict(obj)
    view = {k: v for k, v in obj.items() if k.startswith("@odata.")}
    view.update({k: obj.get(k, [] if k == "businessPhones" else None) for k in USER_DEFAULT_PROPERTIES})
    return view


def complete(obj: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """``obj`` with every default property of ``kind`` (``servicePrincipals`` / ``applications``) it lacks;
    other kinds unchanged. Defaults are deep-copied: an answer never shares a list with the next one."""
    out = dict(obj)
    defaults = _DEFAULTS.get(kind)
    if defaults is None:
        return out
    for key, value in defaults.items():
        out.setdefault(key, copy.deepcopy(value))
    if kind == "servicePrincipals":
        out.setdefault("appDisplayName", out.get("displayName"))
        managed = out.get("servicePrincipalType") == "ManagedIdentity"
        out.setdefault("signInAudience", None if managed else "AzureADMyOrg")
    return out
