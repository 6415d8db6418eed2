"""The command line: a thin shell over ``preflight.run``. Only this module writes to stdout or files and
chooses exit codes.

Exit codes: 0 nothing at or above ``--fail-on``; 1 at least one result at or above it; 2 bad invocation or
configuration; 3 the run itself could not complete (e.g. the report could not be written); 130 interrupted.
A reader that closes stdout early (``| head``) changes none of these: the ``--output`` files are still written.
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from preflight import __version__
from preflight.errors import ConfigError, PreflightError, RenderError

F = TypeVar("F", bound=Callable[..., Any])
EXIT_INTERRUPTED = 130
EXIT_INCOMPLETE = 3
STDOUT = "-"  # as an --output path: stdout, which carries the --format rendering anyway
# What an existing --output path must not be, and how to name it. The atomic write renames a new file over the
# path: that would swap a device node (/dev/full as root), a FIFO or a socket for a regular file, and replace a
# symlink rather than write to its target. A directory would fail only after the whole run (issue 17 item 5).
_NOT_REGULAR: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)


def _common(func: F) -> F:
    """-v / --no-color on every command, so they work after the subcommand name."""
    func = click.option("-v", "--verbose", is_flag=True, help="Show evidence, timings and tracebacks.")(func)
    func = click.option("--no-color", is_flag=True, help="Plain output (NO_COLOR is honoured too).")(func)
    return func


def _use_color(no_color: bool) -> bool:
    return not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()


class _State:
    verbose = False


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", prog_name="azure-preflight", message="%(prog)s %(version)s")
def cli() -> None:
    """Can you really reach your Azure AI resource with Microsoft Entra ID (keyless) auth?

    Runs a set of checks — sign-in, tokens, role assignments, the resource's configuration — and tells you
    exactly what is wrong and what to run to fix it.
    """


@cli.command("list-checks")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@_common
def list_checks(fmt: str, verbose: bool, no_color: bool) -> int:
    """List the installed checks (built-in and plug-ins)."""
    import json

    from preflight.engine import discover, load

    _State.verbose = verbose
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


def _format_names() -> list[str]:
    from preflight.reports import FORMATS

    return list(FORMATS)


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


def report_options(format_help: str) -> Callable[[F], F]:
    """--format / --output / --fail-on, shared by every command that produces a Report."""

    def decorate(func: F) -> F:
        func = click.option("--fail-on", type=click.Choice(["fail", "warn", "never"]), default="fail",
                            show_default=True,
                            help="Exit 1 when a result reaches this status (ERROR counts as FAIL).")(func)
        func = click.option("--output", "outputs", multiple=True, metavar="FILE",
                            help="Also write the report to FILE (format from the extension, else --format), "
                                 "a new or regular file; - is stdout. Repeatable.")(func)
        return click.option("--format", "fmt", type=click.Choice(_format_names()), default="table",
                            show_default=True, help=format_help)(func)

    return decorate


def cloud_options(func: F) -> F:
    """--cloud / --cloud-metadata-url / --tenant: which cloud and tenant a command talks to."""
    func = click.option("--tenant", default=None, help="Tenant id or domain (default: AZURE_TENANT_ID).")(func)
    func = click.option("--cloud-metadata-url", default=None,
                        help="Custom cloud metadata (default: ARM_CLOUD_METADATA_URL).")(func)
    return click.option("--cloud", type=click.Choice(["AzureCloud", "AzureChinaCloud", "AzureUSGovernment"]),
                        default=None, help="Azure cloud (default: AzureCloud, or AZURE_CLOUD).")(func)


@cli.command("check")
@report_options("Format printed on stdout.")
@click.option("--only", multiple=True, metavar="PATTERN", help="Run only these check ids / globs (rbac.*).")
@click.option("--skip", multiple=True, metavar="PATTERN", help="Skip these check ids / globs.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=60.0, show_default=True,
              help="Seconds one check may run.")
@click.option("--deadline", type=click.FloatRange(min=0.1), default=180.0, show_default=True,
              help="Seconds the whole run may take.")
@cloud_options
@click.option("--subscription", default=None, help="Subscription id (default: AZURE_SUBSCRIPTION_ID).")
@click.option("--resource-id", default=None, help="ARM id of the resource to check.")
@click.option("--endpoint", default=None, help="Resource endpoint (default: AZURE_OPENAI_ENDPOINT / AZURE_AI_ENDPOINT).")
@click.option("--profile", default=None, help="Intended use: openai, cognitive, ml … (default: from the resource).")
@click.option("--assignee", default=None, help="Check this principal instead of the signed-in one (admins).")
@click.option("--probe", is_flag=True, help="Also make one read-only call to the data plane (list deployments).")
@click.option("--workspace", default=None, help="Azure ML workspace ARM id (default: .azureml/config.json).")
@click.option("--scope", "scopes", multiple=True, metavar="SCOPE",
              help="Also test a token for this scope (e.g. https://vault.azure.net/.default). Repeatable.")
@click.option("--interactive", is_flag=True, help="Allow credentials that prompt (browser, device code).")
@click.option("--wait", "wait", default=None, metavar="DURATION",
              help="Re-check until every result passes or DURATION (90s, 10m) is over — for CI right after "
                   "provisioning.")
@click.option("--expiry-days", type=click.IntRange(min=0), default=30, show_default=True,
              help="Secrets and certificates expiring within this many days are WARN.")
@_common
def check(fmt: str, outputs: Sequence[str], fail_on: str, only: Sequence[str], skip: Sequence[str],
          timeout: float, deadline: float, cloud: str | None, cloud_metadata_url: str | None, tenant: str | None,
          subscription: str | None, resource_id: str | None, endpoint: str | None, profile: str | None,
          assignee: str | None, probe: bool, workspace: str | None, scopes: Sequence[str], interactive: bool,
          wait: str | None, expiry_days: int, verbose: bool, no_color: bool) -> int:
    """Run the checks and report. Exit 0: nothing at or above --fail-on; 1: something is; 2: bad input; 3:
    the run could not complete."""
    from preflight import reports
    from preflight.engine import RunOptions, split_patterns
    from preflight.run import CheckOptions, exit_code
    from preflight.target import build_target

    _State.verbose = verbose
    environ = dict(os.environ)
    target = build_target(environ, cloud=cloud, cloud_metadata_url=cloud_metadata_url, tenant=tenant,
                          subscription=subscription, resource_id=resource_id, endpoint=endpoint, profile=profile,
                          assignee=assignee, workspace=workspace, extra_scopes=tuple(scopes),
                          interactive=interactive, credential_warn_days=expiry_days)
    files = output_files(outputs, fmt)  # refused before the run: a bad --output must not cost a run
    options = CheckOptions(target, split_patterns(only), split_patterns(skip),
                           RunOptions(timeout=timeout, deadline=deadline), probe=probe,
                           wait=_duration(wait) if wait else 0.0)
    report = _run_with_progress(options, environ)

    emit_report(report, fmt, files, no_color=no_color, verbose=verbose)
    summary_file = environ.get("GITHUB_STEP_SUMMARY")
    if fmt == "github" and summary_file:
        # GitHub Actions shows this file's Markdown on the run page; other steps write to it too: append.
        _append(Path(summary_file), reports.get("md").render(report, reports.RenderOptions(verbose=verbose)))
    return exit_code(report, fail_on)


def _append(path: Path, text: str) -> None:
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise RenderError(f"could not append the summary to {str(path)!r}: {exc.strerror or exc}") from exc


def _run_with_progress(options: Any, environ: dict[str, str]) -> Any:
    from preflight.engine import discover, select
    from preflight.progress import TerminalProgress, wants_progress
    from preflight.run import run

    def say_retry(attempt: int, left: float, reason: str) -> None:
        sys.stderr.write(f"  attempt {attempt} not settled ({reason[:120]}); re-checking in "
                         f"{min(options.wait_interval, left):.0f} s, {left:.0f} s left\n")
        sys.stderr.flush()

    if not wants_progress(sys.stderr, environ):
        # No live status line off a TTY / in CI, but --wait still says what it is waiting for: a CI log
        # would otherwise stay silent for the whole wait (issue 6: "re-checks … with progress").
        if options.wait > 0:
            return run(options, on_retry=lambda attempt, left, report, reason: say_retry(attempt, left, reason))
        return run(options)
    total = len(select(discover(), options.only, options.skip))
    progress = TerminalProgress(sys.stderr, total)

    def retrying(attempt: int, left: float, report: Any, reason: str) -> None:  # --wait progress
        progress.done = 0
        progress.close()
        say_retry(attempt, left, reason)

    try:
        return run(options, observer=progress, on_retry=retrying)
    finally:
        progress.close()


def output_files(outputs: Sequence[str], fmt: str) -> list[tuple[Path, str]]:
    """The ``--output`` files and their formats, checked before the run so a bad one costs no network call and
    no wait: the format each names (by extension, else ``fmt``) must exist, and an existing path must be a
    regular file (:func:`_not_regular`). ``-`` names stdout, which carries the ``fmt`` rendering already: it is
    dropped here rather than written twice, and never becomes a file called ``-``."""
    from preflight import reports

    files: list[tuple[Path, str]] = []
    for path in outputs:
        if path == STDOUT:
            continue
        kind = _not_regular(Path(path))
        if kind:
            hint = ("pass the file the link points to" if kind == _NOT_REGULAR[0][1]
                    else "name a regular file or a new path")
            raise ConfigError(f"--output {path!r} is {kind}, not a regular file: a report replaces the file it "
                              f"is written to", remediation=hint)
        files.append((Path(path), reports.for_path(path, default=fmt)))
    for name in {fmt, *(name for _, name in files)}:
        reports.get(name)  # an unknown format fails here, before the run
    return files


def _not_regular(path: Path) -> str | None:
    """What an existing ``path`` is when it is not a regular file (a symlink counts, whatever it points at);
    None for a regular file or no file. A path that cannot be inspected is left to the write, which says why."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return None
    return next((kind for test, kind in _NOT_REGULAR if test(mode)), None)


