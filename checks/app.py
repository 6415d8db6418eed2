"""app.* — the app's own Azure OpenAI configuration: key vs keyless, endpoint form, api-version, deployment.

Read from the variables the app loads (the environment, plus ``--env-file`` or ``./.env`` as python-dotenv's
``load_dotenv()`` would add them: ``preflight.envfile``); judged by the pure ``preflight.appconfig``. Values are
described, never printed. Offline where it can be: only the account (the ``resource`` fact resource.endpoint
already reads, once) and its deployment list are read from Azure, and only when a verdict depends on them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from preflight.appconfig import (
    APP_VARS,
    AccountEndpoint,
    AuthFacts,
    Finding,
    analyse_api_version,
    analyse_auth,
    analyse_deployment,
    analyse_endpoint,
    api_version_conflict,
    app_deployment,
    classify_endpoint,
    describe_variables,
    needs_local_auth,
)
from preflight.azure.prerequisites import SIGNIN, NeedsTarget
from preflight.check import Check
from preflight.context import Context
from preflight.errors import FactError
from preflight.model import CheckMeta, Remediation, Result, Severity, Status

AUTH_DOCS = (
    "https://learn.microsoft.com/azure/ai-foundry/openai/how-to/managed-identity",
    "https://learn.microsoft.com/azure/ai-services/disable-local-auth",
    "https://github.com/openai/openai-python#microsoft-azure-openai",
)
ENDPOINT_DOCS = ("https://learn.microsoft.com/azure/ai-services/cognitive-services-custom-subdomains",)
VERSION_DOCS = ("https://learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle",)
DEPLOYMENT_DOCS = ("https://learn.microsoft.com/rest/api/aiservices/accountmanagement/deployments/list",)
_STATUS = {"pass": Status.PASS, "warn": Status.WARN, "fail": Status.FAIL}
# the variables whose meaning depends on the installed openai version (none set: the app is keyless)
VERSION_SENSITIVE = (
    "AZURE_OPENAI_API_KEY",
    "OPENAI_API_KEY",
    "AZURE_OPENAI_AD_TOKEN",
    "OPENAI_API_TYPE",
    "OPENAI_API_BASE",
)


def installed_openai() -> str | None:
    """The version of the ``openai`` distribution installed where preflight runs (never imported: its metadata
    alone), None when it is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("openai")
    except PackageNotFoundError:
        return None


def app_evidence(ctx: Context, names: Iterable[str] = APP_VARS) -> dict[str, Any]:
    """The app variables (secrets described) and where they were loaded from — the report says when a ``.env``
    was read without being asked for."""
    app = ctx.target.app
    evidence: dict[str, Any] = {"variables": describe_variables(ctx.target.app_environ, names)}
    if app is not None and app.env_file:
        evidence["env_file"] = app.env_file + (" (found in the working directory)" if app.implicit else "")
        evidence["from_env_file"] = [n for n in app.from_file if n in APP_VARS]
        evidence["overridden_by_environment"] = [n for n in app.shadowed if n in APP_VARS]
    return evidence


def _result(check: Check, finding: Finding, evidence: dict[str, Any], subject: str | None = None) -> Result:
    return check.result(
        _STATUS[finding.status],
        finding.message,
        subject=subject or finding.subject,
        evidence=evidence,
        remediation=Remediation(finding.fix) if finding.fix else None,
        caused_by=finding.caused_by,
    )


