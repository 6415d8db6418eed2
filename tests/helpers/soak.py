"""Concurrency soak (issue 10): many consecutive ``preflight check`` runs in ONE process through the library API
(``preflight.run.run``), each against the twin with a random, seeded fault, measuring this process's threads,
open file descriptors and resident memory before and after.

The twin runs in a child interpreter (:class:`TwinProcess`), so what is measured is preflight alone — an in-process
twin would add its own handler threads, sockets and an ever-growing request log to the figures. Shared by
``tests/reliability/test_soak.py`` (a short run) and ``tests/benchmarks/bench_soak.py`` (the full 200 runs).
"""

from __future__ import annotations

import gc
import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

# What a run may meet: one fault per run on one service (or none). Kinds come in seeded shuffled cycles (every
# block of len(FAULT_KINDS) runs meets each kind once); the service and the fault's details are drawn at random.
FAULT_KINDS = ("none", "latency", "429", "5xx", "reset", "hang-short", "hang-long", "malformed")
# The services `preflight check --probe` calls (twin: the `az` shim; managed_identity: the chain's probe).
SERVICES = ("entra", "managed_identity", "arm", "graph", "data_plane", "twin")
# Base scenarios: a service principal with a secret (the token endpoint, CI-style) and an `az login` user.
BASES = ("principal-secret-expiring", "principal-secret-expiring", "healthy")

_TWIN_CHILD = r"""
import json, sys
from preflight.twin import Twin
twin = Twin("healthy").start()
def answer(data):
    sys.stdout.write(json.dumps(data) + "\n"); sys.stdout.flush()
answer({"base_url": twin.base_url})
for line in sys.stdin:
    cmd = json.loads(line)
    if "use" in cmd:
        twin.use(cmd["use"])
        answer({"env": twin.environment(), "errors": len(twin.errors())})
    elif cmd.get("writes"):
        answer({"writes": [[e.method, e.path, e.service, e.status] for e in twin.all_requests()
                           if e.method not in ("GET", "HEAD", "OPTIONS")],
                "requests": len(twin.all_requests()), "errors": twin.errors()})
twin.stop()
"""


