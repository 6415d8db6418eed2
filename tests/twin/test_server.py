"""The twin's server core: parsing, routing, faults, the request log, TLS, bearer checks, lifecycle."""

from __future__ import annotations

import http.client
import json
import re
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
import requests
from azure.core.exceptions import AzureError
from azure.identity import ClientSecretCredential
from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers.twin_fixtures import IDS, SECRET, core_scenario

from preflight.twin import Twin, faults, hosts, signin
from preflight.twin.http import ARM, DATA_PLANE, GRAPH, AuthError, TwinRequest
from preflight.twin.server import parse_request

ARM_SCOPE = "https://management.azure.com/.default"


def _get(twin: Twin, path: str, **kwargs: object) -> requests.Response:
    return requests.get(
        twin.base_url + path,
        verify=str(twin.ca_file),
        timeout=kwargs.pop("timeout", 5),  # type: ignore[arg-type]
        **kwargs,
    )  # type: ignore[arg-type]


def _token(twin: Twin, scope: str = ARM_SCOPE) -> str:
    cred = ClientSecretCredential(
        IDS["tenant"],
        IDS["secret_app"],
        SECRET,
        authority=twin.base_url,
        disable_instance_discovery=True,
        connection_verify=str(twin.ca_file),
        retry_total=0,
    )
    return cred.get_token(scope).token


# ------------------------------------------------------------------------------------------------ parsing


def test_parse_request_follows_the_contract() -> None:
    req = parse_request(
        "get",
        "/subscriptions/S//providers/Microsoft.Authorization//permissions"
        "?API-Version=2022-04-01&%24filter=atScope%28%29+and+x%20eq%20%27a%2Fb%27",
        {"Authorization": "Bearer x", "X-Ms-Thing": "1"},
        b"",
    )
    assert req.method == "GET"
    assert req.path == "/subscriptions/S/providers/Microsoft.Authorization/permissions"
    assert req.query == {"api-version": "2022-04-01", "$filter": "atScope() and x eq 'a/b'"}
    assert req.header("authorization") == "Bearer x" and req.headers["x-ms-thing"] == "1"
    assert req.raw_path.startswith("/subscriptions/S//providers")
    assert parse_request("GET", "/a%20b/c", {}, b"").path == "/a b/c"


# ------------------------------------------------------------------------------------------------ routing


def test_unknown_path_is_an_arm_shaped_404(core_twin: Twin, core_env: dict[str, str]) -> None:
    answer = _get(core_twin, "/nothing/here/at/all")
    assert answer.status_code == 404
    assert set(answer.json()["error"]) == {"code", "message"}
    (entry,) = core_twin.requests()
    assert entry.service is None and entry.status == 404


def test_wrong_method_is_405(core_twin: Twin, core_env: dict[str, str]) -> None:
    answer = _get(core_twin, f"/{IDS['tenant']}/oauth2/v2.0/token")
    assert answer.status_code == 405 and answer.json()["error"]["code"] == "MethodNotAllowed"


def test_keep_alive_connection_serves_many_requests(core_twin: Twin, core_env: dict[str, str]) -> None:
    with requests.Session() as session:
        for _ in range(3):
            assert session.get(core_twin.base_url + "/x", verify=str(core_twin.ca_file), timeout=5).status_code == 404
    assert len(core_twin.requests()) == 3


# ------------------------------------------------------------------------------------------------ faults


def test_fault_validation_names_the_bad_key() -> None:
    assert faults.validate(None) == [] and faults.validate([{"status": 429, "retryAfter": 2, "count": 1}]) == []
    errors = faults.validate(
        [
            {"match": {"service": "nope", "verb": "GET", "path": "("}, "status": 99, "action": "explode", "x": 1},
            {"match": {}},
        ]
    )
    for expected in (
        "faults[0].match.service",
        "faults[0].match.verb",
        "faults[0].match.path",
        "faults[0].status",
        "faults[0].action",
        "faults[0].x",
        "faults[1]: does nothing",
    ):
        assert any(e.startswith(expected) for e in errors), (expected, errors)
    assert faults.validate({"not": "a list"}) == ["faults: must be a list of fault rules"]


