"""Benchmark: ``preflight check`` against its critical path, beside the same diagnosis done with one process per
fact (and, opt-in, with the real Azure CLI), plus cold start and the import floor (issue 11).

One command (not collected by pytest: ``bench_*.py``)::

    /work/venv/bin/python tests/benchmarks/bench_check.py [--latency 0 50 100] [--json out.json]
                                                          [--with-az /work/azcli-venv/bin/az] [--rounds 3]

World: the built-in ``healthy`` tenant with the CI service principal signing in from environment variables
(``AZURE_CLIENT_ID`` / ``AZURE_CLIENT_SECRET`` / ``AZURE_TENANT_ID``; tests/helpers/principal_world.py), its
Reader on the resource group and Cognitive Services OpenAI User on the account; managed identity points at the
twin, so nothing can reach the link-local IMDS address. The twin runs in this process and injects ``--latency``
milliseconds into every request it serves.

Per latency it measures:

- **preflight**: the real console script as a child process (all default checks): wall time (best of
  ``--rounds``), peak RSS (``wait4``), requests by service and duplicated requests (twin request log), and the
  longest chain of dependent requests (tests/helpers/critical_path.py), with ratio wall / (chain × latency);
- **sequential**: the same facts fetched the way a user does today, one fresh process per ``az`` command
  (tests/benchmarks/baseline_fact.py: 2 × get-access-token, role assignment list, role definition list,
  cognitiveservices account show), run one after the other;
- **az** (only with ``--with-az PATH``): those five commands with the real Azure CLI against the twin (custom
  cloud registered from the twin's ``/metadata/endpoints``, ``AZURE_CORE_INSTANCE_DISCOVERY=false``, a fresh
  ``AZURE_CONFIG_DIR``, the twin's CA through ``REQUESTS_CA_BUNDLE``; login is set-up, not timed).

The **import floor** — the cold wall time of ``python -c`` importing exactly the third-party modules a check run
ends up with in ``sys.modules`` (recorded once in a child) — is measured after every preflight round, so the
target compares runs made under the same machine load. Once: ``preflight --help`` / ``--version`` wall and peak
RSS, the top ``python -X importtime`` entries of a check run. ``--baseline-rounds N`` repeats the baselines.

Targets (issue 11), checked and printed at the end: at 100 ms, wall ≤ import floor + 1.3 × chain × latency;
no duplicated request; ≥ 3× faster than the sequential commands (and than az, when measured);
``preflight --help`` ≤ 0.3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))  # tests/ (for helpers) when run as a script

from helpers.cli import clean_env, preflight_exe  # noqa: E402
from helpers.critical_path import critical_path, duplicates  # noqa: E402
from helpers.principal_world import SP_ID, service_principal  # noqa: E402

from preflight.twin import Twin  # noqa: E402

BASELINE = TESTS / "benchmarks" / "baseline_fact.py"
BASELINE_FACTS = ("token-arm", "token-cognitive", "assignments", "definitions", "account")
HELP_TARGET_S = 0.3
SPEEDUP_TARGET = 3.0
CHAIN_FACTOR = 1.3
CHAIN_SLACK_S = 0.002  # clock jitter between the twin's threads: 2 ms


@dataclass
class Timed:
    """One child process: wall seconds and peak RSS (MB)."""

    wall_s: float
    rss_mb: float
    exit_code: int


@dataclass
class CheckRow:
    latency_ms: int
    wall_s: float
    walls: list[float]
    rss_mb: float
    exit_code: int
    requests: int
    by_service: dict[str, int]
    duplicates: dict[str, int]
    chain: list[str]
    ratio: float | None
    sequential_s: float
    sequential_requests: int
    floor_s: float = 0.0  # the import floor measured between this latency's preflight rounds (best)
    az_s: float | None = None
    az_requests: int | None = None
    az_commands: list[dict[str, Any]] = field(default_factory=list)


def timed(cmd: list[str], env: dict[str, str], cwd: Path, log: Path | None = None) -> Timed:
    """Run ``cmd`` to completion; its wall time and its own peak RSS (``wait4``'s rusage is this child's alone)."""
    sink = log.open("a", encoding="utf-8") if log else subprocess.DEVNULL
    try:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=sink, stderr=sink)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    finally:
        if log:
            sink.close()  # type: ignore[union-attr]
    proc.returncode = code = os.waitstatus_to_exitcode(status)
    return Timed(wall, usage.ru_maxrss / 1024, code)


def run_check(
    twin: Twin, env: dict[str, str], workdir: Path, rounds: int, modules: list[str]
) -> tuple[list[Timed], list[Any], float]:
    """``preflight check`` ``rounds`` times, each followed by one import-floor process (so the two are measured
    under the same machine load — on a shared machine it changes by the minute); the log of the fastest round
    and the best floor."""
    best: tuple[float, list[Any]] | None = None
    results = []
    floors = []
    for _ in range(rounds):
        twin.clear_log()
        result = timed(
            [
                preflight_exe(),
                "check",
                "--format",
                "json",
                "--output",
                str(workdir / "report.json"),
                "--fail-on",
                "never",
            ],
            env,
            workdir,
            workdir / "check.log",
        )
        results.append(result)
        if result.exit_code != 0:
            print((workdir / "check.log").read_text(encoding="utf-8")[-3000:], file=sys.stderr)
        if best is None or result.wall_s < best[0]:
            best = (result.wall_s, twin.requests())
        floors.append(import_floor(modules, env, workdir, 1))
    assert best is not None
    return results, best[1], min(floors)


def run_sequential(twin: Twin, env: dict[str, str], workdir: Path) -> tuple[float, int]:
    """The five single-purpose processes, one after the other: total wall and requests."""
    twin.clear_log()
    started = time.perf_counter()
    for fact in BASELINE_FACTS:
        result = timed([sys.executable, str(BASELINE), fact], env, workdir, workdir / "baseline.log")
        if result.exit_code != 0:
            raise SystemExit(f"baseline {fact} failed: {(workdir / 'baseline.log').read_text()[-2000:]}")
    return time.perf_counter() - started, len(twin.requests())


def az_environment(twin: Twin, base: dict[str, str], config_dir: Path) -> dict[str, str]:
    # ARM_CLOUD_METADATA_URL would make az load *all* its known clouds from that URL at start-up (it expects
    # the list form); the twin is registered explicitly instead, as a user would.
    env = {k: v for k, v in base.items() if not k.startswith(("AZURE_CLIENT", "AZURE_TENANT", "ARM_CLOUD"))}
    env.update(
        AZURE_CONFIG_DIR=str(config_dir),
        AZURE_CORE_INSTANCE_DISCOVERY="false",
        AZURE_CORE_COLLECT_TELEMETRY="false",
        AZURE_CORE_NO_COLOR="true",
        AZURE_CORE_ONLY_SHOW_ERRORS="true",
        REQUESTS_CA_BUNDLE=str(twin.ca_file),
    )
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != str(twin.shim_dir))
    return env


def az_commands(resource_id: str, assignee: str) -> list[list[str]]:
    parts = resource_id.split("/")
    return [
        ["account", "get-access-token", "--output", "none"],
        ["account", "get-access-token", "--resource", "https://cognitiveservices.azure.com", "--output", "none"],
        [
            "role",
            "assignment",
            "list",
            "--assignee",
            assignee,
            "--scope",
            resource_id,
            "--include-inherited",
            "--include-groups",
            "--output",
            "none",
        ],
        ["role", "definition", "list", "--output", "none"],
        ["cognitiveservices", "account", "show", "-g", parts[4], "-n", parts[8], "--output", "none"],
    ]


def az_setup(az: str, twin: Twin, env: dict[str, str], sp_env: dict[str, str], workdir: Path) -> None:
    """Register the twin as a cloud and sign the service principal in (set-up, not timed)."""
    subscription = str(twin.scenario["target"]["subscriptionId"])
    steps = [
        ["cloud", "register", "-n", "Twin", "--endpoint-resource-manager", twin.base_url + "/"],
        ["cloud", "set", "-n", "Twin"],
        [
            "login",
            "--service-principal",
            "-u",
            sp_env["AZURE_CLIENT_ID"],
            "-p",
            sp_env["AZURE_CLIENT_SECRET"],
            "--tenant",
            sp_env["AZURE_TENANT_ID"],
            "--output",
            "none",
        ],
        ["account", "set", "-s", subscription],
    ]
    for step in steps:
        proc = subprocess.run(
            [az, *step], check=False, env=env, cwd=workdir, capture_output=True, text=True, timeout=300
        )
        if proc.returncode != 0:
            safe = " ".join("***" if a == sp_env["AZURE_CLIENT_SECRET"] else a for a in step)
            raise SystemExit(f"az {safe} failed ({proc.returncode}): {proc.stderr[-2000:]}")


def run_az(az: str, twin: Twin, env: dict[str, str], workdir: Path) -> tuple[float, int, list[dict[str, Any]]]:
    resource_id = str(twin.scenario["target"]["resourceId"])
    twin.clear_log()
    started = time.perf_counter()
    each = []
    for command in az_commands(resource_id, SP_ID):
        result = timed([az, *command], env, workdir, workdir / "az.log")
        if result.exit_code != 0:
            raise SystemExit(f"az {' '.join(command)} failed: {(workdir / 'az.log').read_text()[-2000:]}")
        each.append(
            {
                "command": "az " + " ".join(c for c in command if c not in ("--output", "none")),
                "wall_s": round(result.wall_s, 3),
                "rss_mb": round(result.rss_mb),
            }
        )
    return time.perf_counter() - started, len(twin.requests()), each


# -- cold start -----------------------------------------------------------------------------------------------

MODULES_PROBE = """
import json, sys
from preflight.cli import main
code = main(sys.argv[1:])
std = set(sys.stdlib_module_names)
mods = [m for m in list(sys.modules) if m.split('.')[0] not in std and m.split('.')[0] not in ('preflight', '__main__')
        and not m.startswith('_')]
