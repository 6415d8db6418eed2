"""What a run checks: cloud, tenant, subscription, resource, profile, principal — from flags and environment.

Parsing is strict and happens before any check runs, so a typo is a one-line error (exit 2), not a
confusing FAIL later.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from preflight.envfile import AppEnvironment
from preflight.errors import ConfigError, TargetError
from preflight.guid import GUID as GUID  # the one GUID pattern (its users import it from here)

# can-i --assignee: an object / application id (GUID) or a user principal name (guests' #EXT# UPNs included).
# (check --assignee also takes a service principal's display name.)
UPN = re.compile(r"^[^@\s/\x00-\x1f\x7f]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+\Z")
# A tenant may be named by GUID or by a verified domain (contoso.onmicrosoft.com).
TENANT_DOMAIN = re.compile(r"^(?=.{3,253}\Z)[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+\Z")
RESOURCE_ID = re.compile(  # no control characters anywhere (a pasted id with a newline is bad input)
    r"^/subscriptions/(?P<subscription>[^/\x00-\x1f]+)/resourceGroups/(?P<group>[^/\x00-\x1f]+)"
    r"/providers/(?P<namespace>[^/\x00-\x1f]+)/(?P<rest>[^\x00-\x1f]+)\Z",
    re.IGNORECASE,
)
# What no segment of a resource id may hold: an id is pasted into ARM URLs, where "?" or "#" would start a query
# or fragment of the caller's choosing and "." / ".." would move the request to another path (issue 17 item 6).
BAD_ID_SEGMENT = re.compile(r"[?#\x00-\x1f\x7f]|^\.{0,2}\Z")
# Control characters and whitespace: never part of a URL a person means (a pasted newline would be sent on).
URL_CONTROL = re.compile(r"[\x00-\x20\x7f]")
KNOWN_CLOUDS = ("AzureCloud", "AzureChinaCloud", "AzureUSGovernment")

# Environment variables that name the resource, in the order they are consulted.
ENDPOINT_ENV_VARS = ("AZURE_OPENAI_ENDPOINT", "AZURE_AI_ENDPOINT")


@dataclass(frozen=True, slots=True)
class Target:
    """The thing being checked. ``environ`` is the process environment snapshot the run uses (so checks never
    read ``os.environ`` themselves and tests can pass their own)."""

    cloud: str = "AzureCloud"
    cloud_metadata_url: str | None = None
    tenant_id: str | None = None
    subscription_id: str | None = None
    resource_id: str | None = None
    endpoint: str | None = None
    profile: str | None = None
    assignee: str | None = None
    workspace: str | None = None  # Azure ML workspace (ARM id), from --workspace or .azureml/config.json
    extra_scopes: tuple[str, ...] = ()  # --scope: token scopes to test besides the profile's
    interactive: bool = False  # --interactive: credentials may prompt (browser / device code)
    credential_warn_days: int = 30  # --expiry-days: secrets/certificates expiring sooner are WARN
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    deployment: str | None = None  # --deployment: the model deployment the app names (app.deployment)
    # what the app loads: the environment plus --env-file / ./.env (None: the process environment alone)
    app: AppEnvironment | None = field(default=None, repr=False, compare=False)

    @property
    def app_environ(self) -> Mapping[str, str]:
        """The variables the app sees (the app.* checks read these, never ``os.environ``)."""
        return self.app.variables if self.app is not None else self.environ

    def to_dict(self) -> dict[str, Any]:
        """The non-secret description reports show (``environ`` is deliberately left out)."""
        return {
            "cloud": self.cloud,
            "cloud_metadata_url": self.cloud_metadata_url,
            "tenant_id": self.tenant_id,
            "subscription_id": self.subscription_id,
            "resource_id": self.resource_id,
            "endpoint": self.endpoint,
            "profile": self.profile,
            "assignee": self.assignee,
            "workspace": self.workspace,
            "extra_scopes": list(self.extra_scopes),
            **self._app_dict(),
        }

    def _app_dict(self) -> dict[str, Any]:
        """The app's .env file (said in the report's header, found or given) and --deployment — only when set,
        so reports of runs without them are unchanged."""
        shown: dict[str, Any] = {}
        if self.app is not None and self.app.env_file:
            shown["env_file"] = self.app.env_file + (" (found in the working directory)" if self.app.implicit else "")
        if self.deployment:
            shown["deployment"] = self.deployment
        return shown


def build_target(
    environ: Mapping[str, str],
    *,
    cloud: str | None = None,
    cloud_metadata_url: str | None = None,
    tenant: str | None = None,
    subscription: str | None = None,
    resource_id: str | None = None,
    endpoint: str | None = None,
    profile: str | None = None,
    assignee: str | None = None,
    workspace: str | None = None,
    extra_scopes: tuple[str, ...] = (),
    interactive: bool = False,
    credential_warn_days: int = 30,
    app: AppEnvironment | None = None,
) -> Target:
    """Combine flags with their environment fallbacks and validate each; raises ConfigError / TargetError."""
    # validated in this order, so of several mistakes the same one is reported first
    cloud, cloud_metadata_url = _cloud(environ, cloud, cloud_metadata_url)
    tenant = _tenant(tenant or environ.get("AZURE_TENANT_ID") or None)
    subscription = _guid_or_none(subscription or environ.get("AZURE_SUBSCRIPTION_ID") or None, "subscription")
    resource_id, subscription = _resource_id(resource_id or environ.get("PREFLIGHT_RESOURCE_ID") or None, subscription)
    endpoint = _endpoint(app.variables if app is not None else environ, endpoint)
    workspace = _workspace(workspace, named=bool(resource_id or endpoint))
    return Target(
        cloud=cloud,
        cloud_metadata_url=cloud_metadata_url,
        tenant_id=tenant,
        subscription_id=subscription,
        resource_id=resource_id,
        endpoint=endpoint,
        profile=_profile(profile or environ.get("PREFLIGHT_PROFILE") or None),
        assignee=assignee,
        workspace=workspace,
        extra_scopes=tuple(_validate_scope(s) for s in extra_scopes),
        interactive=interactive,
        credential_warn_days=credential_warn_days,
        environ=dict(environ),
        deployment=app.deployment if app is not None else None,
        app=app,
    )


def _cloud(environ: Mapping[str, str], cloud: str | None, metadata_url: str | None) -> tuple[str, str | None]:
    """The cloud's name and its metadata URL (flag, then environment)."""
    cloud = cloud or environ.get("AZURE_CLOUD") or "AzureCloud"
    if cloud not in KNOWN_CLOUDS:
        raise ConfigError(
            f"unknown cloud {cloud!r}; expected one of {', '.join(KNOWN_CLOUDS)}",
            remediation="use --cloud-metadata-url for a custom cloud",
        )
    metadata_url = metadata_url or environ.get("ARM_CLOUD_METADATA_URL") or None
    if metadata_url is not None:
        _require_https(metadata_url, "cloud metadata URL", query=True)  # ?api-version=… is usual
    return cloud, metadata_url


