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

# Signals that end `twin exec` / `demo` as a supervisor or a closed terminal ends them (CI cancelling a job,
# `timeout`, an SSH session dropping): the twin's temp dir holds its TLS server key and the apps' keys, so it must
# be removed and the server stopped, not left behind as after a default-handled signal (issue 17 item 6).
TERMINATING = (signal.SIGTERM, signal.SIGHUP)
CHILD_GRACE_SECONDS = 5.0  # how long the command may take to exit on the forwarded signal before it is killed


class _Signalled(BaseException):
    """Raised in the main thread by a terminating signal, so ``finally`` blocks stop the twin. A BaseException:
    no ``except Exception`` on the way may swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_signalled(signum: int, _frame: object) -> None:
    for sig in TERMINATING:  # one is enough: a second signal during clean-up must not interrupt it
        signal.signal(sig, signal.SIG_IGN)
    raise _Signalled(signum)


def _run_command(args: Sequence[str], env: dict[str, str]) -> int:
    """Run the command to completion; on SIGTERM / SIGHUP forward the signal to it, give it a moment to exit
    (then kill it) and answer 128 + the signal number, as a shell does, once the caller's ``finally`` has stopped
    the twin."""
    child = subprocess.Popen(args, env=env)
    try:
        while True:
            # Wait in short slices, not one blocking waitpid: the kernel may hand the signal to one of the twin's
            # server threads, and Python runs its handler only when the main thread next executes bytecode — a
            # main thread parked in waitpid would notice only when the command ends on its own.
            try:
                return child.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                continue
    except _Signalled as exc:
        child.send_signal(exc.signum)
        try:
            child.wait(timeout=CHILD_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        return 128 + exc.signum
    except KeyboardInterrupt:  # the command got the same SIGINT from the terminal; wait for it to go
        child.wait()
        return 130


def _with_twin(
    scenario: str, run: Any, *, latency_ms: int = 0, request_log: str | None = None, named_hosts: bool = False
) -> int:
    """Start the twin, ``run(instance)``, stop it: on return, on an error and on SIGTERM / SIGHUP alike. The
    handlers go in before the twin starts (a signal during its start cleans up too); the signals are blocked
    while it stops, so a late one cannot cut the clean-up short (it is delivered afterwards, to the handler
    there was before)."""
    previous = {sig: signal.signal(sig, _raise_signalled) for sig in TERMINATING}
    instance: Any = None
    try:
        instance = _start(scenario, 0, latency_ms, request_log, named_hosts)
        result: int = run(instance)
        return result
    except _Signalled as exc:
        return 128 + exc.signum
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, TERMINATING)
        try:
            if instance is not None:
                instance.stop()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, TERMINATING)


def _scenario_error(exc: Exception) -> ConfigError:
    return ConfigError(f"scenario: {exc}", remediation="`preflight twin scenarios` lists the built-in scenarios")


def _start(
    scenario: str, port: int = 0, latency_ms: int = 0, request_log: str | None = None, named_hosts: bool = False
) -> Any:
    from preflight.twin import Twin
    from preflight.twin.scenario import ScenarioError

    try:
        return Twin(
            scenario, port=port, latency_ms=latency_ms, request_log_path=request_log, named_hosts=named_hosts
        ).start()
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
_named_hosts_option = click.option(
    "--named-hosts",
    is_flag=True,
    help="Serve Entra ID, ARM, Graph and each data plane under names of their own (login.twin.test, "
    "management.twin.test, graph.twin.test, <account>.openai.twin.test) through the twin's loopback proxy "
    "(HTTPS_PROXY), instead of one 127.0.0.1 origin.",
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
@_named_hosts_option
def serve(scenario: str, port: int, request_log: str | None, latency_ms: int, named_hosts: bool) -> int:
    """Serve the twin until interrupted; print the environment to export in another shell."""
    # The handler goes in before anything is printed: whoever reads the environment may stop us at once.
    stop = threading.Event()
    for sig in TERMINATING:  # a closed terminal (SIGHUP) stops the twin as cleanly as SIGTERM
        signal.signal(sig, lambda *_: stop.set())
    instance = _start(scenario, port, latency_ms, request_log, named_hosts)
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
@_named_hosts_option
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
def exec_(scenario: str, request_log: str | None, latency_ms: int, named_hosts: bool, command: Sequence[str]) -> int:
    """Run COMMAND with the twin's environment (endpoints, CA, sign-in state, target) and exit with its code.

    Example: preflight twin exec --scenario owner-without-data-role -- preflight check
    """
    args = list(command)
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        raise ConfigError("twin exec needs a command to run after --")

    def run(instance: Any) -> int:
        try:
            return _run_command(args, instance.process_environment())
        except FileNotFoundError as exc:
            raise ConfigError(f"command not found: {args[0]}") from exc

    return _with_twin(scenario, run, latency_ms=latency_ms, request_log=request_log, named_hosts=named_hosts)


@click.command("demo", context_settings={"ignore_unknown_options": True})
@_scenario_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option(
    "--named-hosts/--one-origin",
    default=True,
    show_default=True,
    help="Each service under a name of its own (login.twin.test, management.twin.test, graph.twin.test, "
    "<account>.openai.twin.test), reached through the twin's loopback proxy, as in Azure; or all on 127.0.0.1.",
)
@click.argument("check_args", nargs=-1, type=click.UNPROCESSED)
def demo(scenario: str, fmt: str, named_hosts: bool, check_args: Sequence[str]) -> int:
    """See a full report with no Azure account: start the twin with a scenario and run `preflight check`
    against it. Other options and arguments go to `preflight check` (e.g. --probe, -v, --only 'rbac.*').

    Try: preflight demo --scenario owner-without-data-role --probe
    """

    def run(instance: Any) -> int:
        name = instance.scenario.get("name", scenario)
        click.echo(f"azure-preflight demo — scenario '{name}': {instance.scenario.get('description', '')}", err=True)
        where = "named hosts *.twin.test through its proxy on 127.0.0.1" if named_hosts else instance.base_url
        click.echo(f"(a loopback Azure twin on {where}; nothing leaves this machine)", err=True)
        args = demo_check_args(instance.scenario, check_args)
        if len(args) > len(check_args):
            click.echo(
                "(with --probe: this scenario's refusal is one only the data plane gives, so the demo asks it — "
                "one read-only GET of the deployment list)",
                err=True,
            )
        click.echo("", err=True)
        env = instance.process_environment()
        if not os.environ.get("NO_COLOR") and sys.stdout.isatty():
            env.pop("NO_COLOR", None)
        # -P: never put the working directory on sys.path (a source checkout would shadow the install).
        return _run_command([sys.executable, "-P", "-m", "preflight", "check", "--format", fmt, *args], env)

    return _with_twin(scenario, run, named_hosts=named_hosts)


def demo_check_args(scenario: Any, check_args: Sequence[str]) -> list[str]:
    """``check_args`` plus what the scenario's ``demo`` section asks for: ``--probe`` when its story is a refusal
    only the data plane gives (a network rule, an assignment not yet propagated) — without it the demo would
    exit 0 on exactly the failure the scenario shows (issue 19 item 4)."""
    args = list(check_args)
    demo_options = scenario.get("demo") or {}
    if demo_options.get("probe") and "--probe" not in args:
        args.append("--probe")
    return args
