"""The :class:`Twin` object: start a twin, swap scenarios, and hand a process under test its environment.

One twin serves a whole test session (``use()`` swaps the scenario and resets state), ``preflight twin
serve/exec`` and ``preflight demo``. Everything a process needs to talk to the twin instead of Azure comes from
:meth:`Twin.environment`: the CA bundle, the authority, the cloud metadata URL, managed identity pointed at the
twin (never at the link-local IMDS address), an ``az`` on ``PATH``, an isolated ``AZURE_CONFIG_DIR``, and the
scenario's sign-in variables and target.

Only what the scenario describes is set (issue 19 item 4): a scenario without a managed identity gets no
``IDENTITY_ENDPOINT`` / ``IDENTITY_HEADER`` — a developer machine or CI runner has none, and ``env.config`` would
otherwise report a managed identity that is not there. Managed identity must still never reach
169.254.169.254, so it is pointed (``AZURE_POD_IDENTITY_AUTHORITY_HOST``, the IMDS base azure-identity honours) at
a loopback port the twin holds bound but never listens on: every connection is refused at once, as IMDS is
absent off Azure.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from preflight.appconfig import APP_VARS
from preflight.envconfig import IDENTITY_ENV_VARS
from preflight.twin import azcli, entra, hosts, signin, tls, tokens
from preflight.twin.http import ARM, ENTRA
from preflight.twin.log import LogEntry
from preflight.twin.proxy import ConnectProxy
from preflight.twin.server import TwinServer

# Variables a process under the twin must NOT inherit from the parent: each would make azure-identity (or MSAL)
# pick another credential, authority or managed-identity endpoint. :meth:`Twin.process_environment` drops them.
INHERITED_IDENTITY_VARIABLES = (
    # every variable azure-identity (or the platform feeding it) reads: the product's own list
    *IDENTITY_ENV_VARS,
    *APP_VARS,  # the app's own settings (keys, legacy openai<1.0 variables): a scenario's `app` sets them
    # and what else points the product at Azure: subscription, target, cloud, CLI profile, CA bundles, proxies
    "AZURE_SUBSCRIPTION_ID",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_AI_ENDPOINT",
    "AZURE_CLOUD",
    "AZURE_CONFIG_DIR",
    "ARM_CLOUD_METADATA_URL",
    "PREFLIGHT_RESOURCE_ID",
    "PREFLIGHT_PROFILE",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "CURL_CA_BUNDLE",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
)


def load(spec: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """A validated scenario through the scenario loader (built-in name, file path or mapping)."""
    from preflight.twin.scenario import load_scenario

    return load_scenario(spec if isinstance(spec, (str, Mapping)) else Path(spec))


class Twin:
    """A running Azure twin on ``https://127.0.0.1:PORT`` (a context manager).

    ``scenario``: a built-in name, a JSON file or a mapping. ``latency_ms`` delays every answer (benchmarks);
    ``request_log_path`` mirrors the request log to a JSONL file. ``named_hosts`` serves each service under its
    own name (``management.twin.test`` …, :mod:`preflight.twin.hosts`) through the twin's loopback CONNECT proxy,
    which :meth:`environment` hands the process as ``HTTPS_PROXY``; else every service shares one origin.
    """

    def __init__(
        self,
        scenario: str | os.PathLike[str] | Mapping[str, Any] = "healthy",
        *,
        port: int = 0,
        latency_ms: int = 0,
        request_log_path: str | None = None,
        named_hosts: bool = False,
    ) -> None:
        self.named_hosts = named_hosts
        self._proxy: ConnectProxy | None = None
        self._spec = scenario
        self._port = port
        self._latency_ms = latency_ms
        self._request_log_path = request_log_path
        self._server: TwinServer | None = None
        self._workdir: Path | None = None
        self.ca_file = Path()
        self.shim_dir = Path()
        self._cert_cache: dict[tuple[str, ...], Any] = {}
        self._refusing: socket.socket | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> Self:
        """Generate TLS material and keys, bind the port, load the scenario, write the ``az`` shim, serve."""
        if self._server is not None:
            return self
        scenario = load(self._spec)  # fail before binding anything if the scenario is invalid
        self._workdir = Path(tempfile.mkdtemp(prefix="preflight-twin-"))
        try:
            files = tls.generate(self._workdir, names=hosts.certificate_names())
            self.ca_file = files.ca_file
            self._server = TwinServer(
                {},
                tls=files,
                workdir=self._workdir,
                port=self._port,
                latency_ms=self._latency_ms,
                request_log_path=self._request_log_path,
                named_hosts=self.named_hosts,
            )
            self._server.reset(self._bind(scenario))
            if self.named_hosts:
                server = self._server
                self._proxy = ConnectProxy(server.port, lambda host: hosts.serves(host, server.scenario)).start()
            self.shim_dir = self._workdir / "bin"
            azcli.write_shim(self.shim_dir, self.base_url, self.ca_file)
            self._refusing = _refusing_socket()
            self._server.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and delete the temporary directory (idempotent)."""
        if self._proxy is not None:
            self._proxy.stop()
            self._proxy = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._refusing is not None:
            self._refusing.close()
            self._refusing = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def use(self, scenario: str | os.PathLike[str] | Mapping[str, Any]) -> None:
        """Swap the scenario and reset state, fault counters and the request log (one twin per session)."""
        self._spec = scenario
        self.server.reset(self._bind(load(scenario)))

    def _bind(self, scenario: Mapping[str, Any]) -> dict[str, Any]:
        # Endpoints depend on the port; generated certificates on the work dir.
        from preflight.twin.scenario import bind_endpoints

        assert self._server is not None and self._workdir is not None
        bound = bind_endpoints(scenario, self._server.base_url, named_hosts=self.named_hosts)
        return entra.prepare_scenario(bound, self._workdir, self._cert_cache)

    # -- facts -------------------------------------------------------------------------------------------
    @property
    def server(self) -> TwinServer:
        if self._server is None:
            raise RuntimeError("the twin is not running (call start() or use it as a context manager)")
        return self._server

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def scenario(self) -> Mapping[str, Any]:
        """The scenario being served (validated, normalised, endpoints bound, certificates generated)."""
        return self.server.scenario

    @property
    def tenant_id(self) -> str:
        return self.server.tenant_id

    @property
    def workdir(self) -> Path:
        assert self._workdir is not None
        return self._workdir

    def requests(self) -> list[LogEntry]:
        """Every request that arrived since start / the last :meth:`use` / :meth:`clear_log` (one still in flight
        then, e.g. held by a latency fault, is in :meth:`all_requests` only)."""
        return self.server.log.entries()

    def all_requests(self) -> list[LogEntry]:
        """Every request since :meth:`start`, across :meth:`use` and :meth:`clear_log` (session-wide proofs such
        as "no PUT/PATCH/DELETE ever reached ARM or Graph")."""
        return self.server.log.history()

    def clear_log(self) -> None:
        self.server.log.clear()

    def errors(self) -> list[str]:
        """Tracebacks of handler crashes (twin bugs); tests should assert this stays empty."""
        return list(self.server.errors)

    def issued_tokens(self) -> tuple[str, ...]:
        """Every access, id and refresh token and federated assertion the twin issued since start (the most
        recent 4096), for secret-hygiene tests that search outputs for each one. Read-only."""
        return self.server.issuer.issued()

    def az_calls(self) -> list[list[str]]:
        """The argv of every ``az`` invocation the shim forwarded."""
        return [list(a) for a in self.server.store.get("az_calls", [])]

    def advance_clock(self, seconds: float) -> None:
        """Move the twin's clock (token expiry, secret expiry) without waiting."""
        self.server.clock_offset += seconds

    # -- tokens for tests --------------------------------------------------------------------------------
    def refresh_token(self, user: str, client_id: str | None = None) -> str:
        """A refresh token for ``user`` (UPN or object id), for tests of the ``refresh_token`` grant."""
        found = entra.find_user(self.scenario, user)
        if found is None:
            raise KeyError(f"no user {user!r} in the scenario")
        return entra.issue_refresh_token(self.server, found, client_id or tokens.AZURE_CLI_APP_ID)

    def federated_token(
        self, *, issuer: str, subject: str, audience: str = signin.DEFAULT_FEDERATED_AUDIENCE, lifetime: int = 3600
    ) -> str:
        """A workload-identity assertion signed by the twin (what a Kubernetes token file would hold)."""
        return entra.federated_assertion(
            self.server, issuer=issuer, subject=subject, audience=audience, lifetime=lifetime
        )

    # -- environment -------------------------------------------------------------------------------------
    def environment(self, *, sign_in: bool = True) -> dict[str, str]:
        """Every variable a process under test needs, to overlay on its environment.

        Prefer :meth:`process_environment`, which also removes inherited identity variables.
        """
        login, arm = self.server.origin(ENTRA), self.server.origin(ARM)
        scenario = self.scenario
        config_dir = self.workdir / "azure-config"
        config_dir.mkdir(exist_ok=True)
        env: dict[str, str] = {
            "REQUESTS_CA_BUNDLE": str(self.ca_file),
            "SSL_CERT_FILE": str(self.ca_file),
            "AZURE_AUTHORITY_HOST": login,
            "ARM_CLOUD_METADATA_URL": f"{arm}/metadata/endpoints?api-version=2022-09-01",
            "PATH": f"{self.shim_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "AZURE_CONFIG_DIR": str(config_dir),
            "AZURE_CORE_INSTANCE_DISCOVERY": "false",
            "AZURE_CORE_COLLECT_TELEMETRY": "false",
            # Never proxy loopback, whatever the parent says.
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
        if self._proxy is not None:  # named hosts: every *.twin.test name through the twin's own proxy
            env.update(HTTPS_PROXY=self._proxy.url, https_proxy=self._proxy.url)
        env.update(self._managed_identity_environment())
        env.update(self._target_environment())
        if sign_in:
            env.update(self._sign_in_environment(scenario))
        return env

    def process_environment(self, base: Mapping[str, str] | None = None, *, sign_in: bool = True) -> dict[str, str]:
        """``base`` (default ``os.environ``) minus inherited identity variables, plus :meth:`environment`."""
        env = {k: v for k, v in (os.environ if base is None else base).items() if k not in INHERITED_IDENTITY_VARIABLES}
        env.update(self.environment(sign_in=sign_in))
        return env

    def proxy_refused(self) -> list[str]:
        """With named hosts, every request line the twin's proxy refused (a name that is not the twin's, a twin
        name that does not exist): what a process under the twin tried to reach beyond it. Empty otherwise."""
        return self._proxy.refused() if self._proxy is not None else []

    @property
    def refusing_url(self) -> str:
        """``http://127.0.0.1:PORT`` of a port the twin holds bound and never listens on: a connection there is
        refused at once. Where managed identity points when the scenario has none (never at 169.254.169.254)."""
        if self._refusing is None:
            raise RuntimeError("the twin is not running (call start() or use it as a context manager)")
        return f"http://127.0.0.1:{self._refusing.getsockname()[1]}"

    def _managed_identity_environment(self) -> dict[str, str]:
        """The managed identity variables the scenario's host would set: App Service's ``IDENTITY_ENDPOINT`` +
        ``IDENTITY_HEADER`` (plus the platform variables it names in ``hostEnvironment``, e.g.
        ``WEBSITE_SITE_NAME``), or IMDS (an Azure VM sets no variable; the twin stands in through
        ``AZURE_POD_IDENTITY_AUTHORITY_HOST``). No managed identity: IMDS pointed at the refusing port."""
        mi = signin.section(self.scenario, "managedIdentity")
        if mi is None:
            return {"AZURE_POD_IDENTITY_AUTHORITY_HOST": self.refusing_url}
        host = {str(k): str(v) for k, v in (mi.get("hostEnvironment") or {}).items()}
        if mi.get("style") == "imds":
            return {**host, "AZURE_POD_IDENTITY_AUTHORITY_HOST": self.base_url}
        from preflight.twin.managed_identity import APP_SERVICE_PATH

        return {
            **host,
            "IDENTITY_ENDPOINT": self.base_url + APP_SERVICE_PATH,
            "IDENTITY_HEADER": self.server.identity_header,
        }

    def _target_environment(self) -> dict[str, str]:
        target = self.scenario.get("target") or {}
        mapping = {
            "tenantId": "AZURE_TENANT_ID",
            "subscriptionId": "AZURE_SUBSCRIPTION_ID",
            "resourceId": "PREFLIGHT_RESOURCE_ID",
            "endpoint": "AZURE_OPENAI_ENDPOINT",
            "profile": "PREFLIGHT_PROFILE",
        }
        env = {var: str(target[key]) for key, var in mapping.items() if target.get(key)}
        # the app's own variables (AZURE_OPENAI_API_KEY, OPENAI_API_TYPE …): what the app.* checks read; null unsets
        for name, value in ((self.scenario.get("app") or {}).get("environment") or {}).items():
            if value is None:
                env.pop(str(name), None)
            else:
                env[str(name)] = str(value)
        return env

    def _sign_in_environment(self, scenario: Mapping[str, Any]) -> dict[str, str]:
        env: dict[str, str] = {}
        mi = signin.section(scenario, "managedIdentity")
        if mi is not None and mi.get("clientId"):
            sp = entra.find_service_principal(scenario, app_id=str(mi["clientId"]))
            if sp is not None and "isExplicit=True" in (sp.get("alternativeNames") or ()):
                env["AZURE_CLIENT_ID"] = str(mi["clientId"])  # a user-assigned identity is selected by client id
        wi = signin.section(scenario, "workloadIdentity")
        if wi is not None:
            token_file = self.workdir / "federated-token"
            token_file.write_text(
                self.federated_token(
                    issuer=str(wi["issuer"]),
                    subject=str(wi["subject"]),
                    audience=str(wi.get("audience") or signin.DEFAULT_FEDERATED_AUDIENCE),
                ),
                encoding="utf-8",
            )
            env.update(
                AZURE_CLIENT_ID=str(wi["clientId"]),
                AZURE_TENANT_ID=str(wi["tenantId"]),
                AZURE_FEDERATED_TOKEN_FILE=str(token_file),
            )
        sp_env = signin.section(scenario, "environment")
        if sp_env is not None:
            env.update(AZURE_CLIENT_ID=str(sp_env["clientId"]), AZURE_TENANT_ID=str(sp_env["tenantId"]))
            if sp_env.get("clientSecret") is not None:
                env["AZURE_CLIENT_SECRET"] = str(sp_env["clientSecret"])
            elif sp_env.get("certificate"):
                env["AZURE_CLIENT_CERTIFICATE_PATH"] = self.certificate_path(str(sp_env["clientId"]))
                if sp_env.get("sendCertificateChain"):
                    env["AZURE_CLIENT_SEND_CERTIFICATE_CHAIN"] = "true"
        return env

    def certificate_path(self, app_id: str) -> str:
        """The PEM for ``app_id``'s generated key credential; an unregistered certificate if it has none (so
        the twin answers AADSTS700027, as Entra does for a certificate it does not know)."""
        path = entra.certificate_path(self.scenario, app_id)
        if path:
            return path
        stray = self.workdir / "certs" / f"{app_id}-unregistered.pem"
        if not stray.exists():
            stray.parent.mkdir(exist_ok=True)
            tls.generate_client_certificate(stray, "unregistered")
        return str(stray)


def _refusing_socket() -> socket.socket:
    """A TCP socket bound to a free loopback port and never put in listening state: connecting to it is refused
    (RST) at once, and no other process can take the port while the twin holds it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
    except OSError:
        sock.close()
        raise
    return sock
