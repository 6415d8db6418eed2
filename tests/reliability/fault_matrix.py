"""The fault matrix (issue 10): every service × every fault, ``preflight check`` and ``preflight audit`` run
in-process against a twin, and what came out — results, timings, the twin's request log — as plain data.

Why worker processes: most cells spend their time *waiting* (retry back-off, Retry-After, a hang outliving
the per-check timeout), and azure-identity reads ``os.environ`` directly, so two runs cannot share a process at
the same time. :func:`run_matrix` therefore splits the cells over a few ``python -m``-style workers (this file
run as a script), each with its own twin, running its cells one after another in-process through the library
API (``preflight.run.run`` / ``preflight.audit.run.run_audit``) — exactly what the CLI calls. Waiting overlaps,
so the whole matrix costs about as long as its slowest worker. The assertions live in test_fault_matrix.py.

Every worker installs the DNS guard (tests/helpers/no_dns.py) before anything else: only loopback resolves,
a ``*.twin.invalid`` host answers ``gaierror`` without a query leaving the machine, and 169.254.169.254 is
refused (and recorded) should anything ever try it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent.parent
if str(TESTS) not in sys.path:  # run as a worker script: make `helpers` importable
    sys.path.insert(0, str(TESTS))

from helpers.twin_world import APP_ID, SP, SUB, TENANT, world  # noqa: E402

SERVICES = ("entra", "managed_identity", "arm", "resource_graph", "graph", "data_plane")
FAULTS = (
    "latency",
    "429",
    "5xx",
    "reset",
    "hang",
    "malformed",
    "html",
    "truncate",
    "tls",
    "dns",
    "cap",
    "redirect",
    "empty",
)
# "cap": one 429 with Retry-After: 3600 — the product must wait its capped Retry-After (5 s; the audit's REST
# client 10 s), not an hour, and then succeed. Only where the product retries: the managed identity probe and
# the data-plane probe make one attempt by design.
CAPPED = ("entra", "arm", "resource_graph", "graph")
# "redirect": every answer a 302 to another loopback host (never followed: preflight.azure.http); "empty": every
# answer 200 with ``{}`` (no field a verdict reads) — issue 17. For the services a bearer token goes to.
BEARER = ("arm", "resource_graph", "graph", "data_plane")
ELSEWHERE = "https://127.0.0.2:9/elsewhere"  # a closed port: were it followed, nothing would answer
COMMANDS = ("check", "audit")
# Which services each command talks to (audit: never the data plane).
USES = {"check": set(SERVICES), "audit": set(SERVICES) - {"data_plane"}}
HANG_MS = 6000
# Per-check timeout and overall deadline (seconds): a hang must outlive the timeout; every other fault gets
# room for the product's bounded retries to finish, so the cause shows instead of a timeout.
SHORT = (5.0, 15.0)  # 5 s: a healthy sign-in on a loaded 2-core machine must still fit
NORMAL = (30.0, 60.0)  # generous: on a loaded machine a retried call can take several seconds
WORKERS = 8

# The twin's service name and, for ARM, the paths a fault applies to: not /metadata/endpoints (the cloud
# metadata document comes from ARM_CLOUD_METADATA_URL, configuration rather than a Resource Manager call).
_MATCH: dict[str, dict[str, str]] = {
    "entra": {"service": "entra"},
    "managed_identity": {"service": "managed_identity"},
    "arm": {"service": "arm", "path": "^/(subscriptions|providers|tenants)"},
    "resource_graph": {"service": "resource_graph"},
    "graph": {"service": "graph"},
    "data_plane": {"service": "data_plane"},
}


@dataclass(frozen=True)
class Cell:
    service: str
    fault: str

    @property
    def id(self) -> str:
        return f"{self.service}-{self.fault}"

    @property
    def base(self) -> str:
        """The sign-in the cell needs: managed identity faults need a run that signs in with one."""
        return "mi" if self.service == "managed_identity" else "sp"

    @property
    def limits(self) -> tuple[float, float]:
        return SHORT if self.fault == "hang" else NORMAL

    @property
    def host_level(self) -> bool:
        return self.fault in ("tls", "dns")


def cells() -> list[Cell]:
    """Every (service, fault) pair. Resource Graph has no host of its own (management.azure.com serves both):
    its DNS/TLS cells are Resource Manager's, so they are not repeated."""
    return [
        Cell(s, f)
        for s in SERVICES
        for f in FAULTS
        if not (s == "resource_graph" and f in ("tls", "dns"))
        and (f != "cap" or s in CAPPED)
        and (f not in ("redirect", "empty") or s in BEARER)
    ]


