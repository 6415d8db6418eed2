"""preflight.daemon.run_all: concurrent calls on daemon threads (a stuck call must not hold the process at exit)."""

from __future__ import annotations

import threading
import time

import pytest

from preflight.daemon import run_all


def test_results_in_order_and_concurrent() -> None:
    started = time.monotonic()
    out = run_all([lambda i=i: (time.sleep(0.2), i)[1] for i in range(5)])
    assert out == [0, 1, 2, 3, 4]
    assert time.monotonic() - started < 0.8  # five 0.2 s calls at once, not one after another


def test_every_call_finishes_then_the_first_error_is_raised() -> None:
    finished: list[int] = []

    def slow() -> int:
        time.sleep(0.2)
        finished.append(2)
        return 2

    def boom() -> int:
        raise ValueError("first")

    with pytest.raises(ValueError, match="first"):
        run_all([boom, slow])
    assert finished == [2]


def test_the_threads_are_daemons() -> None:
    seen: list[bool] = []
    run_all([lambda: seen.append(threading.current_thread().daemon)], name="t")
    assert seen == [True]
