"""Sign a user into a real Azure CLI's config directory without a browser (run by az's own Python).

``az login`` for a user is interactive (browser or device code), which the twin does not serve. What a login
leaves behind is an MSAL token cache (``msal_token_cache.json``: account, refresh token, id token) and a profile
(``azureProfile.json``: the subscriptions the user sees). This script builds both the way ``az login`` does:
MSAL's own ``PublicClientApplication.acquire_token_by_refresh_token`` (the documented path for migrating a
refresh token into MSAL) redeems a refresh token the twin issued to the user, through the twin's token endpoint,
into an MSAL cache; then ``GET /subscriptions`` with the access token lists what the profile holds. Every later
``az`` command then runs MSAL's ordinary silent flow against the twin.

Usage (argv): config_dir authority_host tenant_id refresh_token cloud_name [arm_url] (default: the authority's
origin; the twin's named hosts give ARM its own) — the refresh token is read from
stdin when argv's is ``-`` so it never shows in a process list. Runs with az's interpreter: it imports the
``msal`` that az uses, never the project's.
"""

from __future__ import annotations

import json
import os
import ssl
import sys
import urllib.request
import uuid

AZURE_CLI_CLIENT_ID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"


def main(argv: list[str]) -> int:
    import msal  # az's own copy

    config_dir, authority_host, tenant_id, refresh_token, cloud_name = argv[:5]
    arm = (argv[5] if len(argv) > 5 else authority_host).rstrip("/") + "/"  # ARM's own host (named hosts)
    if refresh_token == "-":
        refresh_token = sys.stdin.readline().strip()
    cache = msal.SerializableTokenCache()
    app = msal.PublicClientApplication(
        AZURE_CLI_CLIENT_ID,
        authority=f"{authority_host.rstrip('/')}/{tenant_id}",
        token_cache=cache,
        instance_discovery=False,
    )
    result = app.acquire_token_by_refresh_token(refresh_token, scopes=["https://management.core.windows.net//.default"])
    if "access_token" not in result:
        sys.stderr.write(
            f"seed_user: refresh token refused: {result.get('error')}: {result.get('error_description')}\n"
        )
        return 1
    claims = result.get("id_token_claims") or {}
    username = str(claims.get("preferred_username") or "")
    request = urllib.request.Request(
        f"{arm}subscriptions?api-version=2022-12-01", headers={"Authorization": f"Bearer {result['access_token']}"}
    )
    context = ssl.create_default_context(cafile=os.environ["REQUESTS_CA_BUNDLE"])
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        subscriptions = json.loads(response.read().decode("utf-8")).get("value", [])
    profile = {
        "installationId": str(uuid.uuid4()),
        "subscriptions": [
            {
                "id": sub["subscriptionId"],
                "name": sub.get("displayName", ""),
                "state": sub.get("state", "Enabled"),
                "user": {"name": username, "type": "user"},
                "isDefault": index == 0,
                "tenantId": sub.get("tenantId", tenant_id),
                "environmentName": cloud_name,
                "homeTenantId": tenant_id,
                "managedByTenants": sub.get("managedByTenants", []),
            }
            for index, sub in enumerate(subscriptions)
        ]
        or [
            {  # what `az login --allow-no-subscriptions` records for a user who sees no subscription
                "id": tenant_id,
                "name": "N/A(tenant level account)",
                "state": "Enabled",
                "user": {"name": username, "type": "user"},
                "isDefault": True,
                "tenantId": tenant_id,
                "environmentName": cloud_name,
                "homeTenantId": tenant_id,
                "managedByTenants": [],
            }
        ],
    }
    with open(os.path.join(config_dir, "msal_token_cache.json"), "w", encoding="utf-8") as handle:
        handle.write(cache.serialize())
    with open(os.path.join(config_dir, "azureProfile.json"), "w", encoding="utf-8-sig") as handle:
        json.dump(profile, handle)
    print(json.dumps({"user": username, "subscriptions": len(subscriptions)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
