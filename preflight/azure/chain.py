"""Probing each link of DefaultAzureCredential on its own, concurrently, with short timeouts.

Each link is built by DefaultAzureCredential itself (a chain with every other link excluded), so its
construction — authority, managed-identity flavour, workload-identity validation — is exactly what the
user's application gets. The link is then called under the same context flags DefaultAzureCredential sets,
which is what makes a missing managed identity "unavailable" instead of a 13-second failure.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from preflight.chain import ALL_LINKS, INTERACTIVE, LINKS, Outcome
from preflight.clouds import Cloud

# Seconds one developer-tool subprocess (az, azd, pwsh) may take; azure-identity's default is 10.
PROCESS_TIMEOUT = 8
# Managed identity off Azure must fail fast: no retries, short connect/read timeouts.
MI_PIPELINE = {"retry_total": 0, "connection_timeout": 2, "read_timeout": 4}
TOKEN_MAX_RETRY_AFTER = 5.0  # seconds
# Seconds a person gets to finish the browser sign-in with --interactive (azure-identity's default is 300):
# below the engine's default per-check timeout (60 s), so a slow sign-in is "unavailable", not a check ERROR.
INTERACTIVE_TIMEOUT = 45


@dataclass(frozen=True, slots=True)
class LinkProbe:
    """The outcome of one link. ``credential`` is kept for reuse (it holds the token cache) but is never
    rendered; ``error`` is the exception (for AADSTS classification), never shown raw."""

    key: str
    name: str
    outcome: Outcome
    message: str
    duration: float
    credential: Any = None
    token: Any = None  # azure.core.credentials.AccessTokenInfo; the token string never leaves this object
    error: BaseException | None = None


@contextlib.contextmanager
def _as_inside_default_credential() -> Iterator[None]:
    """Set the context flags DefaultAzureCredential sets around its links (private in azure-identity;
    without them a missing managed identity is retried for many seconds)."""
    try:
        from azure.identity._internal.utils import within_credential_chain, within_dac
    except ImportError:  # a future azure-identity: probe without the flags rather than not at all
        yield
        return
    dac_token = within_dac.set(True)
    chain_token = within_credential_chain.set(True)
    try:
        yield
    finally:
        within_credential_chain.reset(chain_token)
        within_dac.reset(dac_token)


def credential_kwargs(cloud: Cloud) -> dict[str, Any]:
    from preflight.azure.http import CONNECT_TIMEOUT, READ_TIMEOUT, capped_retry_policy_class

    kwargs: dict[str, Any] = {
        "authority": cloud.authority_host,
        "process_timeout": PROCESS_TIMEOUT,
        # azure-core reads for up to 300 s by default, and retries (issue 17)
        "connection_timeout": CONNECT_TIMEOUT,
        "read_timeout": READ_TIMEOUT,
        # azure-identity obeys a token endpoint's Retry-After without a cap: 3600 would
        # hold sign-in for an hour
        "retry_policy_class": capped_retry_policy_class(TOKEN_MAX_RETRY_AFTER),
    }
    if cloud.needs_instance_discovery_off:
        kwargs["disable_instance_discovery"] = True
    return kwargs


class _LastStatus:
    """azure-core's ``raw_response_hook``: keeps the managed identity endpoint's last HTTP status. Inside
    DefaultAzureCredential, azure-identity turns an App Service endpoint's 429 / 5xx into "unavailable" with no
    status in the message; this is how the report can still say "throttled" or "answered HTTP 503"."""

    def __init__(self) -> None:
        self.status: int | None = None

    def __call__(self, response: Any) -> None:
        self.status = getattr(response.http_response, "status_code", None)


def build_link(cloud: Cloud, key: str, tenant_id: str | None = None, last_status: _LastStatus | None = None) -> Any:
    """The one credential DefaultAzureCredential would build for link ``key``."""
    from azure.identity import DefaultAzureCredential

    kwargs = credential_kwargs(cloud)
    for link in ALL_LINKS:
        kwargs[link.exclude_param] = link.key != key
    if key == "managed_identity":
        # No retries at all here (MI_PIPELINE), so no Retry-After to cap; and the IMDS credential passes its own
        # retry_policy_class — a second one is a TypeError on exactly the path every machine off Azure takes.
        kwargs.pop("retry_policy_class", None)
        kwargs.update(MI_PIPELINE)
        if last_status is not None:
            kwargs["raw_response_hook"] = last_status
        import os

        from preflight.redact import looks_like_secret

        if looks_like_secret(os.environ.get("AZURE_CLIENT_ID") or ""):
            # AZURE_CLIENT_ID holds a secret (swapped with AZURE_CLIENT_SECRET; env.config says so): never send it
            # in the managed identity endpoint's URL as a client id — probe the system-assigned identity instead.
            kwargs["managed_identity_client_id"] = None
    if key == INTERACTIVE.key:
        kwargs["timeout"] = INTERACTIVE_TIMEOUT
    chain = DefaultAzureCredential(**kwargs)
    if not chain.credentials:
        raise LookupError(f"DefaultAzureCredential built no credential for {key}")
    return chain.credentials[0]


def probe_link(cloud: Cloud, key: str, scope: str) -> LinkProbe:
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import CredentialUnavailableError

    name = next(link.name for link in ALL_LINKS if link.key == key)
    started = time.perf_counter()
    credential = None
    last = _LastStatus()
    try:
        credential = build_link(cloud, key, last_status=last)
        with _as_inside_default_credential():
            token = credential.get_token_info(scope)
        return LinkProbe(key, name, Outcome.OK, "signed in", time.perf_counter() - started, credential, token)
    except CredentialUnavailableError as exc:
        if last.status is not None and (last.status in (408, 429) or last.status >= 500):
            # the endpoint exists and answered, throttled or failing: not "no managed identity here"
            return LinkProbe(
                key,
                name,
                Outcome.FAILED,
                f"HTTP status {last.status}: {_message(exc)}",
                time.perf_counter() - started,
                credential,
                error=exc,
            )
        return LinkProbe(
            key, name, Outcome.UNAVAILABLE, _message(exc), time.perf_counter() - started, credential, error=exc
        )
    except (ClientAuthenticationError, ValueError, OSError) as exc:
        return LinkProbe(key, name, Outcome.FAILED, _message(exc), time.perf_counter() - started, credential, error=exc)
    except Exception as exc:  # an SDK surprise is still this link's failure, not the whole probe's
        return LinkProbe(
            key,
            name,
            Outcome.FAILED,
            f"{type(exc).__name__}: {_message(exc)}",
            time.perf_counter() - started,
            credential,
            error=exc,
        )


def excluded_probe(key: str, message: str) -> LinkProbe:
    """A link that was deliberately not called (the browser without --interactive), kept for the report."""
    name = next(link.name for link in ALL_LINKS if link.key == key)
    return LinkProbe(key, name, Outcome.EXCLUDED, message, 0.0)


class ChainProbes:
    """Every non-interactive link being probed concurrently (developer tools are subprocesses, managed identity
    is network). ``wait(key)`` returns one link's probe as soon as it is done: DefaultAzureCredential's choice is
    known when the links before it are unavailable and it tried — a slow ``az`` later in the chain must not hold
    the RBAC reads that need only the chosen credential. The interactive browser link is never probed here: see
    ``probe_link(cloud, "interactive_browser", …)``, called only when DefaultAzureCredential would really reach
    it. On daemon threads (preflight.daemon): a probe stuck on a token endpoint that never answers must not keep
    the process alive after the report."""

    def __init__(self, cloud: Cloud, scope: str) -> None:
        from preflight.daemon import start_all

        self.keys = tuple(link.key for link in LINKS)
        self._running = start_all([functools.partial(probe_link, cloud, key, scope) for key in self.keys], name="probe")

    def wait(self, key: str) -> LinkProbe:
        return self._running.result(self.keys.index(key))

    def join(self, timeout: float) -> None:
        """Wait for the links still being probed, at most ``timeout`` seconds (see Context.on_settle)."""
        self._running.join(timeout)

    def all(self) -> dict[str, LinkProbe]:
        return dict(zip(self.keys, self._running.results(), strict=True))


def probe_chain(cloud: Cloud, scope: str) -> dict[str, LinkProbe]:
    """Probe every non-interactive link concurrently and wait for all (see :class:`ChainProbes`)."""
    return ChainProbes(cloud, scope).all()


def _message(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    return " ".join(str(text).split())
