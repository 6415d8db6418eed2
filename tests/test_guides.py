"""docs/guides.md is kept true: every row of its tables is run through the CLI against the twin.

A row names a step of one of the two guides the product exists for (Azure OpenAI with Entra ID, Azure ML
authentication), what can go wrong there, the check that diagnoses it and the twin scenario that reproduces it.
This module parses those rows and, for each, runs ``preflight check --format json`` against the session twin
serving the row's scenario — once per (scenario, setup), shared by every row that names it — and asserts that
the named check gave the named status and that its fix (its summary, for a PASS) contains the quoted words.

Adding a row is one table line in docs/guides.md; nothing here changes. A row whose scenario is not a built-in
one fails (the twin must be able to show the failure the row describes).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from helpers.cli import preflight_exe

from preflight.twin import Twin
from preflight.twin.scenario import list_scenarios

GUIDES = Path(__file__).resolve().parents[1] / "docs" / "guides.md"
HEADER = ("step", "what can go wrong", "check", "scenario", "setup", "status", "the result says")
STATUSES = ("PASS", "WARN", "FAIL", "ERROR", "SKIP")
# the variables that name a target: dropped when a row's setup is ``.azureml/config.json`` (the file names it)
TARGET_VARIABLES = ("PREFLIGHT_RESOURCE_ID", "AZURE_OPENAI_ENDPOINT", "AZURE_AI_ENDPOINT", "PREFLIGHT_PROFILE")
CONFIG = ".azureml/config.json"
CONFIGS = (CONFIG, "config.json")  # the SDK also reads a plain config.json (after every .azureml/ one above)


@dataclass(frozen=True, slots=True)
class Row:
    """One table line of docs/guides.md."""

    line: int
    step: str
    problem: str
    check: str
    scenario: str
    setup: tuple[str, ...]
    status: str
    says: str

    @property
    def run_key(self) -> tuple[str, tuple[str, ...]]:
        return self.scenario, self.setup


def _code(cell: str) -> list[str]:
    """The `code spans` of a cell, in order."""
    return re.findall(r"`([^`]+)`", cell)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def parse(text: str) -> list[Row]:
    """Every row of every table whose header is HEADER; a malformed row is an error naming its line."""
    rows: list[Row] = []
    in_table = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("|"):
            in_table = False
            continue
        cells = _cells(line)
        if tuple(c.lower() for c in cells) == HEADER:
            in_table = True
            continue
        if not in_table or set(line) <= set("|-: "):
            continue
        assert len(cells) == len(HEADER), f"guides.md:{number}: {len(cells)} cells, expected {len(HEADER)}"
        check, scenario, says = _code(cells[2]), _code(cells[3]), _code(cells[6])
        status = cells[5].strip("* ")
        assert len(check) == 1 and len(scenario) == 1 and len(says) == 1, f"guides.md:{number}: {line}"
        assert status in STATUSES, f"guides.md:{number}: status {status!r} is not one of {STATUSES}"
        setup = tuple(_code(cells[4]))
        rows.append(Row(number, cells[0], cells[1], check[0], scenario[0], setup, status, says[0]))
    return rows


ROWS = parse(GUIDES.read_text(encoding="utf-8"))


def test_the_tables_cover_both_guides_and_name_built_in_scenarios() -> None:
    assert len(ROWS) >= 30, "the guide tables were not found (header changed?)"
    known = set(list_scenarios())
    unknown = sorted({r.scenario for r in ROWS} - known)
    assert not unknown, f"rows name scenarios that are not built in: {unknown}"
    for needle in ("cognitiveservices.azure.com/.default", "0736f41a-0425-4b46-bdb5-1563eff02385", CONFIG):
        assert any(needle in r.step + r.problem + " ".join(r.setup) for r in ROWS), needle
    # the guides' own words: each step the issue lists has at least one row
    steps = " ".join(r.step for r in ROWS)
    for word in ("DefaultAzureCredential", "api_base", "AZURE_CLIENT_SECRET", "managed identity", "MLClient"):
        assert word in steps, word


def _setup(row_setup: tuple[str, ...], env: dict[str, str], cwd: Path, target: dict[str, Any]) -> None:
    """Apply a row's setup: ``--option`` goes to ``preflight check``; ``NAME=value`` sets a variable (``NAME=``
    removes it); ``.azureml/config.json`` or a
    plain ``config.json`` (``=workspace`` names another workspace) writes the config the Azure ML SDK would find,
    from the scenario's target, and drops the variables that would name the target instead."""
    for token in row_setup:
        name, _, value = token.partition("=")
        if token.startswith("--"):
            continue  # a command-line option: _run passes it on
        if name in CONFIGS:
            resource = str(target["resourceId"])
            parts = resource.split("/")
            config = {"subscription_id": parts[2], "resource_group": parts[4], "workspace_name": value or parts[-1]}
            (cwd / name).parent.mkdir(exist_ok=True)
            (cwd / name).write_text(json.dumps(config), encoding="utf-8")
            for variable in TARGET_VARIABLES:
                env.pop(variable, None)
        elif value:
            env[name] = value
        else:
            env.pop(name, None)