def test_fault_count_and_match(core_twin: Twin, core_env: dict[str, str]) -> None:
    core_twin.use(
        core_scenario(
            faults=[{"match": {"method": "GET", "path": "^/THROTTLED"}, "status": 429, "retryAfter": 7, "count": 2}]
        )
    )
    first = _get(core_twin, "/throttled/a")
    assert first.status_code == 429 and first.headers["Retry-After"] == "7"
    assert first.json()["error"]["code"] == "TooManyRequests"
    assert _get(core_twin, "/throttled/b").status_code == 429
    assert _get(core_twin, "/throttled/c").status_code == 404  # count used up
    assert _get(core_twin, "/other").status_code == 404
    assert [e.fault for e in core_twin.requests()] == ["status:429", "status:429", None, None]


def test_fault_body_is_verbatim(core_twin: Twin, core_env: dict[str, str]) -> None:
    core_twin.use(
        core_scenario(
            faults=[
                {"match": {"path": "^/json"}, "status": 503, "body": {"error": {"code": "ServerBusy", "message": "m"}}},
                {"match": {"path": "^/text"}, "status": 502, "body": "upstream went away"},
            ]
        )
    )
    assert _get(core_twin, "/json").json() == {"error": {"code": "ServerBusy", "message": "m"}}
    text = _get(core_twin, "/text")
    assert text.status_code == 502 and text.text == "upstream went away"
    assert text.headers["Content-Type"].startswith("text/plain")


def test_latency_fault(core_twin: Twin, core_env: dict[str, str]) -> None:
    core_twin.use(core_scenario(faults=[{"match": {"path": "^/slow"}, "latencyMs": 150}]))
    started = time.perf_counter()
    assert _get(core_twin, "/slow").status_code == 404  # delayed, then the real answer
    assert time.perf_counter() - started >= 0.15
    assert core_twin.requests()[0].duration_ms >= 150


def test_hang_fault_times_out_the_sdk(core_twin: Twin, core_env: dict[str, str]) -> None:
    core_twin.use(
        core_scenario(
            faults=[{"match": {"service": "entra", "method": "POST"}, "action": "hang", "hangMs": 400, "count": 1}]
        )
    )
    cred = ClientSecretCredential(
        IDS["tenant"],
        IDS["secret_app"],
        SECRET,
        authority=core_twin.base_url,
        disable_instance_discovery=True,
        connection_verify=str(core_twin.ca_file),
        retry_total=0,
        read_timeout=0.15,
    )
    started = time.perf_counter()
    with pytest.raises(AzureError):
        cred.get_token(ARM_SCOPE)
    assert time.perf_counter() - started < 2
    assert cred.get_token(ARM_SCOPE).token  # the hang was counted once
    time.sleep(0.3)  # let the held connection close so the log entry is written
    assert any(e.fault == "hang" and e.status == 0 for e in core_twin.requests())


def test_reset_fault(core_twin: Twin, core_env: dict[str, str]) -> None:
    core_twin.use(core_scenario(faults=[{"match": {"path": "^/reset"}, "action": "reset"}]))
    with pytest.raises(requests.ConnectionError):
        _get(core_twin, "/reset")


def test_malformed_truncate_and_html_faults(core_twin: Twin, core_env: dict[str, str]) -> None:
    core_twin.use(
        core_scenario(
            faults=[
                {"match": {"path": "^/malformed"}, "action": "malformed"},
                {"match": {"path": "^/truncated"}, "action": "truncate"},
                {"match": {"path": "^/html"}, "action": "html", "status": 403},
            ]
        )
    )
    malformed = _get(core_twin, "/malformed")
    assert malformed.status_code == 200 and malformed.headers["Content-Type"].startswith("application/json")
    with pytest.raises(ValueError):
        malformed.json()
    with pytest.raises((requests.exceptions.ChunkedEncodingError, requests.ConnectionError)):
        _get(core_twin, "/truncated")
    html = _get(core_twin, "/html")
    assert html.status_code == 403 and html.headers["Content-Type"].startswith("text/html")
    assert html.text.lstrip().startswith("<!DOCTYPE html>")