def _tenant(tenant: str | None) -> str | None:
    if tenant is not None and not (GUID.match(tenant) or TENANT_DOMAIN.match(tenant)):
        raise ConfigError(f"tenant {tenant!r} is neither a GUID nor a domain name")
    return tenant


def _guid_or_none(value: str | None, what: str) -> str | None:
    if value is not None and not GUID.match(value):
        raise ConfigError(f"{what} {value!r} is not a GUID")
    return value


def _resource_id(resource_id: str | None, subscription: str | None) -> tuple[str | None, str | None]:
    """The validated resource id and the subscription, which the id supplies when none was given (and must
    not contradict when one was)."""
    if resource_id is None:
        return None, subscription
    resource_id = resource_id.rstrip("/")
    match = RESOURCE_ID.match(resource_id)
    if has_bad_segment(resource_id) or not match or not GUID.match(match["subscription"]):
        raise TargetError(
            f"{resource_id!r} is not an Azure resource id",
            remediation="expected /subscriptions/<GUID>/resourceGroups/<group>/providers/<namespace>/<type>/<name>",
        )
    if subscription is not None and subscription.lower() != match["subscription"].lower():
        raise TargetError(
            f"--subscription {subscription} contradicts the resource id's subscription {match['subscription']}"
        )
    return resource_id, subscription or match["subscription"]


def has_bad_segment(path: str) -> bool:
    """Whether an ARM path (a resource id or scope, leading ``/``) has a segment that is empty, ``.`` or ``..``,
    or holds ``?``, ``#`` or a control character: each would change the URL it is pasted into. ``/`` alone (the
    root scope) has none."""
    return path != "/" and any(BAD_ID_SEGMENT.search(segment) for segment in path.split("/")[1:])


def _endpoint(environ: Mapping[str, str], endpoint: str | None) -> str | None:
    if endpoint is None:
        endpoint = next((environ[v] for v in ENDPOINT_ENV_VARS if environ.get(v)), None)
    if endpoint is not None:
        _require_https(endpoint, "endpoint")
    return endpoint