print('MODULES=' + json.dumps(mods), file=sys.stderr)
"""


def imported_modules(env: dict[str, str], workdir: Path) -> list[str]:
    """The third-party modules (in import order) a check run leaves in ``sys.modules``."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            MODULES_PROBE,
            "check",
            "--format",
            "json",
            "--output",
            str(workdir / "probe.json"),
            "--fail-on",
            "never",
        ],
        check=False,
        env={**env, "CI": "1"},
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    line = next((ln for ln in proc.stderr.splitlines() if ln.startswith("MODULES=")), None)
    if line is None:
        raise SystemExit(f"module probe failed: {proc.stderr[-2000:]}")
    return list(json.loads(line[len("MODULES=") :]))


def import_floor(modules: list[str], env: dict[str, str], workdir: Path, rounds: int) -> float:
    """Cold wall time of ``python -c`` importing exactly ``modules`` (best of ``rounds``)."""
    code = (
        "import importlib\nfor m in " + repr(modules) + ":\n    try:\n        importlib.import_module(m)\n"
        "    except Exception:\n        pass\n"
    )
    return min(timed([sys.executable, "-c", code], env, workdir).wall_s for _ in range(rounds))


def importtime_top(env: dict[str, str], workdir: Path, count: int = 12) -> list[dict[str, Any]]:
    """The top-level imports of a check run by cumulative microseconds (``python -X importtime``)."""
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            preflight_exe(),
            "check",
            "--format",
            "json",
            "--output",
            str(workdir / "it.json"),
            "--fail-on",
            "never",
        ],
        check=False,
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        parts = line.split("|")
        self_us, cumulative, raw_name = parts[0].split(":", 1)[1].strip(), parts[1].strip(), parts[2][1:]
        if raw_name.startswith(" "):  # nested import: counted in its parent
            continue
        name = raw_name.strip()
        rows.append({"module": name, "self_ms": int(self_us) / 1000, "cumulative_ms": int(cumulative) / 1000})
    return sorted(rows, key=lambda r: -r["cumulative_ms"])[:count]