# ------------------------------------------------------------------------------------------------ bearer checks


def _bearer(token: str) -> TwinRequest:
    return TwinRequest("GET", "/x", {}, {"authorization": f"Bearer {token}"})


def test_verify_bearer_accepts_a_good_token(core_twin: Twin, core_env: dict[str, str]) -> None:
    caller = core_twin.server.verify_bearer(_bearer(_token(core_twin)), ("https://management.azure.com/",), service=ARM)
    assert caller.object_id == IDS["secret_sp"] and caller.kind == "servicePrincipal"
    assert caller.app_id == IDS["secret_app"] and caller.tenant_id == IDS["tenant"]


def test_verify_bearer_refusals_per_service(core_twin: Twin, core_env: dict[str, str]) -> None:
    server = core_twin.server
    graph_token = _token(core_twin, "https://graph.microsoft.com/.default")

    def refusal(
        request: TwinRequest, service: str, audiences: tuple[str, ...] = ("https://management.azure.com",), **kw: str
    ) -> tuple[int, dict[str, object], dict[str, str]]:
        with pytest.raises(AuthError) as info:
            server.verify_bearer(request, audiences, service=service, **kw)
        resp = info.value.response
        return resp.status, json.loads(resp.body), resp.headers

    status, body, headers = refusal(TwinRequest("GET", "/x", {}, {}), ARM)
    assert status == 401 and body["error"]["code"] == "AuthenticationFailed"  # type: ignore[index]
    assert headers["WWW-Authenticate"].startswith("Bearer authorization_uri=")
    _, body, _ = refusal(_bearer(graph_token), ARM)
    assert body["error"]["code"] == "InvalidAuthenticationTokenAudience"  # type: ignore[index]
    assert "https://graph.microsoft.com" in body["error"]["message"]  # type: ignore[index]
    _, body, _ = refusal(_bearer(graph_token[:-4] + "AAAA"), ARM, ("https://graph.microsoft.com",))
    assert body["error"]["code"] == "InvalidAuthenticationToken"  # type: ignore[index]
    _, body, _ = refusal(_bearer(graph_token), ARM, ("https://graph.microsoft.com",), tenant_id=IDS["other_tenant"])
    assert body["error"]["code"] == "InvalidAuthenticationTokenTenant"  # type: ignore[index]
    _, body, _ = refusal(_bearer(graph_token), GRAPH, ("https://management.azure.com",))
    assert body["error"]["code"] == "InvalidAuthenticationToken"  # type: ignore[index]
    assert body["error"]["message"] == "Access token validation failure. Invalid audience."  # type: ignore[index]
    _, body, _ = refusal(_bearer(graph_token), DATA_PLANE, ("https://cognitiveservices.azure.com",))
    assert body["error"]["code"] == "401"  # type: ignore[index]
    core_twin.advance_clock(7200)
    _, body, _ = refusal(_bearer(graph_token), ARM, ("https://graph.microsoft.com",))
    assert body["error"]["code"] == "ExpiredAuthenticationToken"  # type: ignore[index]


# ------------------------------------------------------------------------------------------------ TLS, env, lifecycle


