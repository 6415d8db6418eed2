"""Click's own usage errors, for every command (issue 17 item 6): an unknown option, a value outside a choice
(``--format yaml``), a value of the wrong type, an option without its value, a missing argument — each one line
(``preflight: error: …``, then only an indented hint), exit 2, nothing on stdout, no usage block, no traceback.

The commands are found by walking the real command tree (the lazily loaded ones included), so a command or
option added later is covered without editing this file. Parsing fails before any command body runs, so the
cases run in-process through ``preflight.cli.main``; the last test reads an endless stdin in a real process.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import click
import pytest

from helpers.cli import preflight_exe

from preflight.cli import cli, main


def _leaves(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        real = command._real() if hasattr(command, "_real") else command  # the lazily loaded command itself
        if isinstance(real, click.Group):
            yield from _leaves(real, (*path, name))
        else:
            yield (*path, name), real


def _cases() -> Iterator[tuple[str, list[str]]]:
    """(id, argv) for every usage error each command can be given."""
    for path, command in _leaves(cli):
        name = " ".join(path)
        if not command.context_settings.get("ignore_unknown_options"):
            yield f"{name}: unknown option", [*path, "--no-such-option"]
        options = [p for p in command.params if isinstance(p, click.Option) and not p.is_flag and not p.count]
        for option in options:
            flag = max(option.opts, key=len)
            yield f"{name}: {flag} without a value", [*path, flag]
            if isinstance(option.type, click.Choice):
                yield f"{name}: {flag} yaml", [*path, flag, "yaml"]
            elif isinstance(option.type, (click.types.IntParamType, click.types.FloatParamType)):
                yield f"{name}: {flag} abc", [*path, flag, "abc"]
        if any(isinstance(p, click.Argument) and p.required for p in command.params):
            yield f"{name}: missing argument", list(path)


CASES = list(_cases())


def test_the_walk_finds_every_command_and_the_format_choices() -> None:
    names = {case.split(":")[0] for case, _ in CASES}
    assert {"check", "explain", "list-checks", "can-i", "whoami", "audit", "demo"} <= names
    assert {"twin exec", "twin serve", "twin scenarios"} <= names
    for command in ("check", "can-i", "whoami", "audit", "explain", "demo"):
        assert f"{command}: --format yaml" in dict(CASES), command


@pytest.mark.parametrize("argv", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_every_usage_error_is_one_line_and_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(argv)
    out, err = capsys.readouterr()
    assert code == 2, (code, out, err)
    assert out == "" and "Traceback" not in err
    lines = err.splitlines()
    assert lines and lines[0].startswith("preflight: error:"), err
    assert all(line.startswith("  ") for line in lines[1:]), err
    assert not any(line.lstrip().startswith(("Usage:", "Try ")) for line in lines), err


def test_explain_from_an_endless_stdin_is_refused_not_read_forever() -> None:
    with open("/dev/zero", "rb") as endless:
        proc = subprocess.run(
            [preflight_exe(), "explain", "-"], stdin=endless, capture_output=True, text=True, timeout=60, check=False
        )
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("preflight: error: the pasted error is longer than 1048576 characters")
    assert len(proc.stderr.splitlines()) == 1


def test_explain_with_a_deeply_nested_body_is_bad_input_not_a_crash() -> None:
    """A pasted body nested past the interpreter's recursion limit was a RecursionError (exit 3)."""
    nested = "[" * 5000 + "]" * 5000
    pasted = f'{{"error": {{"code": "AuthorizationFailed", "message": "x", "inner": {nested}}}}}'
    proc = subprocess.run(
        [preflight_exe(), "explain", "-"], input=pasted, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("preflight: error: no Azure error recognised")
