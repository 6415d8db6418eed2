"""The command line: a thin shell over ``preflight.run``. Only the command shell (this module and
:mod:`preflight.shell`, which every command's options and output go through) writes to stdout or files and
chooses exit codes.

Exit codes: 0 nothing at or above ``--fail-on``; 1 at least one result at or above it; 2 bad invocation or
configuration; 3 the run itself could not complete (e.g. the report could not be written); 130 interrupted.
A reader that closes stdout early (``| head``) changes none of these: the ``--output`` files are still written.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import click

from preflight import __version__
from preflight.errors import ConfigError, PreflightError
from preflight.shell import (
    CONTEXT_SETTINGS,
    CloudFlags,
    Display,
    ResourceFlags,
    answer_format_option,
    app_options,
    cloud_options,
    common_options,
    emit_report,
    engine_options,
    expiry_days_option,
    live_progress,
    output_files,
    report_options,
    resource_options,
    scopes_option,
)

if TYPE_CHECKING:
    from preflight.envfile import AppEnvironment
    from preflight.explain.model import Explanation
    from preflight.model import Report
    from preflight.progress import TerminalProgress
    from preflight.run import CheckOptions

EXIT_INTERRUPTED = 130
EXIT_INCOMPLETE = 3
EXPLAIN_MAX_CHARS = 1024 * 1024  # `explain -`: a pasted error with its traceback is a few KB


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="azure-preflight", message="%(prog)s %(version)s")
def cli() -> None:
    """Can you really reach your Azure AI resource with Microsoft Entra ID (keyless) auth?

    Runs a set of checks — sign-in, tokens, role assignments, the resource's configuration — and tells you
    exactly what is wrong and what to run to fix it.
    """


@cli.command("list-checks")
@answer_format_option
@common_options
def list_checks(fmt: str, display: Display) -> int:
    """List the installed checks (built-in and plug-ins)."""
    import json

    from preflight.engine import discover, load

    loaded = load(discover())
    if fmt == "json":
        rows = []
        for item in loaded:
            row = item.meta.to_dict()
            row["distribution"] = item.spec.distribution
            row["load_error"] = item.load_error
            rows.append(row)
        click.echo(json.dumps({"schema": "preflight.checks/1", "checks": rows}, indent=2))
        return 0
    width = max((len(item.meta.id) for item in loaded), default=10)
    for item in loaded:
        extra = f"  [could not load: {item.load_error}]" if item.load_error else ""
        origin = "" if item.spec.distribution == "azure-preflight" else f"  ({item.spec.distribution})"
        click.echo(f"{item.meta.id:<{width}}  {item.meta.severity.value:<8}  {item.meta.title}{origin}{extra}")
    return 0


def _duration(value: str) -> float:
    """``90``, ``90s``, ``10m``, ``1h`` → seconds."""
    import math

    units = {"s": 1, "m": 60, "h": 3600}
    text = value.strip().lower()
    try:
        seconds = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:  # "nan", "inf", "-5s": never a usable wait
        raise click.BadParameter(f"{value!r} is not a duration such as 90s, 10m or 1h")
    return seconds


@cli.command("check")
@report_options("Format printed on stdout.")
@engine_options(timeout=60.0, deadline=180.0, what="run", example="rbac.*")
@cloud_options
@resource_options
@click.option("--profile", default=None, help="Intended use: openai, cognitive, ml … (default: from the resource).")
@click.option("--assignee", default=None, help="Check this principal instead of the signed-in one (admins).")
@click.option("--probe", is_flag=True, help="Also make one read-only call to the data plane (list deployments).")
@scopes_option("Also test a token for this scope (e.g. https://vault.azure.net/.default).")
@click.option("--interactive", is_flag=True, help="Allow credentials that prompt (browser, device code).")
@click.option(
    "--wait",
    "wait",
    default=None,
    metavar="DURATION",
    help="Re-check until every result passes or DURATION (90s, 10m) is over — for CI right after provisioning.",
)
@expiry_days_option("Secrets and certificates expiring within this many days are WARN.")
@app_options
@common_options
def check(
    fmt: str,
    outputs: Sequence[str],
    fail_on: str,
    only: Sequence[str],
    skip: Sequence[str],
    timeout: float,
    deadline: float,
    cloud: CloudFlags,
    resource: ResourceFlags,
    profile: str | None,
    assignee: str | None,
    probe: bool,
    scopes: Sequence[str],
    interactive: bool,
    wait: str | None,
    expiry_days: int,
    display: Display,
    app: AppEnvironment,
) -> int:
    """Run the checks and report. Exit 0: nothing at or above --fail-on; 1: something is; 2: bad input; 3: not done."""
    from preflight.engine import RunOptions, split_patterns
    from preflight.run import CheckOptions, exit_code
    from preflight.target import build_target

    environ = dict(os.environ)
    target = build_target(
        environ,
        **cloud.target_args(),
        **resource.target_args(),
        profile=profile,
        assignee=assignee,
        extra_scopes=tuple(scopes),
        interactive=interactive,
        credential_warn_days=expiry_days,
        app=app,  # --env-file / ./.env and --deployment: what the app.* checks read
    )
    files = output_files(outputs, fmt)  # refused before the run: a bad --output must not cost a run
    options = CheckOptions(
        target,
        split_patterns(only),
        split_patterns(skip),
        RunOptions(timeout=timeout, deadline=deadline),
        probe=probe,
        wait=_duration(wait) if wait else 0.0,
    )
    report = _run_with_progress(options, environ)
    emit_report(report, fmt, files, display=display, environ=environ)
    return exit_code(report, fail_on)


def _run_with_progress(options: CheckOptions, environ: Mapping[str, str]) -> Report:
    from preflight.engine import discover, select
    from preflight.progress import TerminalProgress
    from preflight.run import run

    def say_retry(attempt: int, left: float, reason: str) -> None:
        sys.stderr.write(
            f"  attempt {attempt} not settled ({reason[:120]}); re-checking in "
            f"{min(options.wait_interval, left):.0f} s, {left:.0f} s left\n"
        )
        sys.stderr.flush()

    def terminal(stream: TextIO) -> TerminalProgress:
        return TerminalProgress(stream, len(select(discover(), options.only, options.skip)))

    with live_progress(environ, terminal) as progress:
        if progress is None:
            # No live status line off a TTY / in CI, but --wait still says what it is waiting for: a CI log
            # would otherwise stay silent for the whole wait (issue 6: "re-checks … with progress").
            if options.wait > 0:
                return run(options, on_retry=lambda attempt, left, report, reason: say_retry(attempt, left, reason))
            return run(options)
        shown = progress

        def retrying(attempt: int, left: float, report: Report, reason: str) -> None:  # --wait progress
            shown.done = 0
            shown.close()
            say_retry(attempt, left, reason)

        return run(options, observer=progress, on_retry=retrying)


@cli.command("explain")
@click.argument("error", nargs=-1, required=True)
@answer_format_option
def explain(error: Sequence[str], fmt: str) -> int:
    """Explain a pasted Azure auth error: AADSTS50076, a data-plane or ARM answer, an SDK exception, a
    DefaultAzureCredential text or a whole traceback. `-` reads it from stdin (pbpaste | preflight explain -).

    One explanation per error, most specific first, each ending with the `preflight check --only …` that verifies
    the fix. Exit 0 when every error is explained, 1 when one is recognised but not explained, 2 when the input
    holds no recognisable error. Keys, tokens and secrets in the input never appear in the output.
    """
    import json

    from preflight.explain import exit_code
    from preflight.explain import explain as explain_text

    text = sys.stdin.read(EXPLAIN_MAX_CHARS + 1) if list(error) == ["-"] else " ".join(error)
    if len(text) > EXPLAIN_MAX_CHARS:  # bounded: `explain - < /dev/zero` must not read forever (issue 17 item 6)
        raise ConfigError(f"the pasted error is longer than {EXPLAIN_MAX_CHARS} characters: paste the error alone")
    found = explain_text(text)
    if not found:
        from preflight.redact import mask_pasted
        from preflight.reports.table import clean

        raise ConfigError(
            f"no Azure error recognised (no AADSTS error code found, nor an error body, code or "
            f"credential message) in {clean(mask_pasted(text.strip())[:80])!r}",
            remediation="paste the whole error: the exception text, the response body or the "
            "traceback, or a code such as AADSTS50076 (use - to read it from stdin)",
        )
    if fmt == "json":
        click.echo(json.dumps([item.to_dict() for item in found], indent=2))
    else:
        click.echo(_render_explanations(found), nl=False)
    return exit_code(found)


def _render_explanations(found: Sequence[Explanation]) -> str:
    """The table form: one block per explanation; every value through the table renderer's ``clean`` (a pasted
    text may carry terminal escape sequences)."""
    from preflight.reports.table import clean

    blocks = []
    for index, item in enumerate(found, start=1):
        head = f"[{index}/{len(found)}] " if len(found) > 1 else ""
        lines = [
            f"{head}{clean(item.title)}",
            f"category: {item.category} ({item.source.value}"
            + (f", {clean(item.credential)}" if item.credential else "")
            + (f", HTTP {item.status}" if item.status else "")
            + ")",
        ]
        lines += [
            f"{label:<9} {clean(value)}" for label, value in (("cause:", item.cause), ("fix:", item.fix)) if value
        ]
        lines += [f"run:      {clean(command)}" for command in item.commands]
        lines.append(f"verify:   {item.verify}")
        if item.docs:
            lines.append(f"docs:     {clean(item.docs)}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


class _LazyCommand(click.Command):
    """Shows in --help without importing its module; the real command loads only when invoked."""

    def __init__(self, name: str, module: str, attr: str, help_text: str) -> None:
        super().__init__(
            name,
            help=help_text,
            context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
            add_help_option=False,
        )
        self.target = (module, attr)

    def _real(self) -> click.Command:
        import importlib

        command: click.Command = getattr(importlib.import_module(self.target[0]), self.target[1])
        return command

    def invoke(self, ctx: click.Context) -> Any:
        real = self._real()
        return real.main(args=ctx.args, prog_name=ctx.command_path, standalone_mode=False)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.args = list(args)
        return []


cli.add_command(
    _LazyCommand(
        "can-i",
        "preflight.can_i",
        "can_i",
        "Can a principal perform an action at a scope? (an Azure `kubectl auth can-i`)",
    )
)
cli.add_command(
    _LazyCommand(
        "whoami",
        "preflight.whoami",
        "whoami",
        "Who am I signed in as: type, names, ids, tenant, groups, which credential.",
    )
)
cli.add_command(
    _LazyCommand(
        "audit",
        "preflight.audit.command",
        "audit",
        "Audit role assignments at scale: orphaned, over-privileged, misplaced.",
    )
)
cli.add_command(
    _LazyCommand("twin", "preflight.twin.commands", "twin", "A loopback Azure twin: serve, exec, scenarios.")
)
cli.add_command(
    _LazyCommand(
        "demo",
        "preflight.twin.commands",
        "demo",
        "See a full report with no Azure account (runs the checks against the twin).",
    )
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``preflight`` console script. Maps every failure to an exit code and a one-line
    message; tracebacks only with -v."""
    code = _main(argv)
    if argv is None:  # the console script, about to exit (in-process callers pass argv and keep their GC)
        import gc

        # The interpreter's final collection walks every object of the SDKs a run imported: 0.2-0.3 s on the
        # 2-core benchmark machine, longer than the run's last three round trips. Frozen objects are skipped;
        # files are flushed and atexit handlers run as usual (issue 11).
        gc.disable()
        gc.freeze()
    return code