def test_server_certificate_sans(core_twin: Twin, core_env: dict[str, str]) -> None:
    pem = ssl.get_server_certificate(("127.0.0.1", core_twin.port))
    sans = (
        x509.load_pem_x509_certificate(pem.encode())
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value
    )
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    # localhost, and the named hosts (preflight.twin.hosts) a --named-hosts twin answers for
    assert sans.get_values_for_type(x509.DNSName) == ["localhost", *hosts.certificate_names()]
    ctx = ssl.create_default_context(cafile=str(core_twin.ca_file))
    for host in ("127.0.0.1", "localhost"):
        conn = http.client.HTTPSConnection(host, core_twin.port, context=ctx, timeout=5)
        conn.request("GET", "/x")
        assert conn.getresponse().status == 404
        conn.close()


def test_environment_points_everything_at_the_twin(core_twin: Twin) -> None:
    env = core_twin.environment()
    assert env["REQUESTS_CA_BUNDLE"] == env["SSL_CERT_FILE"] == str(core_twin.ca_file)
    assert env["AZURE_AUTHORITY_HOST"] == core_twin.base_url
    assert env["ARM_CLOUD_METADATA_URL"] == f"{core_twin.base_url}/metadata/endpoints?api-version=2022-09-01"
    assert env["IDENTITY_ENDPOINT"].startswith(core_twin.base_url)
    assert Path(env["AZURE_CONFIG_DIR"]).is_dir()
    assert not any("169.254" in value for value in env.values())
    proc = core_twin.process_environment(
        {"AZURE_CLIENT_SECRET": "leak", "MSI_ENDPOINT": "http://169.254.169.254", "HOME": "/h"}
    )
    assert "AZURE_CLIENT_SECRET" not in proc and "MSI_ENDPOINT" not in proc and proc["HOME"] == "/h"
    assert "AZURE_CLIENT_SECRET" not in core_twin.environment(sign_in=False)


def test_separate_twin_latency_log_file_and_clean_shutdown(tmp_path: Path) -> None:
    log_file = tmp_path / "requests.jsonl"
    twin = Twin(core_scenario(), latency_ms=60, request_log_path=str(log_file)).start()
    workdir, port = twin.workdir, twin.port
    try:
        started = time.perf_counter()
        assert requests.get(twin.base_url + "/x", verify=str(twin.ca_file), timeout=5).status_code == 404
        assert time.perf_counter() - started >= 0.06
    finally:
        twin.stop()
    (line,) = log_file.read_text().splitlines()
    entry = json.loads(line)
    assert entry["method"] == "GET" and entry["path"] == "/x" and entry["status"] == 404
    assert {"time", "query", "service", "principal", "duration_ms"} <= set(entry)
    assert not workdir.exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    twin.stop()  # idempotent


