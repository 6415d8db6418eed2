"""One fact per process, the way a user finds them today with separate ``az`` commands — the "sequential
commands" baseline of ``bench_check.py`` (not a benchmark itself, not collected by pytest).

    python tests/benchmarks/baseline_fact.py FACT

Each invocation is a fresh interpreter that imports the SDKs it needs, builds a credential from the
environment (service principal: ``AZURE_CLIENT_ID`` / ``AZURE_CLIENT_SECRET`` / ``AZURE_TENANT_ID``, authority
``AZURE_AUTHORITY_HOST``, instance discovery off), gets its token and makes the calls the matching ``az``
command makes:

- ``token-arm``        ``az account get-access-token``
- ``token-cognitive``  ``az account get-access-token --resource https://cognitiveservices.azure.com``
- ``assignments``      ``az role assignment list --assignee ID --scope RES --include-inherited --include-groups``
- ``definitions``      ``az role definition list``
- ``account``          ``az cognitiveservices account show -g RG -n NAME``

ARM is at ``BENCH_ARM`` (the twin); the target is ``PREFLIGHT_RESOURCE_ID``; the assignee ``BENCH_ASSIGNEE``.
Prints one line: the fact and how many items it found (never a token).
"""

from __future__ import annotations

import os
import sys

COGNITIVE = "https://cognitiveservices.azure.com/.default"


def main(fact: str) -> int:
    from azure.identity import ClientSecretCredential

    env = os.environ
    arm = env["BENCH_ARM"].rstrip("/") + "/"
    arm_scope = "https://management.azure.com/.default"
    credential = ClientSecretCredential(
        env["AZURE_TENANT_ID"],
        env["AZURE_CLIENT_ID"],
        env["AZURE_CLIENT_SECRET"],
        authority=env["AZURE_AUTHORITY_HOST"],
        disable_instance_discovery=True,
    )
    resource_id = env["PREFLIGHT_RESOURCE_ID"]
    subscription = resource_id.split("/")[2]
    client_kwargs = {"base_url": arm, "credential_scopes": [arm_scope]}
    if fact == "token-arm":
        found = 1 if credential.get_token(arm_scope).token else 0
    elif fact == "token-cognitive":
        found = 1 if credential.get_token(COGNITIVE).token else 0
    elif fact in ("assignments", "definitions"):
        from azure.mgmt.authorization import AuthorizationManagementClient

        client = AuthorizationManagementClient(credential, subscription, **client_kwargs)
        if fact == "assignments":
            items = client.role_assignments.list_for_scope(resource_id, filter=f"assignedTo('{env['BENCH_ASSIGNEE']}')")
        else:
            # at the account: the identity's roles are there, not on the subscription (least privilege), and
            # reading definitions needs roleDefinitions/read at the scope asked (as `az role definition list
            # --scope <account>` does)
            items = client.role_definitions.list(resource_id)
        found = sum(1 for _ in items)
    elif fact == "account":
        from azure.mgmt.cognitiveservices import CognitiveServicesManagementClient

        parts = resource_id.split("/")
        client = CognitiveServicesManagementClient(credential, subscription, **client_kwargs)
        found = 1 if client.accounts.get(parts[4], parts[8]).id else 0
    else:
        print(f"unknown fact {fact!r}", file=sys.stderr)
        return 2
    print(f"{fact}: {found}")
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
