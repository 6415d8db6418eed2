"""Benchmark: ``preflight audit --all-subscriptions`` on a generated tenant of 100 subscriptions × 1,000 role
assignments naming 20,000 distinct principals (preflight.twin.generate), at 0 ms and 50 ms injected latency.

One command (not collected by pytest: ``bench_*.py``)::

    /work/venv/bin/python tests/benchmarks/bench_audit.py [--subscriptions 100] [--per-subscription 1000]
                                                          [--principals 20000] [--latency 0 50] [--fallback]
                                                          [--rounds 1] [--paths] [--also json]

It serves the scenario from a twin in this process, runs the real ``preflight`` console script as a child
process (so its peak RSS and CPU time are measured alone, from ``wait4``'s rusage) and prints one row per
latency: wall time, the audit's CPU time (user + system: load on a shared machine inflates wall time, not this),
requests from the twin's request log (by service), peak RSS, and whether every assignment came back exactly
once. ``--fallback`` adds the ARM fallback (Resource Graph answering 403) as one more row per latency.
Targets (issue 9): at most 60 requests, at most 15 s at 50 ms, under 500 MB.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ (for helpers) when run as a script

from helpers.cli import clean_env, preflight_exe

from preflight.twin import Twin
from preflight.twin.generate import generate_scenario

TARGETS = {"requests": 60, "seconds_at_50ms": 15.0, "rss_mb": 500}


ARG_403 = [
    {
        "match": {"service": "resource_graph"},
        "status": 403,
        "body": {
            "error": {
                "code": "AuthorizationFailed",
                "message": "The client does not have authorization to perform action 'Microsoft.ResourceGraph/resources/read'.",
            }
        },
    }
]


@dataclass(frozen=True)
class Row:
    path: str  # "resource-graph" or "arm-fallback"
    latency_ms: int
    wall_s: float
    cpu_s: float  # the audit process's user + system CPU time: what load on a shared machine does not inflate
    requests: int
    by_service: dict[str, int]
    rss_mb: float
    assignments: int
    unique: int
    exit_code: int
    paths: dict[str, int]


def use_faults(twin: Twin, faults: list[dict[str, object]]) -> None:
    """Swap the served scenario's faults in place: re-serving 100,000 assignments would rebuild every index."""
    twin.scenario["faults"] = faults  # type: ignore[index]
    twin.server.reset()


def run_once(twin: Twin, latency_ms: int, workdir: Path, also: str | None = None, path: str = "resource-graph") -> Row:
    twin.server.latency_ms = latency_ms
    use_faults(twin, ARG_403 if path == "arm-fallback" else [])
    env = twin.process_environment(clean_env({"CI": "1"}))  # CI: no progress line on stderr
    out = workdir / f"audit-{latency_ms}.csv"
    log = workdir / f"audit-{latency_ms}.log"
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as sink:
        proc = subprocess.Popen(
            [
                preflight_exe(),
                "audit",
                "--all-subscriptions",
                "--format",
                "table",
                "--output",
                str(out),
                "--fail-on",
                "never",
                *(["--output", str(workdir / f"audit-{latency_ms}.{also}")] if also else []),
            ],
            env=env,
            cwd=workdir,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        # wait4, not proc.wait(): its rusage is this child's alone (RUSAGE_CHILDREN keeps the max of all)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    if code != 0:
        print(log.read_text(encoding="utf-8")[-3000:], file=sys.stderr)
    rss_kb = usage.ru_maxrss  # kilobytes on Linux
    requests = twin.requests()
    with out.open(newline="", encoding="utf-8") as handle:
        ids = [row["assignment_id"].lower() for row in csv.DictReader(handle)]
    paths = Counter(f"{e.method} {_generic(e.path)} {e.status}" for e in requests)
    return Row(
        path,
        latency_ms,
        wall,
        usage.ru_utime + usage.ru_stime,
        len(requests),
        dict(Counter(e.service or "?" for e in requests)),
        rss_kb / 1024,
        len(ids),
        len(set(ids)),
        code,
        dict(paths),
    )


def _generic(path: str) -> str:
    """A path with its GUIDs replaced, so requests group by kind (``--paths``)."""
    import re

    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "{id}", path, flags=re.IGNORECASE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=100)
    parser.add_argument("--per-subscription", type=int, default=1000)
    parser.add_argument("--principals", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency", type=int, nargs="+", default=[0, 50])
    parser.add_argument(
        "--fallback",
        action="store_true",
        help="also measure the ARM fallback (Resource Graph answers 403: one listing per "
        "subscription), one more row per latency",
    )
    parser.add_argument(
        "--also",
        choices=["json", "html", "md", "sarif", "xml"],
        default=None,
        help="also write this report format (to see its cost in time and memory)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run each row this many times and keep the fastest (a shared machine's load varies)",
    )
    parser.add_argument("--paths", action="store_true", help="also print the requests grouped by method, path, status")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    scenario = generate_scenario(args.subscriptions, args.per_subscription, args.principals, seed=args.seed)
    expected = len(scenario["roleAssignments"])
    paths = ["resource-graph"] + (["arm-fallback"] if args.fallback else [])
    with Twin(scenario) as twin, tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        print(
            f"scenario: {args.subscriptions} subscriptions × {args.per_subscription} assignments "
            f"({expected} with the auditor's), {args.principals} principals; twin ready in "
            f"{time.perf_counter() - started:.1f} s",
            flush=True,
        )
        rows = [
            min(
                (run_once(twin, latency, Path(tmp), args.also, path) for _ in range(args.rounds)),
                key=lambda r: r.wall_s,
            )
            for path in paths
            for latency in args.latency
        ]
        assert twin.errors() == [], twin.errors()
    header = f"{'path':<15} {'latency':>8} {'wall s':>8} {'cpu s':>6} {'requests':>9} {'peak RSS MB':>12} {'rows':>8} {'unique':>8} exit  by service"
    print(header)
    print("-" * len(header))
    for row in rows:
        services = ", ".join(f"{k}={v}" for k, v in sorted(row.by_service.items()))
        print(
            f"{row.path:<15} {row.latency_ms:>6}ms {row.wall_s:>8.2f} {row.cpu_s:>6.1f} {row.requests:>9} {row.rss_mb:>12.0f} {row.assignments:>8} "
            f"{row.unique:>8} {row.exit_code:>4}  {services}"
        )
    if args.paths:
        for row in rows:
            print(f"requests, {row.path} at {row.latency_ms} ms:")
            for key, count in sorted(row.paths.items()):
                print(f"  {count:>5}  {key}")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (1 min), {os.getloadavg()[1]:.1f} (5 min)")
    print(
        f"targets: ≤ {TARGETS['requests']} requests, ≤ {TARGETS['seconds_at_50ms']:g} s at 50 ms, "
        f"< {TARGETS['rss_mb']} MB; expected rows: {expected}"
    )
    complete = all(r.assignments == r.unique == expected and r.exit_code == 0 for r in rows)
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