def cold_start(env: dict[str, str], workdir: Path, rounds: int) -> dict[str, dict[str, float]]:
    found = {}
    for flag in ("--help", "--version"):
        runs = [timed([preflight_exe(), flag], env, workdir) for _ in range(rounds)]
        found[flag] = {
            "wall_s": min(r.wall_s for r in runs),
            "median_s": statistics.median(r.wall_s for r in runs),
            "rss_mb": max(r.rss_mb for r in runs),
        }
    bare = [timed([sys.executable, "-c", "pass"], env, workdir).wall_s for _ in range(rounds)]
    found["python -c pass"] = {"wall_s": min(bare), "median_s": statistics.median(bare), "rss_mb": 0.0}
    return found


# -- report -----------------------------------------------------------------------------------------------


def print_table(
    rows: list[CheckRow], cold: dict[str, dict[str, float]], floor: float, modules: int, top: list[dict[str, Any]]
) -> None:
    with_az = any(r.az_s is not None for r in rows)
    header = (
        f"{'latency':>8} {'preflight s':>11} {'median':>7} {'requests':>9} {'chain':>6} {'ratio':>6} {'dups':>5} "
        f"{'RSS MB':>7} {'sequential s':>13} {'speed-up':>9}"
        + (f" {'az s':>7} {'vs az':>6}" if with_az else "")
        + "  requests by service"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "-"
        services = ", ".join(f"{k}={v}" for k, v in sorted(r.by_service.items()))
        az = (
            (f" {r.az_s:>7.2f} {r.az_s / r.wall_s:>5.1f}×" if r.az_s is not None else f" {'-':>7} {'-':>6}")
            if with_az
            else ""
        )
        print(
            f"{r.latency_ms:>6}ms {r.wall_s:>11.2f} {statistics.median(r.walls):>7.2f} {r.requests:>9} {len(r.chain):>6} {ratio:>6} "
            f"{sum(r.duplicates.values()):>5} {r.rss_mb:>7.0f} {r.sequential_s:>13.2f} "
            f"{r.sequential_s / r.wall_s:>8.1f}×{az}  {services}"
        )
    print()
    for name, c in cold.items():
        rss = f", peak RSS {c['rss_mb']:.0f} MB" if c["rss_mb"] else ""
        print(f"cold start {name:<16} best {c['wall_s']:.3f} s, median {c['median_s']:.3f} s{rss}")
    floors = ", ".join(f"{r.floor_s:.2f} s at {r.latency_ms} ms" for r in rows)
    print(f"import floor ({modules} third-party modules a check run imports), measured between the rounds: {floors}")
    print("python -X importtime, check run, top-level imports by cumulative time:")
    for t in top:
        print(f"  {t['cumulative_ms']:>8.1f} ms  {t['module']}")
    for r in rows:
        if r.latency_ms:
            print(f"chain at {r.latency_ms} ms: " + " → ".join(r.chain))


def verdicts(rows: list[CheckRow], cold: dict[str, dict[str, float]], floor: float) -> list[tuple[str, bool, str]]:
    found: list[tuple[str, bool, str]] = []
    at100 = next((r for r in rows if r.latency_ms == 100), None)
    if at100 is not None:
        floor = at100.floor_s or floor  # the floor measured beside these very runs
        budget = floor + CHAIN_FACTOR * len(at100.chain) * 0.1
        found.append(
            (
                "wall ≤ import floor + 1.3 × chain × latency at 100 ms",
                at100.wall_s <= budget,
                f"{at100.wall_s:.2f} s vs {floor:.2f} + 1.3 × {len(at100.chain)} × 0.1 = {budget:.2f} s",
            )
        )
        found.append(
            (
                "≥ 3× faster than the sequential commands at 100 ms",
                at100.sequential_s >= SPEEDUP_TARGET * at100.wall_s,
                f"{at100.sequential_s / at100.wall_s:.1f}×",
            )
        )
        if at100.az_s is not None:
            found.append(
                (
                    "≥ 3× faster than the real az sequence at 100 ms",
                    at100.az_s >= SPEEDUP_TARGET * at100.wall_s,
                    f"{at100.az_s / at100.wall_s:.1f}×",
                )
            )
    dups = {k: v for r in rows for k, v in r.duplicates.items()}
    found.append(("no duplicated request", not dups, ", ".join(f"{k} ×{v}" for k, v in dups.items()) or "none"))
    found.append(
        (
            f"preflight --help ≤ {HELP_TARGET_S} s",
            cold["--help"]["wall_s"] <= HELP_TARGET_S,
            f"{cold['--help']['wall_s']:.3f} s",
        )
    )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=int, nargs="+", default=[0, 50, 100], help="injected ms per request")
    parser.add_argument("--rounds", type=int, default=3, help="preflight runs per latency (the best counts)")
    parser.add_argument(
        "--baseline-rounds",
        type=int,
        default=1,
        help="passes of the sequential (and az) baseline per latency (the best counts)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the measurements here")
    parser.add_argument(
        "--with-az",
        default=None,
        metavar="PATH",
        help="the real Azure CLI (e.g. /work/azcli-venv/bin/az): time its commands too",
    )
    args = parser.parse_args(argv)
    if args.with_az and not shutil.which(args.with_az):
        parser.error(f"--with-az: {args.with_az} is not an executable")

    with Twin(service_principal()) as twin, tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        workdir = Path(tmp)
        env = twin.process_environment(clean_env({"CI": "1", "BENCH_ARM": twin.base_url, "BENCH_ASSIGNEE": SP_ID}))
        az_env = az_environment(twin, env, workdir / "azure-config") if args.with_az else None
        if args.with_az and az_env is not None:
            az_setup(args.with_az, twin, az_env, env, workdir)
        modules = imported_modules(env, workdir)
        rows = []
        for latency in args.latency:
            twin.server.latency_ms = latency
            runs, log, floor_s = run_check(twin, env, workdir, args.rounds, modules)
            best = min(runs, key=lambda r: r.wall_s)
            # the twin's own helper endpoint stands in for a local az process, not for an Azure round trip
            chain = critical_path([e for e in log if e.service != "twin"], CHAIN_SLACK_S)
            ratio = best.wall_s / (len(chain) * latency / 1000) if latency and chain else None
            sequential = [run_sequential(twin, env, workdir) for _ in range(args.baseline_rounds)]
            sequential_s, sequential_requests = min(sequential)
            row = CheckRow(
                latency,
                best.wall_s,
                [round(r.wall_s, 3) for r in runs],
                best.rss_mb,
                best.exit_code,
                len(log),
                dict(Counter(e.service or "?" for e in log)),
                duplicates(log),
                [s.label for s in chain],
                ratio,
                sequential_s,
                sequential_requests,
                floor_s,
            )
            if args.with_az and az_env is not None:
                row.az_s, row.az_requests, row.az_commands = min(
                    (run_az(args.with_az, twin, az_env, workdir) for _ in range(args.baseline_rounds)),
                    key=lambda found: found[0],
                )
            rows.append(row)
            print(
                f"latency {latency} ms: preflight {best.wall_s:.2f} s, sequential {sequential_s:.2f} s"
                + (f", az {row.az_s:.2f} s" if row.az_s is not None else ""),
                flush=True,
            )
        twin.server.latency_ms = 0
        floor = min(r.floor_s for r in rows)
        top = importtime_top(env, workdir)
        cold = cold_start(env, workdir, max(5, args.rounds))
        assert twin.errors() == [], twin.errors()
    print()
    print_table(rows, cold, floor, len(modules), top)
    results = verdicts(rows, cold, floor)
    print()
    for name, ok, detail in results:
        print(f"{'MET ' if ok else 'MISS'}  {name}: {detail}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "machine": {
                        "platform": platform.platform(),
                        "python": platform.python_version(),
                        "cpus": os.cpu_count(),
                        "load_average": os.getloadavg(),
                    },
                    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "rows": [asdict(r) for r in rows],
                    "cold_start": cold,
                    "import_floor_s": floor,
                    "imported_modules": modules,
                    "importtime_top": top,
                    "targets": [{"target": n, "met": ok, "detail": d} for n, ok, d in results],
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    return 0 if all(r.exit_code == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