def _main(argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    # Decided from the words, not by click: an error can come before (or while) any command parses its options.
    # Words after "--" belong to another command (``twin exec -- preflight check --debug``): not ours.
    words = args[: args.index("--")] if "--" in args else args
    verbose = "-v" in words or "--verbose" in words
    _configure_logging(debug="--debug" in words)
    try:
        result = cli.main(args=args, prog_name="preflight", standalone_mode=False)
    except click.exceptions.Abort as exc:  # click turns Ctrl-C into Abort (from the KeyboardInterrupt)
        _report_interrupt(exc.__cause__ or exc.__context__)
        return EXIT_INTERRUPTED
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.UsageError as exc:
        _report_error(_usage_error(exc))
        return 2
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeyboardInterrupt as exc:
        _report_interrupt(exc)
        return EXIT_INTERRUPTED
    except PreflightError as exc:
        _report_error(exc, verbose=verbose)
        return exc.exit_code
    except Exception as exc:  # a bug: still no traceback unless asked for
        if verbose:
            raise
        from preflight.redact import Redactor

        detail = Redactor.from_environ(os.environ).text(f"{type(exc).__name__}: {exc}")
        click.echo(f"preflight: internal error: {detail} (run with -v for details)", err=True)
        return EXIT_INCOMPLETE
    return result if isinstance(result, int) else 0


def _configure_logging(*, debug: bool) -> None:
    """The SDKs' logs (azure-core's HTTP lines, azure-identity's and msal's DEBUG) go to stderr only with
    ``--debug``, through the redaction filter (their messages may quote a secret: see RedactingFilter); ``-v``
    is for evidence, not logs. Otherwise their warnings are not for the user either (the report says what
    failed): without a handler Python would print them, unredacted, through its last-resort handler — e.g.
    azure-core's "Incomplete download." when an answer is cut short."""
    if not debug:
        logging.getLogger().addHandler(logging.NullHandler())
        return
    logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    from preflight.redact import install_log_redaction

    install_log_redaction(os.environ)


def _report_interrupt(exc: BaseException | None) -> None:
    """Ctrl-C: say which checks had finished (and how) before the run stopped; no report file is written."""
    finished = getattr(exc, "finished", None)
    if finished is None:
        click.echo("interrupted", err=True)
        return
    during = getattr(exc, "during", None)
    when = f" during {during}" if during else ""
    click.echo(f"interrupted{when}: {len(finished)} check(s) had finished; no report written", err=True)
    for meta, results in finished:
        statuses = ", ".join(sorted({r.status.value.upper() for r in results}))
        click.echo(f"  {meta.id}: {statuses}", err=True)


def _usage_error(exc: click.UsageError) -> ConfigError:
    """click's usage error as ours: one line naming the problem and a hint, not click's usage block ("Usage: …",
    "Try …", a blank line, then "Error: …"), so every bad input reads the same (issue 17 item 6)."""
    command = exc.ctx.command_path if exc.ctx is not None else "preflight"
    return ConfigError(" ".join(exc.format_message().split()), remediation=f"see '{command} --help'")


def _report_error(exc: PreflightError, *, verbose: bool = False) -> None:
    from preflight.redact import Redactor

    redactor = Redactor.from_environ(os.environ)  # the message may quote an SDK error that quotes a secret
    click.echo(f"preflight: error: {redactor.text(exc.message)}", err=True)
    if exc.remediation:
        click.echo(f"  {redactor.text(exc.remediation)}", err=True)
    if verbose and not isinstance(exc, ConfigError):  # the traceback, redacted like the message
        import traceback

        click.echo(redactor.text("".join(traceback.format_exception(exc)).rstrip()), err=True)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