def _run(twin: Twin, scenario: str, setup: tuple[str, ...], checks: list[str], cwd: Path) -> list[dict[str, Any]]:
    """``preflight check`` against the twin serving ``scenario``, running only the checks the rows name (the
    facts they need are read all the same; the other checks would only add time)."""
    import subprocess

    twin.use(scenario)
    env = twin.process_environment()
    _setup(setup, env, cwd, twin.scenario.get("target") or {})
    only = [arg for check in checks for arg in ("--only", check)]
    done = subprocess.run(
        [preflight_exe(), "check", "--format", "json", *only, *(t for t in setup if t.startswith("--"))],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1, 3), f"{scenario} {setup}: exit {done.returncode}\n{done.stderr}"
    results: list[dict[str, Any]] = json.loads(done.stdout)["results"]
    return results


@pytest.fixture(scope="module")
def outcomes(twin_session: Twin, tmp_path_factory: pytest.TempPathFactory) -> dict[Any, list[dict[str, Any]]]:
    """One CLI run per (scenario, setup), shared by every row naming it (the session twin serves one scenario
    at a time, so the runs are sequential: about half a second each)."""
    checks: dict[tuple[str, tuple[str, ...]], set[str]] = {}
    for row in ROWS:
        checks.setdefault(row.run_key, set()).add(row.check)
    return {
        key: _run(twin_session, key[0], key[1], sorted(names), tmp_path_factory.mktemp(key[0]))
        for key, names in sorted(checks.items())
    }


def _fix(result: dict[str, Any]) -> str:
    remedy = result.get("remediation") or {}
    return " ".join([remedy.get("text") or "", *(remedy.get("commands") or [])])


@pytest.mark.parametrize("row", ROWS, ids=[f"L{r.line}-{r.scenario}-{r.check}" for r in ROWS])
def test_each_row_is_what_the_cli_says(row: Row, outcomes: dict[Any, list[dict[str, Any]]]) -> None:
    found = [r for r in outcomes[row.run_key] if r["check_id"] == row.check]
    assert found, f"guides.md:{row.line}: {row.check} gave no result in {row.scenario}"
    status = row.status.lower()
    said = [r["summary"] if status == "pass" else _fix(r) for r in found if r["status"] == status]
    seen = [(r["status"], r["summary"][:160], _fix(r)[:160]) for r in found]
    assert said, f"guides.md:{row.line}: no {row.status} from {row.check} in {row.scenario}; it said {seen}"
    assert any(row.says in text for text in said), (
        f"guides.md:{row.line}: no {row.status} of {row.check} in {row.scenario} says {row.says!r}: {said}"
    )


def test_the_parser_reads_only_guide_tables_and_names_a_bad_line() -> None:
    header = "| " + " | ".join(HEADER) + " |\n| --- | --- | --- | --- | --- | --- | --- |\n"
    good = "| a step | a problem | `signin.chain` | `healthy` | `X=1` `--probe` | WARN | `az login` |\n"
    text = "- TODO `app.key` in `healthy` is text, not a row\n\n| other | table |\n| --- | --- |\n| x | y |\n\n"
    rows = parse(text + header + good)
    assert [(r.check, r.scenario, r.setup, r.status, r.says, r.line) for r in rows] == [
        ("signin.chain", "healthy", ("X=1", "--probe"), "WARN", "az login", 9)
    ]
    with pytest.raises(AssertionError, match=r"guides\.md:3: status 'MAYBE'"):
        parse(header + good.replace("WARN", "MAYBE"))
    with pytest.raises(AssertionError, match=r"guides\.md:3: 6 cells"):
        parse(header + "| a | b | `c` | `d` | — | PASS |\n")
