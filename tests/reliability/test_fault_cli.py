"""The fault matrix through the real CLI, for a representative subset (issue 10): ``preflight check`` and
``preflight audit`` as subprocesses under faults — the exit code is right, the report file is written and
complete, the causes name the service and the fault, stderr carries no traceback, the run ends within its
deadline. Every subprocess runs under the DNS guard (a ``sitecustomize`` on PYTHONPATH): only loopback
resolves, and every name it refused is logged — nothing but the ``*.twin.invalid`` host a dns cell sets up.

The cases run at the same time (each with its own twin), so the file costs about one CLI run.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from helpers import no_dns
from helpers.cli import clean_env, preflight_exe
from reliability.fault_matrix import Cell, base_scenario, fault_rules

from preflight.twin import Twin
from preflight.twin.hostfaults import UntrustedListener, host_fault

STARTUP = 12.0  # seconds a CLI process may need beyond --deadline to import, render and write on a loaded machine


@dataclass
class Case:
    id: str
    command: str  # check | audit
    cell: Cell
    args: tuple[str, ...]
    exit_code: int
    service: str  # words the affected results must contain
    fault: str
    deadline: float = 60.0
    statuses: tuple[str, ...] = ("error", "skip")  # what the results naming the cause may be
    hang_ms: int | None = None  # a longer hang than the matrix's (a cold CLI process needs seconds to import)
    proc: Any = field(default=None, repr=False)
    started: float = 0.0
    seconds: float = 0.0
    out: str = ""
    err: str = ""
    report: Path = field(default=Path())
    dns_log: Path = field(default=Path())


CASES = [
    Case("check-arm-5xx", "check", Cell("arm", "5xx"), ("--probe",), 1, r"Resource Manager", r"HTTP 503"),
    # (a cold CLI process on a loaded machine needs seconds for sign-in and imports: the timeout leaves room)
    Case(
        "check-graph-hang",
        "check",
        Cell("graph", "hang"),
        ("--timeout", "10", "--deadline", "20"),
        1,
        r"Microsoft Graph",
        r"timed out after 10 s waiting for",
        deadline=20.0,
        hang_ms=40000,
    ),
    Case(
        "check-entra-dns",
        "check",
        Cell("entra", "dns"),
        (),
        1,
        r"Entra ID",
        r"DNS: the host name login\.twin\.invalid does not resolve",
    ),
    # a truncated Graph answer: the principal checks could not decide — the first ERROR names it, the others say
    # "same cause as" it — so the run does not pass (exit 1, the gate rule); azure-core's "Incomplete download."
    # warning does not leak onto stderr
    Case("check-graph-truncate", "check", Cell("graph", "truncate"), (), 1, r"Microsoft Graph", r"truncated"),
    Case(
        "check-dataplane-tls",
        "check",
        Cell("data_plane", "tls"),
        ("--probe",),
        1,
        r"data plane",
        r"TLS: certificate not trusted for 127\.0\.0\.1:\d+",
    ),
    # principals unresolved: the findings that need them are undecided, so the inventory ERRORs naming the
    # cause and they SKIP pointing at it — an undecided audit is not a pass (exit 1; the gate rule)
    Case("audit-graph-html", "audit", Cell("graph", "html"), (), 1, r"Microsoft Graph", r"HTML page"),
    # role definitions unreadable (the inventory itself comes from Resource Graph): a WARN that says why;
    # --fail-on never: exit 0 whatever the results
    Case(
        "audit-arm-reset-never",
        "audit",
        Cell("arm", "reset"),
        ("--fail-on", "never"),
        0,
        r"Resource Manager",
        r"reset",
        statuses=("warn", "error", "skip"),
    ),
    Case(
        "audit-entra-tls",
        "audit",
        Cell("entra", "tls"),
        (),
        1,
        r"Entra ID",
        r"TLS: certificate not trusted for 127\.0\.0\.1:\d+",
    ),
]


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Case]]:
    """Start every case's CLI at once (each against its own twin), wait for all of them."""
    work = tmp_path_factory.mktemp("fault-cli")
    twins: list[Twin] = []
    listeners: list[UntrustedListener] = []
    try:
        for case in CASES:
            doc = base_scenario(case.cell.base)
            twin = Twin(doc).start()
            twins.append(twin)
            extra: dict[str, str] = {}
            if case.cell.host_level:
                listener = UntrustedListener(twin).start()
                listeners.append(listener)
                moved = host_fault(twin, doc, case.cell.service, case.cell.fault, listener)
                doc, extra = moved.scenario, moved.environment
            else:
                doc["faults"] = fault_rules(case.cell)
                if case.hang_ms:
                    doc["faults"] = [dict(rule, hangMs=case.hang_ms) for rule in doc["faults"]]
            twin.use(doc)
            env = twin.process_environment(clean_env())
            env.update(extra)
            case.dns_log = work / f"{case.id}.dns"
            env = no_dns.subprocess_environment(env, case.dns_log)
            case.report = work / case.id / "report.json"
            args = [preflight_exe(), case.command, "--format", "json", "--output", str(case.report), *case.args]
            if case.command == "audit":
                args.append("--all-subscriptions")
            case.started = time.monotonic()
            case.proc = subprocess.Popen(
                args, env=env, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        for case in CASES:
            case.out, case.err = case.proc.communicate(timeout=case.deadline + 60)
            case.seconds = time.monotonic() - case.started
        yield {case.id: case for case in CASES}
    finally:
        for case in CASES:
            if case.proc is not None and case.proc.poll() is None:
                case.proc.kill()
                case.proc.communicate()
        for listener in listeners:
            listener.stop()
        for twin in twins:
            twin.stop()


@pytest.mark.parametrize("case_id", [c.id for c in CASES])
def test_cli_under_fault(ran: dict[str, Case], case_id: str) -> None:
    case = ran[case_id]
    assert "Traceback" not in case.err, case.err
    assert case.err.strip() == "", f"stray output on stderr: {case.err[-1000:]}"  # the report says it all
    assert case.proc.returncode == case.exit_code, (case.proc.returncode, case.err[-2000:])
    assert case.seconds <= case.deadline + STARTUP, f"took {case.seconds:.1f} s"
    # the report file is written, complete, and says what stdout says
    data = json.loads(case.report.read_text(encoding="utf-8"))
    assert json.loads(case.out)["results"] == data["results"]
    assert {c["id"] for c in data["checks"]} == {r["check_id"] for r in data["results"]}
    affected = [
        r
        for r in data["results"]
        if r["status"] in case.statuses
        and re.search(case.service, r["summary"])
        and re.search(case.fault, r["summary"])
    ]
    assert affected, f"no {'/'.join(case.statuses)} names the service and the fault:\n" + "\n".join(
        f"{r['check_id']} {r['status']}: {r['summary'][:200]}" for r in data["results"]
    )
    gating = data["summary"]["counts"]["error"] + data["summary"]["counts"]["fail"]
    assert case.exit_code == (1 if gating and "never" not in case.args else 0), "the exit code contract"
    refused = case.dns_log.read_text(encoding="utf-8").split() if case.dns_log.exists() else []
    assert all(name.endswith(".twin.invalid") for name in refused), refused
    if case.cell.fault == "dns":
        assert refused, "the guard saw no lookup of the unresolvable host"