def test_importing_the_twin_package_is_cheap() -> None:
    code = (
        "import sys, preflight.twin; print(sorted(m for m in ('cryptography', 'preflight.twin.server') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30)
    assert out.stdout.strip() == "[]"


def test_signin_validation_names_the_bad_key() -> None:
    assert signin.validate(None) == []
    assert (
        signin.validate(
            {
                "environment": {"clientId": "a", "tenantId": "t", "clientSecret": "s"},
                "managedIdentity": {"style": "imds"},
                "azureCli": {"loggedIn": False},
            }
        )
        == []
    )
    errors = signin.validate(
        {
            "environment": {"clientId": "a", "tenantId": "t"},
            "managedIdentity": {"style": "vm", "clientID": "x"},
            "azureCli": {"loggedIn": "yes"},
            "workloadIdentity": {"clientId": "a"},
            "browser": {},
        }
    )
    for expected in (
        "signIn.environment:",
        "signIn.managedIdentity.style",
        "signIn.managedIdentity.clientID",
        "signIn.azureCli.loggedIn",
        "signIn.workloadIdentity.issuer",
        "signIn.browser",
    ):
        assert any(e.startswith(expected) for e in errors), (expected, errors)


def test_concurrent_token_requests(core_twin: Twin, core_env: dict[str, str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def one(_: int) -> str:
        return _token(core_twin)

    with ThreadPoolExecutor(max_workers=16) as pool:
        tokens = list(pool.map(one, range(32)))
    assert len(set(tokens)) == 32
    posts = [e for e in core_twin.requests() if e.method == "POST"]
    assert len(posts) == 32 and all(e.status == 200 for e in posts)


@given(
    st.lists(st.text(alphabet="abcXYZ09-_.~ é%/", min_size=1, max_size=8), min_size=1, max_size=6),
    st.dictionaries(st.text(alphabet="aBc$-", min_size=1, max_size=6), st.text(max_size=10), max_size=4),
)
@settings(max_examples=150, deadline=None)
def test_parse_request_properties(segments: list[str], query: dict[str, str]) -> None:
    path = "/" + "/".join(segments)
    target = quote(path) + ("?" + urlencode(query) if query else "")
    req = parse_request("GET", target, {}, b"")
    assert "//" not in req.path and req.path.startswith("/")
    assert req.path == re.sub("/{2,}", "/", path)
    lowered: dict[str, str] = {}
    for key, value in query.items():
        lowered[key.lower()] = value
    assert req.query == lowered


def test_history_survives_use_and_clear(core_twin: Twin, core_env: dict[str, str]) -> None:
    before = len(core_twin.all_requests())
    _get(core_twin, "/one")
    core_twin.clear_log()
    core_twin.use(core_scenario())
    _get(core_twin, "/two")
    assert [e.path for e in core_twin.requests()] == ["/two"]
    assert [e.path for e in core_twin.all_requests()[before:]] == ["/one", "/two"]


def test_request_log_generations() -> None:
    from preflight.twin.log import LogEntry, RequestLog

    log = RequestLog()
    entry = LogEntry(
        time=0.0, method="GET", path="/x", query={}, service=None, principal=None, status=200, duration_ms=0.0
    )
    arrived = log.generation()
    log.clear()
    log.append(entry, arrived)  # arrived before the clear, answered after it
    assert log.entries() == [] and log.history() == [entry]
    log.append(entry, log.generation())
    log.append(entry)  # no generation: always current (the inner-fault log lines)
    assert log.entries() == [entry, entry] and len(log.history()) == 3


def test_a_request_in_flight_across_clear_log_counts_only_in_the_history(
    core_twin: Twin, core_env: dict[str, str]
) -> None:
    """An earlier test's request held by a latency fault (or abandoned by a run at its deadline) is answered
    after the next test cleared the log: it must not count as the next test's (a flaky full-suite failure)."""
    import threading

    core_twin.use(core_scenario(faults=[{"match": {"path": "^/held"}, "latencyMs": 2000}]))
    before = len(core_twin.all_requests())
    held = threading.Thread(target=_get, args=(core_twin, "/held"))
    held.start()
    time.sleep(0.8)  # the request has arrived and waits out its latency
    core_twin.clear_log()
    _get(core_twin, "/fresh")
    held.join(timeout=10)
    assert [e.path for e in core_twin.requests()] == ["/fresh"]
    assert sorted(e.path for e in core_twin.all_requests()[before:]) == ["/fresh", "/held"]


def test_stop_interrupts_hanging_and_idle_connections() -> None:
    import threading

    twin = Twin(core_scenario(faults=[{"match": {"path": "^/hang"}, "action": "hang", "hangMs": 30000}])).start()
    outcome: list[object] = []

    def call() -> None:
        try:
            outcome.append(requests.get(twin.base_url + "/hang", verify=str(twin.ca_file), timeout=20))
        except requests.RequestException as exc:
            outcome.append(exc)

    idle = requests.Session()
    idle.get(twin.base_url + "/x", verify=str(twin.ca_file), timeout=5)  # leaves a keep-alive connection open
    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.2)
    started = time.perf_counter()
    twin.stop()
    assert time.perf_counter() - started < 2
    caller.join(timeout=5)
    assert not caller.is_alive() and isinstance(outcome[0], requests.RequestException)
    idle.close()
