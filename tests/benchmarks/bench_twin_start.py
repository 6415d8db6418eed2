"""Benchmark: start a twin and get a first token with the real ClientSecretCredential.

Not collected by default (``bench_*.py`` does not match pytest's ``test_*.py``); run it explicitly::

    /work/venv/bin/pytest tests/benchmarks/bench_twin_start.py --benchmark-only

The goal in issue 4 is "well under a second" for start + first token (azure.identity already imported).
"""

from __future__ import annotations

from typing import Any

from azure.identity import ClientSecretCredential

from helpers.twin_fixtures import IDS, SECRET, core_scenario

from preflight.twin import Twin


def _start_and_first_token() -> str:
    with Twin(core_scenario()) as twin:
        cred = ClientSecretCredential(
            IDS["tenant"],
            IDS["secret_app"],
            SECRET,
            authority=twin.base_url,
            disable_instance_discovery=True,
            connection_verify=str(twin.ca_file),
        )
        return cred.get_token("https://management.azure.com/.default").token


def test_twin_start_and_first_token(benchmark: Any) -> None:
    token = benchmark.pedantic(_start_and_first_token, rounds=5, iterations=1, warmup_rounds=1)
    assert token.count(".") == 2
