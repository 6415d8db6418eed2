"""``preflight twin …`` and ``preflight demo``: the twin from the command line.

Imported only when one of these commands runs, so the twin's dependencies never slow down ``preflight check``.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import Any

import click

from preflight.errors import ConfigError


def _scenario_error(exc: Exception) -> ConfigError:
    return ConfigError(f"scenario: {exc}", remediation="`preflight twin scenarios` lists the built-in scenarios")


def _start(scenario: str, port: int = 0, latency_ms: int = 0, request_log: str | None = None) -> Any:
    from preflight.twin import Twin
    from preflight.twin.scenario import ScenarioError

    try:
        return Twin(scenario, port=port, latency_ms=latency_ms, request_log_path=request_log).start()
    except ScenarioError as exc:
        raise _scenario_error(exc) from exc
    except OSError as exc:
        raise ConfigError(f"could not start the twin: {exc.strerror or exc}") from exc


_scenario_option = click.option(
    "--scenario",
    default="healthy",
    show_default=True,
    metavar="NAME|FILE",
    help="A built-in scenario name or a scenario JSON file.",
)
_log_option = click.option(
    "--request-log", default=None, metavar="FILE", help="Write every request the twin serves as JSON lines."
)
_latency_option = click.option(
    "--latency-ms",
    type=click.IntRange(min=0),
    default=0,
    help="Add this many milliseconds to every request (benchmarks).",
)


@click.group("twin")
def twin() -> None:
    """A loopback Azure (Entra ID, managed identity, ARM, Resource Graph, Graph, data plane) for trying
    preflight without an Azure account, for tests and for benchmarks."""


@twin.command("scenarios")
@click.option("--dump", default=None, metavar="NAME", help="Print one scenario as JSON (a starting point).")
def scenarios(dump: str | None) -> int:
    """List the built-in scenarios, or print one."""
    import json

    from preflight.twin.scenario import ScenarioError, builtin_scenario_text, list_scenarios

    if dump is not None:
        try:
            click.echo(builtin_scenario_text(dump), nl=False)
        except (ScenarioError, FileNotFoundError, KeyError) as exc:
            raise _scenario_error(exc) from exc
        return 0
    for name in list_scenarios():
        description = json.loads(builtin_scenario_text(name)).get("description", "")
        click.echo(f"{name:<26} {description}")
    return 0


@twin.command("serve")
@_scenario_option
@click.option("--port", type=click.IntRange(min=0, max=65535), default=0, help="Port (default: any free port).")
@_log_option
@_latency_option
def serve(scenario: str, port: int, request_log: str | None, latency_ms: int) -> int:
    """Serve the twin until interrupted; print the environment to export in another shell."""
    # The handler goes in before anything is printed: whoever reads the environment may stop us at once.
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    instance = _start(scenario, port, latency_ms, request_log)
    try:
        click.echo(f"# azure-preflight twin on {instance.base_url} — scenario {instance.scenario.get('name')}")
        click.echo("# export these in the shell that should talk to it:")
        for key, value in sorted(instance.environment().items()):
            click.echo(f"export {key}={shlex.quote(value)}")
        click.echo("# press Ctrl-C to stop", err=True)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    finally:
        instance.stop()
    return 0


@twin.command("exec", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@_scenario_option
@_log_option
@_latency_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_(scenario: str, request_log: str | None, latency_ms: int, command: Sequence[str]) -> int:
    """Run COMMAND with the twin's environment (endpoints, CA, sign-in state, target) and exit with its code.

    Example: preflight twin exec --scenario owner-without-data-role -- preflight check
    """
    args = list(command)
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        raise ConfigError("twin exec needs a command to run after --")
    instance = _start(scenario, 0, latency_ms, request_log)
    try:
        try:
            return subprocess.call(args, env=instance.process_environment())
        except FileNotFoundError as exc:
            raise ConfigError(f"command not found: {args[0]}") from exc
        except KeyboardInterrupt:
            return 130
    finally:
        instance.stop()


@click.command("demo")
@_scenario_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.argument("check_args", nargs=-1, type=click.UNPROCESSED)
def demo(scenario: str, fmt: str, check_args: Sequence[str]) -> int:
    """See a full report with no Azure account: start the twin with a scenario and run `preflight check`
    against it. Extra arguments go to `preflight check`.

    Try: preflight demo --scenario owner-without-data-role
    """
    instance = _start(scenario)
    try:
        name = instance.scenario.get("name", scenario)
        click.echo(f"azure-preflight demo — scenario '{name}': {instance.scenario.get('description', '')}", err=True)
        click.echo(f"(a loopback Azure twin on {instance.base_url}; nothing leaves this machine)\n", err=True)
        env = instance.process_environment()
        if not os.environ.get("NO_COLOR") and sys.stdout.isatty():
            env.pop("NO_COLOR", None)
        # -P: never put the working directory on sys.path (a source checkout would shadow the install).
        cmd = [sys.executable, "-P", "-m", "preflight", "check", "--format", fmt, *check_args]
        return subprocess.call(cmd, env=env)
    finally:
        instance.stop()
