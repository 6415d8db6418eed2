"""resource.endpoint — the account exists, is readable, and is configured so Entra ID auth can work."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from preflight.azure.prerequisites import SIGNIN, NeedsTarget
from preflight.check import Check
from preflight.context import Context
from preflight.model import CheckMeta, Result, Severity

SUBDOMAIN_DOCS = "https://learn.microsoft.com/azure/ai-services/cognitive-services-custom-subdomains"
LOCAL_AUTH_DOCS = "https://learn.microsoft.com/azure/ai-services/disable-local-auth"
NETWORK_DOCS = "https://learn.microsoft.com/azure/ai-services/cognitive-services-virtual-networks"


class ResourceEndpoint(Check):
    """Entra ID tokens only work on an account's custom-subdomain endpoint (the shared regional endpoints
    accept keys only), and a firewall answers 403 in a way people mistake for missing RBAC. This check reads
    the account once and explains both, plus whether keys are still enabled."""

    meta = CheckMeta(
        id="resource.endpoint",
        title="Resource endpoint and configuration",
        severity=Severity.HIGH,
        description="The account is readable, has a custom subdomain, the configured endpoint is its own; "
        "local (key) auth and network rules reported.",
        tags=("resource",),
        docs=(SUBDOMAIN_DOCS, LOCAL_AUTH_DOCS, NETWORK_DOCS),
        facts=("resource",),
        requires=(
            NeedsTarget(
                "no resource given: pass --resource-id, --endpoint or --workspace (or set "
                "AZURE_OPENAI_ENDPOINT, or run inside a project with .azureml/config.json)",
                caused_by=None,
            ),
            SIGNIN,
        ),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        from preflight.azure.arm import WORKSPACE_TYPE, resource
        from preflight.errors import FactError

        try:
            account = ctx.get(resource)
        except FactError as exc:
            if exc.fact != "resource":
                raise
            yield self._not_read(ctx, exc)
            return
        if str(account.get("type", "")).lower() == WORKSPACE_TYPE:
            yield from self._workspace(account)
            return
        yield from self._account(ctx, account)

    def _not_read(self, ctx: Context, exc: Any) -> Result:
        """The resource could not be read: ERROR when nothing is known to be wrong (no answer, throttled, 5xx),
        a WARN when a resource named by id is merely unreadable to this identity, else FAIL."""
        from preflight.azure.http import inconclusive
        from preflight.model import Status

        if inconclusive(exc.status, exc.code):
            return self.result(
                Status.ERROR,
                exc.message,
                evidence={"status": exc.status, "code": exc.code},
                remediation="re-run later; if it persists, check the network path to Azure "
                "Resource Manager (proxy, firewall, DNS, TLS inspection)",
            )
        named = ctx.target.resource_id or ctx.target.workspace
        if exc.status == 403 and named:
            return self._unreadable(named, exc)
        if exc.status == 403:
            return self.failed(
                exc.message,
                evidence={"status": exc.status, "code": exc.code},
                remediation="ask for at least Reader on the account (or Cognitive Services OpenAI User, which "
                "includes read)",
            )
        from preflight.azure.facts import target_tenant
        from preflight.remedies import arm_read_fix

        fix = arm_read_fix(exc.status, exc.code, exc.message, target_tenant(ctx)[0])
        text = fix.text
        if ctx.target.workspace and not fix.commands:  # not an authentication problem: the config names it wrong
            text = (
                f"check the workspace id {ctx.target.workspace}: subscription_id, resource_group and workspace_name "
                "in .azureml/config.json, or --workspace"
            )
        return self.failed(
            exc.message,
            evidence={"status": exc.status, "code": exc.code},
            remediation=text,
            commands=list(fix.commands),
        )

    def _account(self, ctx: Context, account: dict[str, Any]) -> Iterable[Result]:
        """An Azure AI services account: its endpoint (custom subdomain), local auth and network rules."""
        props: dict[str, Any] = account.get("properties") or {}
        name, resource_id = account.get("name", "?"), account.get("id", "?")
        group = resource_id.split("/")[4] if resource_id.count("/") > 4 else "<resource-group>"
        evidence = {
            "id": resource_id,
            "kind": account.get("kind"),
            "location": account.get("location"),
            "endpoint": props.get("endpoint"),
            "customSubDomainName": props.get("customSubDomainName"),
            "disableLocalAuth": props.get("disableLocalAuth"),
            "publicNetworkAccess": props.get("publicNetworkAccess"),
            "networkAcls": props.get("networkAcls"),
        }
        yield self._endpoint(ctx, account, group, evidence)
        if props.get("disableLocalAuth") is True:
            yield self.passed(
                "local (key) authentication is disabled: Entra ID is the only way in",
                subject="local-auth",
                evidence=evidence,
            )
        else:
            yield self.warned(
                "API keys are still enabled on this account: anyone with a key bypasses Entra ID and RBAC",
                subject="local-auth",
                evidence=evidence,
                docs=(LOCAL_AUTH_DOCS,),
                remediation="once every client uses Entra ID, disable local auth",
                commands=[f"az resource update --ids {resource_id} --set properties.disableLocalAuth=true"],
            )
        network = _network_finding(props)
        if network is not None:
            yield self.warned(
                network,
                subject="network",
                evidence=evidence,
                docs=(NETWORK_DOCS,),
                remediation="this is a network rule, not RBAC: call from an allowed network or "
                "private endpoint, or add your IP — set MY_PUBLIC_IP to this machine's public IPv4 address (one "
                "address, not a range: the rule opens the account to everything behind it, e.g. a shared NAT)",
                commands=[
                    f"az cognitiveservices account network-rule add --name {name} "
                    f'--resource-group {group} --ip-address "$MY_PUBLIC_IP"'
                ],
            )

    def _endpoint(self, ctx: Context, account: dict[str, Any], group: str, evidence: dict[str, Any]) -> Result:
        """FAIL without a custom subdomain (shared regional endpoints refuse Entra ID tokens); WARN when the
        configured endpoint is not the account's own."""
        from preflight.azure.arm import account_endpoints, endpoint_key

        props: dict[str, Any] = account.get("properties") or {}
        name = account.get("name", "?")
        subdomain = props.get("customSubDomainName")
        endpoints = account_endpoints(account)
        if not subdomain:
            return self.failed(
                f"{name} has no custom subdomain: its endpoint {props.get('endpoint')} is a shared regional one, "
                "which refuses Entra ID tokens",
                evidence=evidence,
                remediation="give the account a custom subdomain (this cannot be undone; the endpoint changes "
                "to https://<subdomain>.cognitiveservices.azure.com/)",
                commands=[
                    f"az cognitiveservices account update --name {name} --resource-group {group} --custom-domain {name}"
                ],
                docs=(SUBDOMAIN_DOCS,),
            )
        if ctx.target.endpoint and endpoint_key(ctx.target.endpoint) not in {endpoint_key(e) for e in endpoints}:
            return self.warned(
                f"the configured endpoint {ctx.target.endpoint} is not one of {name}'s endpoints "
                f"({', '.join(endpoints)})",
                evidence=evidence,
                remediation=f"set AZURE_OPENAI_ENDPOINT to {props.get('endpoint')}",
            )
        return self.passed(
            f"{name} ({account.get('kind')}) has the custom subdomain {subdomain}: {props.get('endpoint')}",
            evidence=evidence,
        )

    def _unreadable(self, resource_id: str, exc: Any) -> Result:
        """ARM refused the GET of a resource named by id. An app calls the data plane, never this read, and a
        least-privilege role (a custom data-only role) rightly lacks it: a WARN naming the permission — its
        configuration (custom subdomain, local auth, network rules) is what goes unchecked — not a FAIL asking
        for more rights than the app needs. The RBAC verdict is still read at the id. An Azure ML workspace is
        the exception: ``MLClient`` reads it (the ml profile requires the read), and ARM's 403 "or the scope is
        invalid" is also what a mistyped ``.azureml/config.json`` gets — a FAIL naming both causes."""
        from preflight.azure.arm import WORKSPACE_TYPE

        kind = "workspace" if f"/{WORKSPACE_TYPE}/" in resource_id.lower() else "account"
        permission = (
            "Microsoft.MachineLearningServices/workspaces/read"
            if kind == "workspace"
            else "Microsoft.CognitiveServices/accounts/read"
        )
        if kind == "workspace":  # MLClient reads the workspace itself: a refused read is the app's failure too
            return self.failed(
                f"the workspace could not be read (HTTP {exc.status} {exc.code}): either nothing grants you "
                f"{permission} on it, which MLClient needs, or no workspace has this id — ARM answers 403, not 404, "
                "to a caller who may not read the resource group",
                evidence={"status": exc.status, "code": exc.code, "permission": permission, "resourceId": resource_id},
                remediation="check subscription_id, resource_group and workspace_name (in .azureml/config.json, or "
                "--workspace) against the workspace's overview page; if they are right, ask for AzureML Data "
                "Scientist on the workspace",
            )
        return self.warned(
            f"the {kind} could not be read (needs {permission}), so its configuration — custom "
            "subdomain, local auth, network rules — is not checked; the role verdict is read at "
            "the id (see rbac.data-action)",
            evidence={"status": exc.status, "code": exc.code, "permission": permission, "resourceId": resource_id},
            remediation=f"only needed for this diagnosis, not by the app: {permission} at the "
            f"{kind} (e.g. Reader) lets preflight check its configuration",
        )

    def _workspace(self, workspace: dict[str, Any]) -> Iterable[Result]:
        """An Azure ML workspace has no custom subdomain or keys to judge: readable, and its network."""
        props: dict[str, Any] = workspace.get("properties") or {}
        evidence = {
            "id": workspace.get("id"),
            "kind": workspace.get("kind"),
            "location": workspace.get("location"),
            "publicNetworkAccess": props.get("publicNetworkAccess"),
            "discoveryUrl": props.get("discoveryUrl"),
        }
        yield self.passed(
            f"Azure ML workspace {workspace.get('name')} ({workspace.get('kind') or 'Default'}) is readable",
            evidence=evidence,
        )
        if str(props.get("publicNetworkAccess", "")).lower() == "disabled":
            yield self.warned(
                "public network access to the workspace is disabled: only private endpoints reach it "
                "(403 otherwise) — a network rule, not RBAC",
                subject="network",
                evidence=evidence,
                docs=(NETWORK_DOCS,),
            )


def _network_finding(props: dict[str, Any]) -> str | None:
    """A 403 from the firewall looks like an RBAC failure; say so up front."""
    if str(props.get("publicNetworkAccess", "")).lower() == "disabled":
        return "public network access is disabled: only private endpoints reach this account (403 otherwise)"
    acls = props.get("networkAcls") or {}
    if str(acls.get("defaultAction", "")).lower() == "deny":
        rules = [r.get("value") for r in acls.get("ipRules") or []]
        vnets = len(acls.get("virtualNetworkRules") or [])
        return (
            f"the account's firewall denies by default (allowed IPs: {', '.join(map(str, rules)) or 'none'}; "
            f"{vnets} virtual network rule(s)): calls from other networks get 403"
        )
    return None
