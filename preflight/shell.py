"""The one command shell ``check``, ``audit``, ``can-i`` and ``whoami`` share: their options, declared once, and
the one path from a finished run to stdout and files.

The work itself runs through :func:`preflight.run.session` (the Context's lifetime, redaction, settling); this
module is what turns its outcome into bytes on stdout, ``--output`` files and the GitHub step summary. Nothing
here holds state between calls: whatever a command needs (``--verbose``, ``--no-color``) it passes along.

Kept light to import: ``preflight --help`` loads this module, and must not load the Azure SDKs (tests/test_startup).
"""

from __future__ import annotations

import functools
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO, TypedDict, TypeVar, cast

import click

from preflight.errors import ConfigError, RenderError

if TYPE_CHECKING:
    from preflight.model import Report

F = TypeVar("F", bound=Callable[..., Any])
CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
CLOUDS = ("AzureCloud", "AzureChinaCloud", "AzureUSGovernment")
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


# --- options, declared once -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Display:
    """How a command shows what it found: ``-v`` adds each result's evidence (readable key/value lines),
    timings and, on an error, the traceback; ``--debug`` adds the SDKs' HTTP logs (azure-core, azure-identity,
    msal) on stderr, redacted; ``--no-color`` (or ``NO_COLOR``) plain text."""

    verbose: bool = False
    debug: bool = False
    no_color: bool = False


class CloudArgs(TypedDict):
    cloud: str | None
    cloud_metadata_url: str | None
    tenant: str | None


class ResourceArgs(TypedDict):
    subscription: str | None
    resource_id: str | None
    endpoint: str | None
    workspace: str | None


@dataclass(frozen=True, slots=True)
class CloudFlags:
    """--cloud / --cloud-metadata-url / --tenant, as given (None: from the environment)."""

    cloud: str | None = None
    cloud_metadata_url: str | None = None
    tenant: str | None = None

    def target_args(self) -> CloudArgs:
        """The keyword arguments of :func:`preflight.target.build_target` these flags set."""
        return {"cloud": self.cloud, "cloud_metadata_url": self.cloud_metadata_url, "tenant": self.tenant}


@dataclass(frozen=True, slots=True)
class ResourceFlags:
    """--subscription / --resource-id / --endpoint / --workspace, as given (None: from the environment)."""

    subscription: str | None = None
    resource_id: str | None = None
    endpoint: str | None = None
    workspace: str | None = None

    def target_args(self) -> ResourceArgs:
        """The keyword arguments of :func:`preflight.target.build_target` these flags set."""
        return {
            "subscription": self.subscription,
            "resource_id": self.resource_id,
            "endpoint": self.endpoint,
            "workspace": self.workspace,
        }