def emit_report(report: Any, fmt: str, files: Sequence[tuple[Path, str]], *, no_color: bool,
                verbose: bool) -> None:
    """Print the ``fmt`` rendering on stdout, then write each ``--output`` file (the shell shared by ``check``
    and ``audit``). A reader that stops reading (``| head``: a closed pipe, EPIPE) is no failure of the run: the
    files are still written and the exit code stays the report's; nothing more is printed (no traceback)."""
    from preflight import reports

    stdout_options = reports.RenderOptions(color=_use_color(no_color), verbose=verbose)
    _print_to_stdout(reports.get(fmt).render(report, stdout_options))
    for path, name in files:
        write_atomically(path, reports.get(name).render(report, reports.RenderOptions(verbose=verbose)))


def _print_to_stdout(text: str) -> None:
    """``click.echo`` that lets the reader go. On a closed pipe stdout is pointed at the null device: without
    that, click turns EPIPE into a silent exit 1 before the files are written, and the interpreter's last flush
    of stdout at exit prints "Exception ignored … BrokenPipeError"."""
    try:
        click.echo(text, nl=False)
    except BrokenPipeError:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


def write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a report. The path is checked again
    just before the rename: the run may have taken minutes since :func:`output_files` looked."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            # mkstemp creates the file 0600; a report is an ordinary file (a CI artefact, a page to serve), so
            # give it the mode open() would: 0666 minus the umask.
            os.fchmod(fd, 0o666 & ~_umask())
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            kind = _not_regular(path)
            if kind:
                raise RenderError(f"could not write the report to {str(path)!r}: it became {kind} during the run")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise RenderError(f"could not write the report to {str(path)!r}: {exc.strerror or exc}") from exc


