"""Host-level faults: a service whose host does not resolve (DNS) or presents a certificate nobody trusts (TLS).

The scenario ``faults`` rules act on requests the twin receives; these two faults happen before any request
arrives, so they are made by telling the client that the service lives somewhere else:

- **dns**: the service's URL names ``{service}.twin.invalid`` (``.invalid`` is reserved, RFC 6761). Resolving it
  must fail *in the process under test*, without a query leaving the machine: tests install a
  ``socket.getaddrinfo`` guard (tests/helpers/no_dns.py; a ``sitecustomize`` for subprocesses) that answers
  ``gaierror`` for every name but loopback. Never use a dns fault without that guard.
- **tls**: the service's URL names a second loopback listener (:class:`UntrustedListener`) serving the same twin
  with a certificate from a throw-away CA that is in no bundle — the client's verification fails exactly as
  behind an intercepting proxy with an unknown root.

Where the client learns each service's URL: Microsoft Entra ID from ``AZURE_AUTHORITY_HOST`` and the cloud
metadata's ``loginEndpoint``; managed identity from ``IDENTITY_ENDPOINT`` (or
``AZURE_POD_IDENTITY_AUTHORITY_HOST``); ARM and Resource Graph (one host, as ``management.azure.com`` serves
both) from the metadata's ``resourceManager``; Microsoft Graph from ``microsoftGraphResourceId`` (which is also
its token audience, so the tenant gets a service principal naming that URL and Entra keeps issuing tokens for
it); the data plane from the accounts' endpoints (``x-twin-dataPlaneBase``). The metadata document is replaced
through an ordinary fault rule answering ``GET /metadata/endpoints`` with the edited document.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

KINDS = ("dns", "tls")
# resource_graph is not here: it shares Resource Manager's host (management.azure.com), so a DNS or certificate
# failure of that host is the arm fault.
HOST_SERVICES = ("entra", "managed_identity", "arm", "graph", "data_plane")
DNS_SUFFIX = ".twin.invalid"
_DNS_LABEL = {
    "entra": "login",
    "managed_identity": "identity",
    "arm": "management",
    "graph": "graph",
    "data_plane": "openai",
}


class UntrustedListener:
    """A second HTTPS listener on 127.0.0.1 for the same twin, with a certificate from a CA no client trusts.

    Its CA is generated in a private temporary directory and never handed to anyone, so every verifying client
    fails the handshake. ``handshakes_failed`` counts connections whose handshake failed (the proof that a
    client tried and refused). A context manager; :meth:`stop` is idempotent.
    """

    def __init__(self, twin: Any) -> None:
        self._twin = twin
        self._dir: Path | None = None
        self._httpd: Any = None
        self._thread: threading.Thread | None = None
        self.handshakes_failed = 0
        self._lock = threading.Lock()

    def start(self) -> Self:
        import ssl

        from preflight.twin import tls
        from preflight.twin.server import _HttpServer

        if self._httpd is not None:
            return self
        self._dir = Path(tempfile.mkdtemp(prefix="preflight-twin-untrusted-"))
        context = tls.generate(self._dir).server_context()
        listener = self

        class _Counting(_HttpServer):
            def finish_request(self, request: Any, client_address: Any) -> None:
                request.settimeout(10)
                try:
                    conn = self.context.wrap_socket(request, server_side=True)
                except (ssl.SSLError, OSError):
                    with listener._lock:
                        listener.handshakes_failed += 1
                    return
                conn.close()  # a client that trusted this certificate gets nothing: it should never get here

        self._httpd = _Counting(self._twin.server, 0, context)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="twin-untrusted", daemon=True
        )
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.close_all()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True, slots=True)
class HostFault:
    """What to serve and what to tell the client: ``scenario`` for ``twin.use()``, ``environment`` to overlay
    on the twin's own environment (after it), and ``host`` — the ``host:port`` the client will fail on."""

    scenario: dict[str, Any]
    environment: dict[str, str] = field(default_factory=dict)
    host: str = ""


def dns_host(service: str) -> str:
    """The unresolvable host name a dns fault gives ``service``."""
    return _DNS_LABEL[service] + DNS_SUFFIX


def host_fault(
    twin: Any, scenario: Mapping[str, Any], service: str, kind: str, untrusted: UntrustedListener | None = None
) -> HostFault:
    """``scenario`` (a mapping, not yet loaded) with ``service`` moved to a failing host; ``twin`` is running.

    ``kind`` ``tls`` needs a started ``untrusted`` listener. Raises ValueError for an unknown service / kind
    (``resource_graph``: use ``arm``, they share one host).
    """
    from preflight.twin.arm import cloud_metadata
    from preflight.twin.managed_identity import APP_SERVICE_PATH

    if service not in HOST_SERVICES:
        raise ValueError(
            f"no host fault for {service!r}: one of {', '.join(HOST_SERVICES)} "
            "(Resource Graph shares Resource Manager's host: use arm)"
        )
    if kind not in KINDS:
        raise ValueError(f"unknown host fault {kind!r}: one of {', '.join(KINDS)}")
    if kind == "tls":
        if untrusted is None:
            raise ValueError("a tls host fault needs a started UntrustedListener")
        base = untrusted.base_url
    else:
        base = f"https://{dns_host(service)}:{twin.port}"
    host = base.split("://", 1)[1]
    doc = copy.deepcopy(dict(scenario))
    env: dict[str, str] = {}
    metadata = cloud_metadata(twin.base_url)
    if service == "entra":
        env["AZURE_AUTHORITY_HOST"] = base
        metadata["authentication"]["loginEndpoint"] = base + "/"
    elif service == "managed_identity":
        mi = (doc.get("signIn") or {}).get("managedIdentity") or {}
        if mi.get("style") == "imds":
            env["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = base
        else:  # with its header: the twin sets none when the scenario has no managed identity
            env["IDENTITY_ENDPOINT"] = base + APP_SERVICE_PATH
            env["IDENTITY_HEADER"] = twin.server.identity_header
    elif service == "arm":
        metadata["resourceManager"] = base + "/"
    elif service == "graph":
        metadata["microsoftGraphResourceId"] = base + "/"
        # Graph's URL is also its token audience: Entra must still issue tokens for it (the call then fails on
        # the host, as it would for graph.microsoft.com), so the tenant knows a service principal by that name.
        directory = doc.setdefault("directory", {})
        directory.setdefault("servicePrincipals", []).append(
            {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, base)),
                "appId": str(uuid.uuid5(uuid.NAMESPACE_DNS, base)),
                "displayName": "Microsoft Graph (moved by a host fault)",
                "servicePrincipalType": "Application",
                "accountEnabled": True,
                "servicePrincipalNames": [base, base + "/"],
            }
        )
    else:  # data_plane
        for res in doc.get("resources") or []:
            parts = str(res.get("id", "")).lower().split("/")
            if len(parts) == 9 and parts[6:8] == ["microsoft.cognitiveservices", "accounts"]:
                res["x-twin-dataPlaneBase"] = base
    if service in ("entra", "arm", "graph"):
        rule = {
            "match": {"service": "arm", "method": "GET", "path": "^/metadata/endpoints$"},
            "status": 200,
            "body": metadata,
            "description": f"{kind} host fault: {service} at {base}",
        }
        doc["faults"] = [rule, *(doc.get("faults") or [])]
    return HostFault(doc, env, host)