def _bundle(name: str, make: Callable[..., Any], fields: tuple[str, ...]) -> Callable[[F], F]:
    """Hand the values click parses for ``fields`` to the command as ONE argument ``name`` (``make(**values)``):
    a group of options is then declared, spelled and passed on once, not repeated in every command's
    signature and every call that forwards it."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def command(*args: Any, **kwargs: Any) -> Any:
            kwargs[name] = make(**{field: kwargs.pop(field) for field in fields})
            return func(*args, **kwargs)

        return cast(F, command)

    return decorate


def common_options(func: F) -> F:
    """-v / --debug / --no-color on every command (so they work after the subcommand name), as ``display``."""
    func = _bundle("display", Display, ("verbose", "debug", "no_color"))(func)
    func = click.option("--no-color", is_flag=True, help="Plain output (NO_COLOR is honoured too).")(func)
    func = click.option(
        "--debug", is_flag=True, help="Also log the Azure SDKs' HTTP requests and answers on stderr (redacted)."
    )(func)
    return click.option("-v", "--verbose", is_flag=True, help="Show evidence, timings and tracebacks.")(func)


def answer_format_option(func: F) -> F:
    """--format table|json, for the commands that print an answer rather than a Report."""
    return click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)(
        func
    )


def _format_names() -> list[str]:
    from preflight.reports import FORMATS

    return list(FORMATS)


def report_options(format_help: str) -> Callable[[F], F]:
    """--format / --output / --fail-on, shared by every command that produces a Report."""

    def decorate(func: F) -> F:
        func = click.option(
            "--fail-on",
            type=click.Choice(["fail", "warn", "never"]),
            default="fail",
            show_default=True,
            help="Exit 1 when a result reaches this status (ERROR counts as FAIL).",
        )(func)
        func = repeatable(
            "--output",
            "outputs",
            "FILE",
            "Also write the report to FILE (format from the extension, else --format), a new or regular file; - is "
            "stdout.",
        )(func)
        return click.option(
            "--format", "fmt", type=click.Choice(_format_names()), default="table", show_default=True, help=format_help
        )(func)

    return decorate


def engine_options(*, timeout: float, deadline: float, what: str, example: str) -> Callable[[F], F]:
    """--only / --skip / --timeout / --deadline: which checks run and how long they may take."""

    def decorate(func: F) -> F:
        func = click.option(
            "--deadline",
            type=click.FloatRange(min=0.1),
            default=deadline,
            show_default=True,
            help=f"Seconds the whole {what} may take.",
        )(func)
        func = click.option(
            "--timeout",
            type=click.FloatRange(min=0.1),
            default=timeout,
            show_default=True,
            help="Seconds one check may run.",
        )(func)
        func = repeatable("--skip", "skip", "PATTERN", "Skip these check ids / globs.")(func)
        return repeatable("--only", "only", "PATTERN", f"Run only these check ids / globs ({example}).")(func)

    return decorate


def cloud_options(func: F) -> F:
    """--cloud / --cloud-metadata-url / --tenant: which cloud and tenant a command talks to, as ``cloud``
    (a :class:`CloudFlags`)."""
    func = _bundle("cloud", CloudFlags, ("cloud", "cloud_metadata_url", "tenant"))(func)
    func = click.option("--tenant", default=None, help="Tenant id or domain (default: AZURE_TENANT_ID).")(func)
    func = click.option(
        "--cloud-metadata-url", default=None, help="Custom cloud metadata (default: ARM_CLOUD_METADATA_URL)."
    )(func)
    return click.option(
        "--cloud", type=click.Choice(CLOUDS), default=None, help="Azure cloud (default: AzureCloud, or AZURE_CLOUD)."
    )(func)


def resource_options(func: F) -> F:
    """--subscription / --resource-id / --endpoint / --workspace: the resource a command is about, as
    ``resource`` (a :class:`ResourceFlags`)."""
    func = _bundle("resource", ResourceFlags, ("subscription", "resource_id", "endpoint", "workspace"))(func)
    func = click.option("--workspace", default=None, help="Azure ML workspace ARM id (default: .azureml/config.json).")(
        func
    )
    func = click.option(
        "--endpoint", default=None, help="Resource endpoint (default: AZURE_OPENAI_ENDPOINT / AZURE_AI_ENDPOINT)."
    )(func)
    func = click.option("--resource-id", default=None, help="ARM id of the resource.")(func)
    return click.option("--subscription", default=None, help="Subscription id (default: AZURE_SUBSCRIPTION_ID).")(func)


def repeatable(flag: str, dest: str, metavar: str, help: str) -> Callable[[F], F]:
    """A repeatable option (``--scope A --scope B``) collected into the tuple ``dest``; its help says so."""
    return click.option(flag, dest, multiple=True, metavar=metavar, help=f"{help} Repeatable.")


def app_options(func: F) -> F:
    """--env-file / --deployment, handed to the command as one ``app`` (:class:`preflight.envfile.AppEnvironment`):
    the variables the app loads (the environment, plus the file, or ./.env, as ``load_dotenv()`` adds them) and
    the deployment it calls. A bad --env-file is bad input (exit 2) before anything runs."""

    @functools.wraps(func)
    def wrapper(*args: Any, env_file: str | None, deployment: str | None, **kwargs: Any) -> Any:
        from preflight.envfile import app_environment

        try:
            cwd: Path | None = Path.cwd()
        except OSError:  # the working directory was removed: there is no ./.env to read
            cwd = None
        app = app_environment(os.environ, env_file, cwd, deployment=deployment)
        return func(*args, app=app, **kwargs)

    wrapper = click.option(
        "--deployment", default=None, help="Model deployment the app calls (default: AZURE_OPENAI_DEPLOYMENT)."
    )(wrapper)
    option = click.option(
        "--env-file", default=None, metavar="PATH", help="The .env the app loads (default: ./.env if present)."
    )
    return option(wrapper)  # type: ignore[return-value]


def scopes_option(help: str) -> Callable[[F], F]:
    """A repeatable --scope SCOPE (into ``scopes``): ``check`` tests tokens for them, ``audit`` reads below them."""
    return repeatable("--scope", "scopes", "SCOPE", help)


def expiry_days_option(help: str) -> Callable[[F], F]:
    """--expiry-days N (default 30): how near a credential's end date must be to be reported."""
    return click.option("--expiry-days", type=click.IntRange(min=0), default=30, show_default=True, help=help)