def fault_rules(cell: Cell) -> list[dict[str, Any]]:
    """The scenario ``faults`` for an HTTP-level cell (host-level cells get theirs from preflight.twin.hostfaults)."""
    match = dict(_MATCH[cell.service])
    if cell.fault == "latency":
        # 100–2,000 ms: the first answer of the service waits 2 s, every other one 100–400 ms.
        return [
            {"match": match, "latencyMs": 2000, "count": 1},
            {"match": match, "latencyMs": 400, "count": 2},
            {"match": match, "latencyMs": 100},
        ]
    if cell.fault == "429":
        return [{"match": match, "status": 429, "retryAfter": 1}]
    if cell.fault == "cap":
        return [{"match": match, "status": 429, "retryAfter": 3600, "count": 1}]
    if cell.fault == "5xx":
        # one answer of each: 500, then 502, then 503 for good — the log shows all three were retried
        return [
            {"match": match, "status": 500, "count": 1},
            {"match": match, "status": 502, "count": 1},
            {"match": match, "status": 503},
        ]
    if cell.fault == "hang":
        return [{"match": match, "action": "hang", "hangMs": HANG_MS}]
    if cell.fault == "redirect":
        return [{"match": match, "status": 302, "headers": {"Location": ELSEWHERE}, "body": {}}]
    if cell.fault == "empty":
        return [{"match": match, "status": 200, "body": {}}]
    if cell.fault == "html":
        return [{"match": match, "action": "html"}]  # 200 text/html: a captive portal or proxy answered
    return [{"match": match, "action": cell.fault}]  # reset, malformed, truncate


def base_scenario(base: str) -> dict[str, Any]:
    """The test tenant (helpers.twin_world) found by its endpoint, so Resource Graph is asked to find it; ``mi``
    signs in as a managed identity (App Service style) instead of with the client secret."""
    doc = world()
    doc["target"] = {"endpoint": "https://contoso-openai.openai.azure.com/", "subscriptionId": SUB, "tenantId": TENANT}
    if base == "mi":
        doc["signIn"] = {
            "environment": None,
            "managedIdentity": {"clientId": APP_ID, "principalId": SP, "style": "appService"},
        }
    return doc


# ------------------------------------------------------------------------------------------------ worker


def _result_row(result: Any) -> dict[str, Any]:
    return {
        "check_id": result.check_id,
        "subject": result.subject,
        "status": result.status.value,
        "summary": result.summary,
        "caused_by": result.caused_by,
    }


def _runs(commands: Iterable[str], limits: tuple[float, float]) -> dict[str, Any]:
    """Run the commands at the same time (threads: they share this process's environment, which is what a
    cell sets up), each through the library API the CLI calls; their results as plain data."""
    from preflight.audit.collect import AuditPlan
    from preflight.audit.facts import AuditOptions
    from preflight.audit.run import run_audit
    from preflight.engine import RunOptions
    from preflight.run import CheckOptions, run
    from preflight.target import build_target

    timeout, deadline = limits
    out: dict[str, Any] = {}

    def one(command: str) -> None:
        target = build_target(dict(os.environ))
        engine = RunOptions(timeout=timeout, deadline=deadline)
        started = time.monotonic()
        try:
            if command == "check":
                report = run(CheckOptions(target, probe=True, engine=engine))
            else:
                report = run_audit(target, AuditOptions(plan=AuditPlan(all_subscriptions=True)), engine)
        except BaseException as exc:
            out[command] = {"crash": f"{type(exc).__name__}: {exc}", "seconds": time.monotonic() - started}
            return
        out[command] = {
            "seconds": time.monotonic() - started,
            "checks": [m.id for m in report.checks],
            "results": [_result_row(r) for r in report.results],
        }

    threads = [threading.Thread(target=one, args=(c,), name=f"matrix-{c}") for c in commands]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(deadline + 30)
    for command in commands:
        out.setdefault(command, {"crash": "did not return within its deadline + 30 s", "seconds": deadline + 30})
    return out


def _log(twin: Any) -> list[dict[str, Any]]:
    return [
        {"time": e.time, "method": e.method, "path": e.path, "service": e.service, "status": e.status, "fault": e.fault}
        for e in twin.requests()
    ]


def _environment(twin: Any, extra: Mapping[str, str]) -> None:
    from preflight.twin.instance import INHERITED_IDENTITY_VARIABLES

    env = {k: v for k, v in BASE_ENVIRON.items() if k not in INHERITED_IDENTITY_VARIABLES}
    env.update(twin.environment())
    # No `az` on PATH: the matrix signs in with a secret or a managed identity, and each Azure CLI probe would
    # start a Python process (the twin's shim) — seconds of CPU per run when eight workers share two cores.
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p != str(twin.shim_dir))
    env.update(extra)
    os.environ.clear()
    os.environ.update(env)


BASE_ENVIRON = dict(os.environ)


def _await_retry(twin: Any, limit: float) -> None:
    """Wait (at most ``limit`` s after the throttled request) until the twin logged the same request again at
    least 3 s later — the retry after the capped Retry-After."""
    while True:
        log = twin.requests()
        hit = next((e for e in log if e.status == 429), None)
        if hit is None or any((e.method, e.path) == (hit.method, hit.path) and e.time - hit.time >= 3 for e in log):
            return
        if time.time() - hit.time > limit:
            return
        time.sleep(0.1)


def _quiesce(before: int, limit: float) -> None:
    """Let threads abandoned by a timed-out run finish (the twin stops hanging once the fault is gone)."""
    end = time.monotonic() + limit
    while threading.active_count() > before and time.monotonic() < end:
        time.sleep(0.05)


