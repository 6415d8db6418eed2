"""The commands README.md and docs/ show run as written (issue 19 item 7).

Every shell block marked ``<!-- twin: run -->`` (optionally ``scenario=NAME``) on the line before its fence is
extracted and each of its commands run with ``bash -c`` in a fresh directory, in a subprocess with the twin's
environment — the convention is described in docs/architecture.md. A command passes when it exits 0 or 1 (a
report that found something) with no traceback and no ``error:`` line. Besides: no machine-specific path in any
code of those files, and the ``unset`` line README gives after ``twin serve`` names every variable the twin sets.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from helpers.cli import preflight_exe

from preflight.twin import Twin
from preflight.twin.scenario import list_scenarios

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKER = re.compile(r"^<!-- twin: run(?: scenario=(?P<scenario>[a-z0-9-]+))? -->$")
SHELL_FENCES = ("```bash", "```console", "```sh", "```shell")
MACHINE_PATH = re.compile(r"(?<![\w.~])(/work/|/home/\w|/Users/\w|/root/)")


@dataclass(frozen=True)
class Command:
    line: int
    text: str


@dataclass(frozen=True)
class Block:
    """One marked block: its commands run in order, in one directory (a later one may read what an earlier one
    wrote, as a reader pasting them would)."""

    document: str
    line: int
    scenario: str
    commands: tuple[Command, ...]


def _commands(block: list[tuple[int, str]]) -> tuple[Command, ...]:
    """The block's commands: ``$ `` prompts dropped, ``\\`` continuations joined, blank lines and comment lines
    skipped (trailing comments are bash's to ignore)."""
    commands: list[Command] = []
    pending: tuple[int, str] | None = None
    for number, raw in block:
        line = raw[2:] if raw.startswith("$ ") else raw
        if pending is not None:
            start, text = pending
            line = text + " " + line.strip()
            number = start
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.rstrip().endswith("\\"):
            pending = (number, line.rstrip()[:-1])
            continue
        pending = None
        commands.append(Command(number, line.strip()))
    return tuple(commands)


def marked_blocks() -> list[Block]:
    found: list[Block] = []
    for path in DOCUMENTS:
        lines = path.read_text(encoding="utf-8").splitlines()
        for index, line in enumerate(lines):
            marker = MARKER.match(line)
            if not marker or index + 1 >= len(lines) or not lines[index + 1].startswith(SHELL_FENCES):
                continue
            end = next(i for i in range(index + 2, len(lines)) if lines[i].startswith("```"))
            commands = _commands([(i + 1, lines[i]) for i in range(index + 2, end)])
            found.append(Block(path.name, index + 1, marker.group("scenario") or "healthy", commands))
    return found


BLOCKS = marked_blocks()


def test_the_documents_mark_commands_to_run() -> None:
    """The convention is in use where it matters (a marker that silently matched nothing would prove nothing)."""
    assert {b.document for b in BLOCKS} >= {"README.md", "audit.md"}
    texts = [c.text for b in BLOCKS for c in b.commands]
    assert all(b.commands for b in BLOCKS)
    assert any(t.startswith("preflight check") for t in texts) and any("preflight audit" in t for t in texts)


@pytest.mark.parametrize("block", BLOCKS, ids=[f"{b.document}:{b.line}" for b in BLOCKS])
def test_a_marked_block_runs_against_the_twin(block: Block, twin_session: Twin, tmp_path: Path) -> None:
    twin_session.use(block.scenario)
    env = twin_session.process_environment()
    env.setdefault("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")  # never the link-local IMDS
    env["PATH"] = f"{Path(preflight_exe()).parent}{os.pathsep}{env['PATH']}"
    env["NO_COLOR"] = "1"
    for command in block.commands:
        where = f"{block.document}:{command.line}: {command.text}"
        done = subprocess.run(
            ["bash", "-c", command.text], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180
        )
        output = done.stdout + done.stderr
        assert done.returncode in (0, 1), f"{where}\nexit {done.returncode}\n{output[-2000:]}"
        assert "Traceback" not in output and "error:" not in done.stderr, f"{where}\n{output[-2000:]}"
        assert done.stdout.strip() or list(tmp_path.iterdir()), f"{where}: printed and wrote nothing"


def test_no_machine_specific_path_in_the_documents_code() -> None:
    """Paths that exist only where the text was written (a helper's venv under /work, a home directory) do not
    run on a fresh clone."""
    offending = []
    for path in DOCUMENTS:
        text = path.read_text(encoding="utf-8")
        code = re.findall(r"```.*?```|`[^`\n]+`", text, flags=re.S)
        offending += [f"{path.name}: {span[:120]}" for span in code if MACHINE_PATH.search(span)]
    assert offending == []


def test_readme_unsets_every_variable_twin_serve_exports(twin_session: Twin, named_twin_session: Twin) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(unset .*?)```", readme, flags=re.S)
    assert block, "README shows how to unset twin serve's variables"
    unset = set(block.group(1).replace("\\\n", " ").split()[1:])
    exported: set[str] = set()
    for name in list_scenarios():
        for twin in (twin_session, named_twin_session):  # `twin serve` and `twin serve --named-hosts`
            twin.use(name)
            exported |= set(twin.environment())
    # PATH is restored, not unset (the twin prepends its az to it): README says so
    assert exported - {"PATH"} <= unset, sorted(exported - {"PATH"} - unset)
    assert "PATH" not in unset and "restore `PATH`" in readme