def _workspace(workspace: str | None, *, named: bool) -> str | None:
    """--workspace, else (when no resource id or endpoint names the target) the nearest .azureml/config.json (as
    the Azure ML SDK searches): a malformed flag or config file is bad input (exit 2) before anything runs, not a
    failure in the middle of the report."""
    if workspace is None and named:
        return None
    from preflight.azureml import resolve_workspace

    found = resolve_workspace(workspace)
    return found.resource_id if found is not None else None


def _profile(profile: str | None) -> str | None:
    if profile is not None:
        from preflight.profiles import get_profile

        get_profile(profile)  # raises ConfigError naming the known profiles
    return profile


def _validate_scope(scope: str) -> str:
    """A token scope is a resource URI or app id plus a permission, e.g. https://vault.azure.net/.default."""
    scope = scope.strip()
    if not scope or " " in scope or "/" not in scope:
        raise ConfigError(f"{scope!r} is not a token scope", remediation="e.g. https://vault.azure.net/.default")
    return scope


def _require_https(url: str, what: str, *, query: bool = False) -> None:
    """An https URL with a host and nothing a person did not mean: no control characters or spaces, no
    user:password@ (it would be sent, and shown in reports), no #fragment, no ?query unless ``query``. A URL
    that does not parse (``https://[::1``, a bad port) is bad input too, not an internal error later."""
    if URL_CONTROL.search(url):
        raise ConfigError(f"{what} {url!r} contains a control character or a space")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 — parsed on access: raises ValueError for a port out of range or not a number
    except ValueError as exc:
        raise ConfigError(f"{what} {url!r} is not a valid URL ({exc})") from exc
    if parts.scheme != "https" or not parts.hostname:
        raise ConfigError(
            f"{what} {url!r} must be an https:// URL", remediation="Entra ID bearer tokens are only sent over HTTPS"
        )
    if parts.username is not None:  # named by its host alone: the message must not repeat the password
        raise ConfigError(f"{what} for {parts.hostname!r} must not carry a user:password@")
    extra = [
        name
        for name, present in (
            ("#fragment", bool(parts.fragment or url.endswith("#"))),
            ("?query", not query and bool(parts.query or "?" in url)),
        )
        if present
    ]
    if extra:
        raise ConfigError(f"{what} {url!r} must not carry a {' or '.join(extra)}")


def has_target(target: Any) -> bool:
    """Whether the run names a resource at all: --resource-id, --workspace, an endpoint, or an
    ``.azureml/config.json`` above the working directory."""
    if target.resource_id or target.workspace or target.endpoint:
        return True
    from preflight.azureml import find_config

    return find_config(Path.cwd()) is not None


# JSON a person hands in (.azureml/config.json, a twin scenario, a pasted error body): bounded in size and depth,
# so a file that never ends (/dev/zero), a FIFO nobody writes to, or ``[[[[…]]]]`` nested past Python's recursion
# limit is one line of bad input (exit 2), not a hang or an internal RecursionError (issue 17 item 6).
JSON_MAX_DEPTH = 64  # real configs and scenarios nest under 15 levels


class JsonInputError(ValueError):
    """A JSON input that is not a regular file, too large, not UTF-8, not JSON or nested too deeply; the message
    says which, for the caller to prefix with what the input is."""


def read_json_file(path: str | Path, *, max_bytes: int, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """The parsed JSON of a regular file of at most ``max_bytes`` bytes (:func:`preflight.files.read_small_text`:
    a FIFO or a device is refused at once instead of blocking or reading forever)."""
    from preflight.files import UnreadableFile, read_small_text

    try:
        text = read_small_text(path, max_bytes)
    except UnreadableFile as exc:
        raise JsonInputError(str(exc)) from exc
    return parse_json(text, max_depth=max_depth)


def parse_json(text: str, *, max_depth: int = JSON_MAX_DEPTH) -> Any:
    """``json.loads`` that refuses documents nested deeper than ``max_depth`` (arrays and objects), measured
    without recursion so the check itself cannot overflow."""
    try:
        value = json.loads(text.removeprefix("\ufeff"))
    except RecursionError as exc:
        raise JsonInputError(f"nested more than {max_depth} levels deep") from exc
    except ValueError as exc:
        raise JsonInputError(f"not valid JSON: {exc}") from exc
    if json_depth(value) > max_depth:
        raise JsonInputError(f"nested more than {max_depth} levels deep")
    return value


def json_depth(value: Any) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (a scalar is 0), iteratively."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in children)
    return deepest