def run_cells(selected: Sequence[Cell], *, baselines: Sequence[str] = ("sp", "mi")) -> Iterable[dict[str, Any]]:
    """Run ``selected`` (and the fault-free baselines) in this process; one record per run."""
    from helpers import no_dns
    from helpers.readonly import violations

    from preflight.twin import Twin
    from preflight.twin.hostfaults import UntrustedListener, host_fault

    no_dns.install()
    with Twin(base_scenario("sp")) as twin, UntrustedListener(twin) as untrusted:
        ports = {"twin": twin.port, "untrusted": untrusted.port}
        for base in baselines:
            twin.use(base_scenario(base))
            _environment(twin, {})
            yield {
                "baseline": base,
                "ports": ports,
                "runs": _runs(COMMANDS, NORMAL),
                "log": _log(twin),
                "errors": twin.errors(),
            }
        threads = threading.active_count()
        for cell in selected:
            doc = base_scenario(cell.base)
            extra: dict[str, str] = {}
            host = None
            if cell.host_level:
                moved = host_fault(twin, doc, cell.service, cell.fault, untrusted)
                doc, extra, host = moved.scenario, moved.environment, moved.host
            else:
                doc["faults"] = fault_rules(cell)
            twin.use(doc)
            _environment(twin, extra)
            refused_before, handshakes_before = len(no_dns.REFUSED), untrusted.handshakes_failed
            started = time.monotonic()
            runs = _runs(COMMANDS, cell.limits)
            if cell.fault == "cap":  # a sender the runs no longer wait for (a prefetch) may retry later: allow
                _await_retry(twin, limit=16.0)  # it the longest cap (10 s, + scheduling) before the log is read
            if cell.fault == "hang":  # a hung request is logged when the twin gives up on it: wait for one
                end = time.monotonic() + HANG_MS / 1000 + 0.5
                while time.monotonic() < end and not any(e.fault == "hang" for e in twin.requests()):
                    time.sleep(0.1)
            record = {
                "cell": cell.id,
                "service": cell.service,
                "fault": cell.fault,
                "base": cell.base,
                "limits": cell.limits,
                "host": host,
                "ports": ports,
                "runs": runs,
                "seconds": time.monotonic() - started,
                "log": _log(twin),
                "errors": twin.errors(),
                "violations": violations(twin.requests()),
                "dns_refused": no_dns.REFUSED[refused_before:],
                "tls_handshakes_failed": untrusted.handshakes_failed - handshakes_before,
            }
            yield record
            if cell.fault == "hang" and cell is not selected[-1]:
                twin.use(base_scenario("sp"))  # end the hang so abandoned threads can finish
                _quiesce(threads, HANG_MS / 1000)


# Rough seconds per cell (the slower of its two runs), for spreading the cells over the workers: sign-in faults
# wait for MSAL's and azure-identity's retries, 429s for Retry-After, hangs for the timeout.
def _cost(cell: Cell) -> float:
    if cell.service == "entra" and cell.fault in ("429", "5xx", "reset", "tls", "dns", "hang"):
        return 6.0
    return {"cap": 9.0, "429": 4.0, "hang": 3.5, "5xx": 3.0, "reset": 3.0, "latency": 3.0, "tls": 2.0, "dns": 2.0}.get(
        cell.fault, 1.0
    )


def run_matrix(selected: Sequence[Cell], workers: int = WORKERS, timeout: float = 240) -> list[dict[str, Any]]:
    """Run ``selected`` over ``workers`` processes, longest cells first onto the least loaded worker, hang cells
    last in each worker (the threads they abandon then disturb no later cell); every record, baselines first."""
    shares: list[list[Cell]] = [[] for _ in range(max(1, min(workers, len(selected))))]
    load = [1.5] + [0.0] * (len(shares) - 1)  # worker 0 also runs the baselines
    for cell in sorted(selected, key=_cost, reverse=True):
        i = load.index(min(load))
        shares[i].append(cell)
        load[i] += _cost(cell)
    shares = [[c for c in share if c.fault != "hang"] + [c for c in share if c.fault == "hang"] for share in shares]
    env = dict(os.environ)
    procs = []
    for i, share in enumerate(shares):
        ids = ",".join(c.id for c in share)
        procs.append(
            subprocess.Popen(
                [sys.executable, __file__, ids, "baselines" if i == 0 else "-"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=str(TESTS.parent),
            )
        )
    records: list[dict[str, Any]] = []
    problems = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            problems.append(f"worker exited {proc.returncode}:\n{err[-4000:]}")
        records.extend(json.loads(line) for line in out.splitlines() if line.startswith("{"))
    if problems:
        raise RuntimeError("\n".join(problems))
    return records


def _main(argv: Sequence[str]) -> int:
    by_id = {c.id: c for c in cells()}
    selected = [by_id[i] for i in argv[0].split(",") if i]
    baselines = ("sp", "mi") if len(argv) > 1 and argv[1] == "baselines" else ()
    for record in run_cells(selected, baselines=baselines):
        sys.stdout.write(json.dumps(record) + "\n")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
