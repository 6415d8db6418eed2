"""Benchmark: the full concurrency soak (issue 10) — 200 consecutive ``preflight check --probe`` runs in this
process through the library API, each against the twin with a random seeded fault, and this process's threads,
open file descriptors and RSS before (after a warm-up) and after.

One command (not collected by pytest: ``bench_*.py``)::

    /work/venv/bin/python tests/benchmarks/bench_soak.py --runs 200 [--seed 10] [--timeout 2] [--deadline 5]

Prints a line every 20 runs (threads right after the run — checks abandoned at their timeout may still be
finishing —, fds, RSS) and the summary. Exit 1 when a figure grew beyond the tolerances of
tests/reliability/test_soak.py or a run overran its deadline. Results: docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ (for helpers) when run as a script

from helpers.readonly import violations
from helpers.soak import RunRecord, SoakResult, Timing, soak

# The same tolerances as the short soak in the suite, memory scaled for the longer run.
THREADS_TOLERANCE = 1
FDS_TOLERANCE = 2
RSS_TOLERANCE_MB = 32.0
DEADLINE_SLACK = 2.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=2.0, help="seconds one check may run")
    parser.add_argument("--deadline", type=float, default=5.0, help="seconds one run may take")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object (for the suite)")
    args = parser.parse_args(argv)
    timing = Timing(timeout=args.timeout, deadline=args.deadline)
    started = time.monotonic()

    def progress(record: RunRecord) -> None:
        if (record.index + 1) % 20 == 0:
            from helpers.soak import Sample

            now = Sample.now()
            print(
                f"  run {record.index + 1:>4}  {time.monotonic() - started:7.1f} s  threads {now.threads:>3}  "
                f"fds {now.fds:>3}  RSS {now.rss_kb / 1024:6.1f} MB",
                flush=True,
            )

    result = soak(
        args.runs, seed=args.seed, warmup=args.warmup, timing=timing, progress=None if args.json else progress
    )
    if args.json:
        print(json.dumps(result.to_json()))
        return 0
    print(result.describe())
    problems = check(result, timing)
    for problem in problems:
        print(f"FAIL: {problem}")
    if not problems:
        print("OK: no thread, fd or memory growth beyond the tolerances; every run ended by its deadline")
    return 1 if problems else 0


def check(result: SoakResult, timing: Timing) -> list[str]:
    b, a = result.before, result.after
    problems = []
    if a.threads > b.threads + THREADS_TOLERANCE:
        problems.append(f"threads {b.threads} -> {a.threads}")
    if a.fds > b.fds + FDS_TOLERANCE:
        problems.append(f"fds {b.fds} -> {a.fds}")
    if (a.rss_kb - b.rss_kb) / 1024 > RSS_TOLERANCE_MB:
        problems.append(f"RSS +{(a.rss_kb - b.rss_kb) / 1024:.1f} MB")
    late = [r.index for r in result.runs if r.wall > timing.deadline + DEADLINE_SLACK]
    if late:
        problems.append(f"runs past the deadline: {late}")
    if result.twin_errors:
        problems.append(f"the twin crashed {len(result.twin_errors)} time(s)")

    class _Entry:
        def __init__(self, row: list[object]) -> None:
            self.method, self.path, self.service, self.status = str(row[0]), str(row[1]), row[2], row[3]

    bad = violations([_Entry(row) for row in result.twin_writes])  # type: ignore[arg-type]
    if bad:
        problems.append(f"non-read requests: {bad[:5]}")
    return problems


if __name__ == "__main__":
    sys.exit(main())