class AppAuthMode(Check):
    """Key or keyless, as the installed openai SDK would decide it, against what the account allows: a key the
    account refuses (``disableLocalAuth``), a key beside an Entra ID token (the token wins), a static token that
    expires, and the openai<1.0 ``OPENAI_API_TYPE`` settings openai≥1.0 ignores."""

    meta = CheckMeta(
        id="app.auth-mode",
        title="App authentication: API key or Entra ID",
        severity=Severity.HIGH,
        description="Which credential the app's openai SDK sends (AZURE_OPENAI_API_KEY, OPENAI_API_KEY, "
        "AZURE_OPENAI_AD_TOKEN, legacy OPENAI_API_TYPE) and whether the account accepts it.",
        tags=("offline", "app"),
        docs=AUTH_DOCS,
        facts=("resource",),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        env = ctx.target.app_environ
        evidence = app_evidence(ctx)
        version = None
        if any(env.get(name) for name in VERSION_SENSITIVE):  # else keyless whatever the version: no metadata scan
            version = installed_openai()
            evidence["openai_installed"] = version or "not installed where preflight runs"
        known = self._local_auth(ctx) if needs_local_auth(env, version) else None
        local_auth = known if isinstance(known, bool) else None
        if local_auth is not None:
            evidence["disableLocalAuth"] = local_auth
        findings = analyse_auth(AuthFacts(env, version, local_auth))
        if isinstance(known, Result):  # undecided: the other findings stand, and no pass is said
            findings = [f for f in findings if f.status != "pass"]
            yield known
        for finding in findings:
            yield _result(self, finding, evidence)

    def _local_auth(self, ctx: Context) -> bool | Result:
        """Whether the account refuses keys (``properties.disableLocalAuth``, from the one ``resource`` read), or
        the result saying why that is not known — a key whose acceptance is undecided is never a pass."""
        from preflight.azure.arm import WORKSPACE_TYPE, resource
        from preflight.target import has_target

        if not has_target(ctx.target):
            return self.warned(
                "an API key is configured, and no resource is given, so whether the account accepts keys is not known",
                subject="local-auth",
                remediation="pass --resource-id or --endpoint (or set AZURE_OPENAI_ENDPOINT)",
            )
        try:
            account = ctx.get(resource)
        except FactError as exc:
            return self.result(
                Status.ERROR,
                f"an API key is configured, and whether the account accepts keys could not be read: {exc.message}",
                subject="local-auth",
                caused_by=exc.reported_by,
                remediation="see resource.endpoint; the account's properties.disableLocalAuth decides it",
            )
        if str(account.get("type", "")).lower() == WORKSPACE_TYPE:
            return False
        return (account.get("properties") or {}).get("disableLocalAuth") is True


class AppEndpoint(Check):
    """The endpoint's form: a custom subdomain takes Entra ID tokens; a shared regional endpoint does not; an API
    Management gateway decides by its own policy; a Foundry project URL is for another SDK."""

    meta = CheckMeta(
        id="app.endpoint",
        title="App endpoint form",
        severity=Severity.HIGH,
        description="The endpoint the app is given (--endpoint, AZURE_OPENAI_ENDPOINT, OPENAI_API_BASE): custom "
        "subdomain, regional, API Management gateway or Foundry project URL.",
        tags=("offline", "app"),
        docs=ENDPOINT_DOCS,
        facts=("resource",),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        env = ctx.target.app_environ
        found = _endpoint(env, ctx.target.endpoint)
        evidence = app_evidence(ctx, ("AZURE_OPENAI_ENDPOINT", "AZURE_AI_ENDPOINT", "OPENAI_API_BASE"))
        if found is None:
            yield self.skipped(
                "the app names no endpoint (--endpoint, AZURE_OPENAI_ENDPOINT, OPENAI_API_BASE)", evidence=evidence
            )
            return
        url, source = found
        form = classify_endpoint(url)
        evidence["form"] = form.kind
        try:
            account = self._account(ctx, url) if form.kind in ("regional", "custom-subdomain", "other") else None
        except FactError as exc:
            # A recognised form decides alone; so does an unrecognised host when this identity may not read the
            # account (403: a lasting fact of its least privilege, said by resource.endpoint). Anything else — a
            # failed sign-in, a throttled or broken read — leaves an unrecognised host undecided: the engine makes
            # that a SKIP pointing at the check that tells the cause, or an ERROR.
            if form.kind == "other" and exc.status != 403:
                raise
            account = None
        yield _result(self, analyse_endpoint(url, source, account), evidence)

    def _account(self, ctx: Context, url: str) -> AccountEndpoint | None:
        """What the account says about ``url``; None without a resource target. Raises the fact's error when the
        account cannot be read: a recognised form decides without it, an unrecognised host cannot."""
        from preflight.azure.arm import ACCOUNT_TYPE, account_endpoints, endpoint_key, resource
        from preflight.target import has_target

        if not has_target(ctx.target):
            return None
        account = ctx.get(resource)
        if str(account.get("type", "")).lower() != ACCOUNT_TYPE:
            return None
        endpoints = account_endpoints(account)
        subdomain = (account.get("properties") or {}).get("customSubDomainName")
        return AccountEndpoint(
            endpoints[0] if endpoints else None,
            endpoint_key(url) in {endpoint_key(e) for e in endpoints},
            str(subdomain) if subdomain else None,
        )


def _endpoint(env: Any, target_endpoint: str | None) -> tuple[str, str] | None:
    """The app's endpoint and the name it came by: the run's endpoint (flag or AZURE_OPENAI_ENDPOINT /
    AZURE_AI_ENDPOINT), else the openai<1.0 OPENAI_API_BASE."""
    if target_endpoint:
        source = next(
            (n for n in ("AZURE_OPENAI_ENDPOINT", "AZURE_AI_ENDPOINT") if env.get(n) == target_endpoint), None
        )
        return target_endpoint, source or "--endpoint"
    if env.get("OPENAI_API_BASE"):
        return env["OPENAI_API_BASE"], "OPENAI_API_BASE"
    return None


class AppApiVersion(Check):
    """The api-version the app sends: well-formed, known, not retired — a retired version is refused on every
    request, and AZURE_OPENAI_API_VERSION is not what the SDK reads."""

    meta = CheckMeta(
        id="app.api-version",
        title="App api-version",
        severity=Severity.MEDIUM,
        description="OPENAI_API_VERSION / AZURE_OPENAI_API_VERSION: YYYY-MM-DD[-preview], known and not retired "
        "(list from the Azure OpenAI API version lifecycle page).",
        tags=("offline", "app"),
        docs=VERSION_DOCS,
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        env = ctx.target.app_environ
        names = [n for n in ("OPENAI_API_VERSION", "AZURE_OPENAI_API_VERSION") if env.get(n)]
        evidence = app_evidence(ctx, ("OPENAI_API_VERSION", "AZURE_OPENAI_API_VERSION"))
        if not names:
            yield self.skipped(
                "no api-version in the app's environment (the code passes api_version=, or uses the v1 API)",
                evidence=evidence,
            )
            return
        for name in names:
            yield _result(self, analyse_api_version(name, env[name]), evidence, subject=name)
        conflict = api_version_conflict(env)
        if conflict is not None:
            yield _result(self, conflict, evidence, subject="conflict")


class AppDeployment(Check):
    """The deployment the app names exists on the account — read-only, from ARM's deployment list, or for an
    identity that may not read ARM, from the data plane when the run probes (``--probe``)."""

    meta = CheckMeta(
        id="app.deployment",
        title="App deployment exists",
        severity=Severity.HIGH,
        description="The deployment named by --deployment or AZURE_OPENAI_DEPLOYMENT is one of the account's "
        "(ARM listing; the data plane with --probe when ARM is refused).",
        tags=("app", "resource"),
        docs=DEPLOYMENT_DOCS,
        facts=("resource", "deployments"),
        requires=(NeedsTarget("no resource given: pass --resource-id or --endpoint", caused_by=None), SIGNIN),
    )

    def run(self, ctx: Context) -> Iterable[Result]:
        named = app_deployment(ctx.target.app_environ, ctx.target.deployment)
        evidence = app_evidence(ctx, ("AZURE_OPENAI_DEPLOYMENT",))
        if named is None:
            yield self.skipped("the app names no deployment (--deployment, AZURE_OPENAI_DEPLOYMENT)", evidence=evidence)
            return
        account_id = self._account_id(ctx)
        if account_id is None:
            yield self.skipped("the target is not an Azure AI services account: it has no model deployments")
            return
        listed = self._listed(ctx, account_id)
        if isinstance(listed, Result):
            yield listed
            return
        deployments, via = listed
        evidence["deployments"] = sorted(deployments)
        yield _result(self, analyse_deployment(*named, deployments, account_id.rsplit("/", 1)[-1], via), evidence)

    def _account_id(self, ctx: Context) -> str | None:
        """The account's id: from the one ``resource`` read, or — for an identity that may not read the account
        (a custom data-only role) — the ``--resource-id`` it was named by, whose deployments may still be read
        (ARM, or the data plane with --probe). None for a target that is not an account (an ML workspace)."""
        from preflight.azure.arm import ACCOUNT_TYPE, resource

        named = ctx.target.resource_id
        try:
            account = ctx.get(resource)
        except FactError as exc:
            if exc.status == 403 and named and f"/{ACCOUNT_TYPE}/" in named.lower():
                return named
            raise  # unreadable and not named: resource.endpoint tells it (the engine's gate rule)
        return str(account["id"]) if str(account.get("type", "")).lower() == ACCOUNT_TYPE else None

    def _listed(self, ctx: Context, account_id: str) -> tuple[dict[str, str], str] | Result:
        """The deployments and where they were read, or the ERROR saying why they could not be."""
        from preflight.azure.deployments import ARM_PERMISSION, deployments

        try:
            return ctx.get(deployments, account_id), "ARM (accounts/deployments list)"
        except FactError as exc:
            if exc.status not in (401, 403):
                return self.result(
                    Status.ERROR,
                    exc.message,
                    remediation="re-run later; if it persists, check the network path to Azure Resource Manager",
                )
            refused = exc
        probed = self._probed(ctx)
        if isinstance(probed, dict):
            return probed, "the data plane (GET /openai/deployments)"
        return self.result(
            Status.ERROR,
            f"could not tell whether the deployment exists: listing it needs {ARM_PERMISSION}, which this identity "
            f"lacks ({refused.message}){probed}",
            remediation="re-run with --probe: the data plane lists deployments to an identity holding an OpenAI "
            f"data role; or grant {ARM_PERMISSION} (e.g. Reader on the account) — for this diagnosis only",
        )

    def _probed(self, ctx: Context) -> dict[str, str] | str:
        """The data plane's deployment list when the run probes, else why not (a clause for the ERROR)."""
        from preflight.azure.deployments import probed_deployments
        from preflight.azure.probe import dataplane_probe

        if "probe" not in ctx.services.get("selected-tags", ()):
            return "; the data plane was not asked (no --probe)"
        try:
            listed = probed_deployments(ctx.get(dataplane_probe))
        except FactError as exc:
            return f"; the data plane could not be read either: {exc.message}"
        return listed if listed is not None else "; the data plane refused the list too (see access.probe)"
