"""Drive a real Azure CLI (``AZ=/path/to/az``) against the twin, one config directory per identity.

Every ``az`` runs with:

- a fresh ``AZURE_CONFIG_DIR`` per identity, the cloud registered from the twin's ``/metadata/endpoints``
  (``az cloud register --endpoint-resource-manager <twin>``, which reads that document) and selected;
- ``AZURE_CORE_INSTANCE_DISCOVERY=false`` (MSAL must not ask login.microsoftonline.com about the authority),
  telemetry, survey and dynamic extension install off, the twin's CA as ``REQUESTS_CA_BUNDLE``;
- the test DNS guard (tests/helpers/no_dns.py) loaded through ``PYTHONPATH``: az's Python resolves loopback only,
  so no request can reach a real Azure host; every name it tried to resolve is recorded and reported.

A service principal signs in with ``az login --service-principal`` (client secret); a user through
:mod:`seed_user` (MSAL's refresh-token migration into az's cache — ``az login`` for a user is interactive).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DNS_GUARD_SITE = HERE.parent / "helpers" / "dns_guard_site"
CLOUD_NAME = "AzureTwin"
TIMEOUT_S = 120
# Variables of the parent that would change what az does or where it goes.
_DROPPED = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ARM_CLOUD_METADATA_URL", "PATH")


@dataclass
class AzResult:
    """One ``az`` run: argv (secrets replaced), exit code, output, parsed JSON (``None`` if not JSON)."""

    argv: list[str]
    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    data: Any = None

    @property
    def error_text(self) -> str:
        return self.stderr.strip()


def az_python(az: Path) -> Path:
    """The interpreter az runs with: its script's shebang (pip's ``az`` is a Python script that re-execs it)."""
    first = az.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    if first.startswith("#!") and "python" in first:
        return Path(first[2:].strip().split()[0])
    return az.parent / "python3"


@dataclass
class AzSession:
    """One signed-in identity: its own config directory, every command it ran."""

    az: Path
    base_url: str
    ca_file: Path
    config_dir: Path
    dns_log: Path
    extension_dir: Path | None = None
    results: list[AzResult] = field(default_factory=list)
    secrets: tuple[str, ...] = ()
    # a managed identity's App Service endpoint on the twin (IDENTITY_ENDPOINT / IDENTITY_HEADER)
    extra_env: dict[str, str] = field(default_factory=dict)
    # named hosts: the sign-in host (else base_url) and the twin's CONNECT proxy (HTTPS_PROXY)
    login_url: str = ""
    proxy: str = ""

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _DROPPED and not k.startswith(("AZURE_", "MSAL_"))}
        env.update(
            PATH=f"{self.az.parent}{os.pathsep}/usr/bin:/bin",
            AZURE_CONFIG_DIR=str(self.config_dir),
            AZURE_CORE_INSTANCE_DISCOVERY="false",
            AZURE_CORE_COLLECT_TELEMETRY="false",
            AZURE_CORE_SURVEY_MESSAGE="false",
            AZURE_CORE_NO_COLOR="true",
            AZURE_CORE_LOGIN_EXPERIENCE_V2="off",
            AZURE_EXTENSION_USE_DYNAMIC_INSTALL="no",
            REQUESTS_CA_BUNDLE=str(self.ca_file),
            SSL_CERT_FILE=str(self.ca_file),
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
            # The machine's rule: the link-local managed-identity address is never a target.
            AZURE_POD_IDENTITY_AUTHORITY_HOST="http://127.0.0.1:9",
            PYTHONPATH=str(DNS_GUARD_SITE),
            PREFLIGHT_TEST_DNS_LOG=str(self.dns_log),
        )
        if self.extension_dir is not None:
            env["AZURE_EXTENSION_DIR"] = str(self.extension_dir)
        if self.proxy:
            env.update(HTTPS_PROXY=self.proxy, https_proxy=self.proxy)
        env.update(self.extra_env)
        return env

    def run(self, *args: str, stdin: str | None = None, record: bool = True) -> AzResult:
        argv = [str(a) for a in args]
        if "--output" not in argv and "-o" not in argv:
            argv += ["--output", "json"]
        start = time.monotonic()
        try:
            done = subprocess.run(
                [str(self.az), *argv],
                env=self.environment(),
                cwd=str(self.config_dir),
                input=stdin,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
            )
            code, out, err = done.returncode, done.stdout, done.stderr
        except subprocess.TimeoutExpired:
            code, out, err = -1, "", f"timed out after {TIMEOUT_S} s"
        shown = ["***" if a in self.secrets else a for a in argv]
        result = AzResult(shown, code, out, self._scrub(err), time.monotonic() - start, _json(out))
        if record:
            self.results.append(result)
        return result

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text

    def register_cloud(self) -> AzResult:
        registered = self.run("cloud", "register", "--name", CLOUD_NAME, "--endpoint-resource-manager", self.base_url)
        if registered.exit_code != 0:
            return registered
        return self.run("cloud", "set", "--name", CLOUD_NAME)

    def login_service_principal(self, app_id: str, secret: str, tenant: str) -> AzResult:
        self.secrets = (*self.secrets, secret)
        return self.run(
            "login", "--service-principal", "--username", app_id, "--password", secret, "--tenant", tenant,
            "--allow-no-subscriptions",
        )  # fmt: skip

    def login_identity(self, endpoint: str, header: str, client_id: str | None) -> AzResult:
        """``az login --identity`` against the twin's App Service managed-identity endpoint (MSAL reads
        ``IDENTITY_ENDPOINT`` + ``IDENTITY_HEADER``; without them it would try IMDS, which the DNS guard refuses)."""
        self.extra_env = {"IDENTITY_ENDPOINT": endpoint, "IDENTITY_HEADER": header}
        self.secrets = (*self.secrets, header)
        selector = ["--client-id", client_id] if client_id else []
        return self.run("login", "--identity", *selector, "--allow-no-subscriptions")

    def login_user(self, refresh_token: str, tenant: str) -> AzResult:
        """A user's ``az login`` as :mod:`seed_user` reproduces it (refresh token on stdin, never in argv)."""
        self.secrets = (*self.secrets, refresh_token)
        start = time.monotonic()
        done = subprocess.run(
            [str(az_python(self.az)), str(HERE / "seed_user.py"), str(self.config_dir), self.login_url or self.base_url,
             tenant, "-", CLOUD_NAME, self.base_url],
            env=self.environment(),
            input=refresh_token + "\n",
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )  # fmt: skip
        result = AzResult(
            ["login", "(user, seeded from a refresh token)"],
            done.returncode,
            done.stdout,
            self._scrub(done.stderr),
            time.monotonic() - start,
            _json(done.stdout),
        )
        self.results.append(result)
        return result


def _json(text: str) -> Any:
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None


def az_version(az: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """``az version`` as JSON (recorded in the report)."""
    done = subprocess.run(
        [str(az), "version", "--output", "json"], env=dict(env), capture_output=True, text=True, timeout=TIMEOUT_S
    )
    data = _json(done.stdout)
    return data if isinstance(data, dict) else {"error": done.stderr.strip()[:200]}


def refused_names(log: Path) -> list[str]:
    """Names az tried to resolve that the DNS guard refused (anything not loopback)."""
    if not log.exists():
        return []
    return sorted({line.strip() for line in log.read_text(encoding="utf-8").splitlines() if line.strip()})


def main_python() -> str:
    return sys.executable


def quoted(argv: Sequence[str]) -> str:
    return "az " + " ".join(a if a and " " not in a and "'" not in a else json.dumps(a) for a in argv)