# --- progress -----------------------------------------------------------------------------------------------------


class Closable(Protocol):
    def close(self) -> None: ...


P = TypeVar("P", bound=Closable)


@contextmanager
def live_progress(environ: Mapping[str, str], make: Callable[[TextIO], P]) -> Iterator[P | None]:
    """A status line on stderr, made by ``make`` — only on an interactive terminal outside CI (None otherwise),
    and always cleared when the run ends, however it ends."""
    from preflight.progress import wants_progress

    if not wants_progress(sys.stderr, environ):
        yield None
        return
    progress = make(sys.stderr)
    try:
        yield progress
    finally:
        progress.close()


# --- output: stdout, --output files, the GitHub step summary -------------------------------------------------------


def use_color(no_color: bool) -> bool:
    return not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()


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
            hint = (
                "pass the file the link points to"
                if kind == _NOT_REGULAR[0][1]
                else "name a regular file or a new path"
            )
            raise ConfigError(
                f"--output {path!r} is {kind}, not a regular file: a report replaces the file it is written to",
                remediation=hint,
            )
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


def emit_report(
    report: Report,
    fmt: str,
    files: Sequence[tuple[Path, str]],
    *,
    display: Display,
    environ: Mapping[str, str],
) -> None:
    """Print the ``fmt`` rendering on stdout, write each ``--output`` file, then, for ``--format github`` inside
    GitHub Actions, append the Markdown report to ``$GITHUB_STEP_SUMMARY`` — the one path every Report-producing
    command (``check``, ``audit``) ends with. A reader that stops reading (``| head``: a closed pipe, EPIPE) is no
    failure of the run: the files are still written and the exit code stays the report's; nothing more is
    printed (no traceback)."""
    from preflight import reports

    verbose = display.verbose
    stdout_options = reports.RenderOptions(color=use_color(display.no_color), verbose=verbose)
    print_stdout(reports.get(fmt).render(report, stdout_options))
    for path, name in files:
        write_atomically(path, reports.get(name).render(report, reports.RenderOptions(verbose=verbose)))
    summary_file = environ.get("GITHUB_STEP_SUMMARY")
    if fmt == "github" and summary_file:
        # GitHub Actions shows this file's Markdown on the run page; other steps write to it too: append.
        _append(Path(summary_file), reports.get("md").render(report, reports.RenderOptions(verbose=verbose)))


def _append(path: Path, text: str) -> None:
    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise RenderError(f"could not append the summary to {str(path)!r}: {exc.strerror or exc}") from exc


def print_stdout(text: str) -> None:
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