class TwinProcess:
    """The twin in a child interpreter, driven over a pipe: ``use(scenario)`` returns the environment a
    process under test needs for it (as :meth:`preflight.twin.Twin.environment`)."""

    def __init__(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_", "MSI_"))}
        self._proc = subprocess.Popen(
            [sys.executable, "-P", "-c", _TWIN_CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self.base_url = str(self._ask(None)["base_url"])

    def _ask(self, command: Mapping[str, Any] | None) -> dict[str, Any]:
        stdin: IO[str] = self._proc.stdin  # type: ignore[assignment]
        if command is not None:
            stdin.write(json.dumps(command) + "\n")
            stdin.flush()
        line = self._proc.stdout.readline()  # type: ignore[union-attr]
        if not line:
            raise RuntimeError("the twin child process died")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def use(self, scenario: Mapping[str, Any]) -> dict[str, str]:
        answer = self._ask({"use": scenario})
        if answer["errors"]:
            raise RuntimeError("the twin crashed while handling a request")
        return dict(answer["env"])

    def summary(self) -> dict[str, Any]:
        """Every non-GET request the twin served since start, the request count and handler crashes."""
        return self._ask({"writes": True})

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        if self._proc.stdout is not None:
            self._proc.stdout.close()


@dataclass(frozen=True, slots=True)
class Sample:
    """This process's resources at one moment (Linux /proc)."""

    threads: int  # OS threads (/proc/self/status Threads)
    python_threads: int
    fds: int  # entries of /proc/self/fd
    rss_kb: int  # VmRSS

    @classmethod
    def now(cls) -> Sample:
        status = _proc_status()
        return cls(
            int(status["Threads"]),
            threading.active_count(),
            len(os.listdir("/proc/self/fd")),
            int(status["VmRSS"].split()[0]),
        )


def fd_kinds() -> dict[str, int]:
    """Open file descriptors by kind (socket, pipe, file path …): what a growth is made of."""
    kinds: dict[str, int] = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        kind = target.split(":")[0] if ":" in target else target
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def _proc_status() -> dict[str, str]:
    with open("/proc/self/status", encoding="ascii") as handle:
        return dict(line.rstrip("\n").split(":\t", 1) for line in handle if ":\t" in line)


@dataclass(frozen=True, slots=True)
class Fault:
    """One run's fault: its kind, the service it hits and the twin ``faults[]`` rule (None for ``none``)."""

    kind: str
    service: str
    rule: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class Timing:
    """The engine's per-check timeout and per-run deadline, and the hangs chosen around the timeout."""

    timeout: float = 1.5
    deadline: float = 4.0

    @property
    def hang_short_ms(self) -> int:
        return int(self.timeout * 1000 * 0.4)

    @property
    def hang_long_ms(self) -> int:
        return int(self.timeout * 1000 * 1.5)


def fault_kinds(rng: random.Random) -> Iterator[str]:
    """Endless shuffled cycles of :data:`FAULT_KINDS`."""
    while True:
        cycle = list(FAULT_KINDS)
        rng.shuffle(cycle)
        yield from cycle


def draw_fault(rng: random.Random, timing: Timing, kind: str) -> Fault:
    """A fault of ``kind`` from the twin's repertoire on a random service, limited to one to three requests."""
    service = rng.choice(SERVICES)
    match: dict[str, Any] = {"service": service}
    rule: dict[str, Any] | None
    if kind == "none":
        rule = None
    elif kind == "latency":
        rule = {"match": match, "latencyMs": rng.randint(100, 600), "count": rng.randint(1, 3)}
    elif kind == "429":
        rule = {"match": match, "status": 429, "retryAfter": 1, "count": 1}
    elif kind == "5xx":
        rule = {"match": match, "status": rng.choice((500, 502, 503)), "count": rng.randint(1, 2)}
    elif kind == "reset":
        rule = {"match": match, "action": "reset", "count": 1}
    elif kind == "hang-short":
        rule = {"match": match, "action": "hang", "hangMs": timing.hang_short_ms, "count": 1}
    elif kind == "hang-long":
        rule = {"match": match, "action": "hang", "hangMs": timing.hang_long_ms, "count": 1}
    else:
        rule = {"match": match, "action": "malformed", "count": 1}
    return Fault(kind, service, rule)


def scenario_for(base: str, fault: Fault) -> dict[str, Any]:
    from preflight.twin.scenario import builtin_scenario_text

    doc: dict[str, Any] = json.loads(builtin_scenario_text(base))
    doc["faults"] = [fault.rule] if fault.rule else []
    return doc


@dataclass
class RunRecord:
    index: int
    base: str
    fault: Fault
    wall: float
    statuses: dict[str, int]


@dataclass
class SoakResult:
    """The figures: samples after the warm-up and after the soak, every run, the twin's view."""

    before: Sample
    after: Sample
    runs: list[RunRecord] = field(default_factory=list)
    trace: list[Sample] = field(default_factory=list)  # right after each run (abandoned threads may linger)
    wall: float = 0.0
    settle: float = 0.0
    twin_requests: int = 0
    twin_writes: list[list[Any]] = field(default_factory=list)
    twin_errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Plain data (for ``bench_soak.py --json``, which the suite's soak runs in a fresh process)."""
        from dataclasses import asdict

        return {
            "before": asdict(self.before),
            "after": asdict(self.after),
            "wall": self.wall,
            "settle": self.settle,
            "trace": [asdict(s) for s in self.trace],
            "twin_requests": self.twin_requests,
            "twin_writes": self.twin_writes,
            "twin_errors": self.twin_errors,
            "describe": self.describe(),
            "fds_now": fd_kinds(),
            "runs": [
                {
                    "index": r.index,
                    "base": r.base,
                    "kind": r.fault.kind,
                    "service": r.fault.service,
                    "wall": r.wall,
                    "statuses": r.statuses,
                }
                for r in self.runs
            ],
        }

    @property
    def slowest(self) -> float:
        return max((r.wall for r in self.runs), default=0.0)

    def describe(self) -> str:
        b, a = self.before, self.after
        kinds: dict[str, int] = {}
        for r in self.runs:
            kinds[r.fault.kind] = kinds.get(r.fault.kind, 0) + 1
        peak = max((s.threads for s in self.trace), default=0)
        peak_fds = max((s.fds for s in self.trace), default=0)
        half = self.trace[len(self.trace) // 2].rss_kb if self.trace else a.rss_kb
        return (
            f"{len(self.runs)} runs in {self.wall:.1f} s (slowest {self.slowest:.2f} s, settle {self.settle:.1f} s); "
            f"threads {b.threads} -> {a.threads} (python {b.python_threads} -> {a.python_threads}); "
            f"peak threads between runs {peak}; fds {b.fds} -> {a.fds} (peak between runs {peak_fds}); RSS {b.rss_kb / 1024:.1f} -> {a.rss_kb / 1024:.1f} MB "
            f"({(a.rss_kb - b.rss_kb) / 1024:+.1f} MB, second half {(a.rss_kb - half) / 1024:+.1f} MB); twin requests {self.twin_requests}; faults {kinds}"
        )


def _replace_environ(env: Mapping[str, str]) -> None:
    from preflight.twin.instance import INHERITED_IDENTITY_VARIABLES

    for name in INHERITED_IDENTITY_VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(env)


def one_run(env: Mapping[str, str], timing: Timing) -> tuple[float, dict[str, int]]:
    """One ``preflight check --probe`` through the library, as the CLI builds it; (wall seconds, statuses)."""
    from preflight.engine import RunOptions
    from preflight.run import CheckOptions, run
    from preflight.target import build_target

    _replace_environ(env)
    started = time.monotonic()
    report = run(
        CheckOptions(
            build_target(dict(os.environ)),
            probe=True,
            engine=RunOptions(timeout=timing.timeout, deadline=timing.deadline),
        )
    )
    wall = time.monotonic() - started
    statuses: dict[str, int] = {}
    for result in report.results:
        statuses[result.status.value] = statuses.get(result.status.value, 0) + 1
    return wall, statuses


def settle(baseline: Sample, limit: float) -> float:
    """Wait (at most ``limit`` s) for threads abandoned by timed-out checks to finish: their hang ends, the twin
    closes the connection and the thread returns. Returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        gc.collect()
        if Sample.now().threads <= baseline.threads:
            break
        time.sleep(0.1)
    return time.monotonic() - started


def soak(
    runs: int,
    *,
    seed: int = 10,
    warmup: int = 4,
    timing: Timing = Timing(),
    settle_limit: float = 10.0,
    bases: Sequence[str] = BASES,
    progress: Callable[[RunRecord], None] | None = None,
) -> SoakResult:
    """Warm up (imports, first connections, caches), sample, run ``runs`` faulted runs, settle, sample again.

    Changes ``os.environ`` for the duration (the SDKs read it); restores it afterwards."""
    rng = random.Random(seed)
    twin = TwinProcess()
    saved = dict(os.environ)
    try:
        healthy = Fault("none", "-", None)
        for i in range(warmup):
            env = twin.use(scenario_for(bases[i % len(bases)], healthy))
            one_run(env, timing)
        settle(Sample.now(), 2.0)
        gc.collect()
        before = Sample.now()
        result = SoakResult(before, before)
        started = time.monotonic()
        kinds = fault_kinds(rng)
        for index in range(runs):
            base = rng.choice(bases)
            fault = draw_fault(rng, timing, next(kinds))
            env = twin.use(scenario_for(base, fault))
            wall, statuses = one_run(env, timing)
            record = RunRecord(index, base, fault, wall, statuses)
            result.runs.append(record)
            result.trace.append(Sample.now())
            if progress is not None:
                progress(record)
        result.wall = time.monotonic() - started
        result.settle = settle(before, settle_limit)
        gc.collect()
        result.after = Sample.now()
        summary = twin.summary()
        result.twin_requests = int(summary["requests"])
        result.twin_writes = list(summary["writes"])
        result.twin_errors = list(summary["errors"])
        return result
    finally:
        twin.close()
        os.environ.clear()
        os.environ.update(saved)