def _umask() -> int:
    """The process's umask (reading it means setting it: put it straight back)."""
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


@cli.command("explain")
@click.argument("error", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def explain(error: Sequence[str], fmt: str) -> int:
    """Explain a pasted Azure auth error: AADSTS50076, a data-plane or ARM answer, an SDK exception, a
    DefaultAzureCredential text or a whole traceback. `-` reads it from stdin (pbpaste | preflight explain -).

    One explanation per error, most specific first, each ending with the `preflight check --only …` that verifies
    the fix. Exit 0 when every error is explained, 1 when one is recognised but not explained, 2 when the input
    holds no recognisable error. Keys, tokens and secrets in the input never appear in the output.
    """
    import json

    from preflight.explain import explain as explain_text
    from preflight.explain import exit_code

    text = sys.stdin.read() if list(error) == ["-"] else " ".join(error)
    found = explain_text(text)
    if not found:
        from preflight.redact import mask_pasted
        from preflight.reports.table import clean

        raise ConfigError(f"no Azure error recognised (no AADSTS error code found, nor an error body, code or "
                          f"credential message) in {clean(mask_pasted(text.strip())[:80])!r}",
                          remediation="paste the whole error: the exception text, the response body or the "
                                      "traceback, or a code such as AADSTS50076 (use - to read it from stdin)")
    if fmt == "json":
        click.echo(json.dumps([item.to_dict() for item in found], indent=2))
    else:
        click.echo(_render_explanations(found), nl=False)
    return exit_code(found)


def _render_explanations(found: Sequence[Any]) -> str:
    """The table form: one block per explanation; every value through the table renderer's ``clean`` (a pasted
    text may carry terminal escape sequences)."""
    from preflight.reports.table import clean

    blocks = []
    for index, item in enumerate(found, start=1):
        head = f"[{index}/{len(found)}] " if len(found) > 1 else ""
        lines = [f"{head}{clean(item.title)}",
                 f"category: {item.category} ({item.source.value}"
                 + (f", {clean(item.credential)}" if item.credential else "")
                 + (f", HTTP {item.status}" if item.status else "") + ")"]
        lines += [f"{label:<9} {clean(value)}" for label, value in (
            ("cause:", item.cause), ("fix:", item.fix)) if value]
        lines += [f"run:      {clean(command)}" for command in item.commands]
        lines.append(f"verify:   {item.verify}")
        if item.docs:
            lines.append(f"docs:     {clean(item.docs)}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


class _LazyCommand(click.Command):
    """Shows in --help without importing its module; the real command loads only when invoked."""

    def __init__(self, name: str, module: str, attr: str, help_text: str) -> None:
        super().__init__(name, help=help_text, context_settings={"ignore_unknown_options": True,
                                                                 "allow_extra_args": True}, add_help_option=False)
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


cli.add_command(_LazyCommand("can-i", "preflight.can_i", "can_i",
                             "Can a principal perform an action at a scope? (an Azure `kubectl auth can-i`)"))
cli.add_command(_LazyCommand("whoami", "preflight.whoami", "whoami",
                             "Who am I signed in as: type, names, ids, tenant, groups, which credential."))
cli.add_command(_LazyCommand("audit", "preflight.audit.command", "audit",
                             "Audit role assignments at scale: orphaned, over-privileged, misplaced."))
cli.add_command(_LazyCommand("twin", "preflight.twin.commands", "twin",
                             "A loopback Azure twin: serve, exec, scenarios."))
cli.add_command(_LazyCommand("demo", "preflight.twin.commands", "demo",
                             "See a full report with no Azure account (runs the checks against the twin)."))


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
    _State.verbose = "-v" in args or "--verbose" in args
    if _State.verbose:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
        from preflight.redact import install_log_redaction

        install_log_redaction(os.environ)  # the SDKs' own messages may quote a secret (see RedactingFilter)
    else:
        # Without -v the SDKs' warnings are not for the user (the report says what failed): Python would print
        # them, unredacted, through its last-resort handler — e.g. azure-core's "Incomplete download." when an
        # answer is cut short.
        logging.getLogger().addHandler(logging.NullHandler())
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
        _report_error(exc)
        return exc.exit_code
    except Exception as exc:  # a bug: still no traceback unless asked for
        if _State.verbose:
            raise
        from preflight.redact import Redactor

        detail = Redactor.from_environ(os.environ).text(f"{type(exc).__name__}: {exc}")
        click.echo(f"preflight: internal error: {detail} (run with -v for details)", err=True)
        return EXIT_INCOMPLETE
    return result if isinstance(result, int) else 0


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


def _report_error(exc: PreflightError) -> None:
    from preflight.redact import Redactor

    redactor = Redactor.from_environ(os.environ)  # the message may quote an SDK error that quotes a secret
    click.echo(f"preflight: error: {redactor.text(exc.message)}", err=True)
    if exc.remediation:
        click.echo(f"  {redactor.text(exc.remediation)}", err=True)
    if _State.verbose and not isinstance(exc, ConfigError):
        logging.getLogger("preflight").debug("details", exc_info=exc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
