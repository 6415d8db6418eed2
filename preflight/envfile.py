"""The variables an app loads from a ``.env`` file, read the way python-dotenv reads them — pure parsing plus
one bounded file read, no import of python-dotenv (not a dependency; a small tested parser is enough).

Why: the Azure OpenAI guides have the app call ``load_dotenv()``, so the endpoint, key and api-version the app
uses may live in ``.env`` rather than in the shell that runs preflight. ``load_dotenv()`` does not override
variables already set (``override=False``), so the app sees the process environment first, then the file.

The python-dotenv semantics followed (https://github.com/theskumar/python-dotenv#file-format):
``KEY=VALUE`` lines; an optional ``export `` prefix; ``#`` comments on their own line, or after an unquoted
value when preceded by whitespace; single-quoted values taken literally; double-quoted values with escapes
(``\\n``, ``\\"``, ``\\\\``) and possibly spanning lines; unquoted values stripped; ``${NAME}`` and
``${NAME:-default}`` expanded in unquoted and double-quoted values (from earlier lines of the file, then the
environment); a line without ``=`` is a key with no value (python-dotenv yields None; ``load_dotenv`` sets
nothing), and a line that does not parse is skipped, as python-dotenv does (it logs a warning).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from preflight.errors import ConfigError

ENV_FILE_MAX_BYTES = 1024 * 1024  # a .env is a few hundred bytes; a larger file is not one
DEFAULT_NAME = ".env"

_KEY = r"[A-Za-z_][A-Za-z0-9_.\-]*"
_LINE_START = re.compile(rf"[ \t]*(?:export[ \t]+)?(?P<key>{_KEY})[ \t]*(?P<eq>=)?[ \t]*")
_EXPAND = re.compile(r"\$\{(?P<name>[^}:]+)(?::-(?P<default>[^}]*))?\}")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'"}


@dataclass(frozen=True, slots=True)
class AppEnvironment:
    """What the app sees: the process environment overlaid on the file's values (``load_dotenv`` never
    overrides), where the file came from, which of its keys the process environment shadowed, and whether it
    was found implicitly (``.env`` in the working directory) — the report says so."""

    variables: Mapping[str, str]
    env_file: str | None = None
    implicit: bool = False
    from_file: tuple[str, ...] = ()  # keys the app takes from the file
    shadowed: tuple[str, ...] = field(default=())  # keys in the file that the process environment overrides
    deployment: str | None = None  # --deployment: the model deployment the app calls (app.deployment)

    def source(self, name: str) -> str:
        """Where the app's value of ``name`` comes from, in words for evidence."""
        if name in self.from_file:
            return f"{self.env_file}"
        return "environment"


def parse_dotenv(text: str, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ``KEY -> value`` pairs of a .env document, as ``dotenv_values`` (interpolating) returns them, less
    keys without a value. Pure: ``environ`` is what ``${NAME}`` falls back to."""
    values: dict[str, str] = {}
    position = 0
    text = text.removeprefix("\ufeff")
    while position < len(text):
        end = text.find("\n", position)
        line_end = len(text) if end < 0 else end
        line = text[position:line_end]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            position = line_end + 1
            continue
        match = _LINE_START.match(text, position, line_end)
        if match is None or match["eq"] is None:
            position = line_end + 1  # not KEY=…: skipped (python-dotenv warns and goes on)
            continue
        value, position, expand = _value(text, match.end())
        if value is not None:
            values[match["key"]] = _expand(value, values, environ or {}) if expand else value
    return values


def _value(text: str, start: int) -> tuple[str | None, int, bool]:
    """The value starting at ``start``, the position after its line, and whether ``${…}`` expands in it."""
    quote = text[start : start + 1]
    if quote in ("'", '"'):
        close = _closing_quote(text, start + 1, quote)
        if close < 0:
            end = text.find("\n", start)
            return None, len(text) if end < 0 else end + 1, False  # unterminated: the line is skipped
        raw = text[start + 1 : close]
        end = text.find("\n", close)
        after = len(text) if end < 0 else end + 1
        if quote == "'":
            return raw.replace("\\'", "'"), after, False
        return _unescape(raw), after, True
    end = text.find("\n", start)
    line_end = len(text) if end < 0 else end
    raw = text[start:line_end]
    comment = re.search(r"[ \t]#", raw)
    if comment:
        raw = raw[: comment.start()]
    return raw.strip(), line_end + 1, True


def _closing_quote(text: str, start: int, quote: str) -> int:
    """The index of the quote closing a value opened before ``start`` (a backslash escapes one), or -1."""
    index = start
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == quote:
            return index
        index += 1
    return -1


def _unescape(raw: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m[1], m[0]), raw)


def _expand(value: str, earlier: Mapping[str, str], environ: Mapping[str, str]) -> str:
    """``${NAME}`` / ``${NAME:-default}``: ``load_dotenv`` (override=False) looks in the environment first, then
    in the file's earlier values; the default only when the name is set nowhere (an empty value stays empty)."""

    def one(match: re.Match[str]) -> str:
        name = match["name"]
        found = environ.get(name)
        if found is None:
            found = earlier.get(name)
        return found if found is not None else (match["default"] or "")

    return _EXPAND.sub(one, value)


def read_env_file(path: str | Path, what: str = "--env-file") -> str:
    """The text of a regular file of at most :data:`ENV_FILE_MAX_BYTES`, or a ConfigError in one line (missing,
    a directory, a FIFO, too large, not UTF-8)."""
    from preflight.files import UnreadableFile, read_small_text

    try:
        return read_small_text(
            path, ENV_FILE_MAX_BYTES, too_large=f"larger than {ENV_FILE_MAX_BYTES} bytes, not a .env file"
        )
    except UnreadableFile as exc:
        raise ConfigError(f"{what} {str(path)!r}: {exc}") from exc


def app_environment(
    environ: Mapping[str, str], env_file: str | None, cwd: Path | None = None, *, deployment: str | None = None
) -> AppEnvironment:
    """The environment the app would see: ``env_file`` if given (a bad path is a ConfigError: exit 2), else
    ``.env`` in ``cwd`` when there is one, overlaid by ``environ`` (``load_dotenv`` does not override)."""
    implicit = False
    if env_file is None and cwd is not None:
        candidate = cwd / DEFAULT_NAME
        if candidate.is_file():
            env_file, implicit = str(candidate), True
    if env_file is None:
        return AppEnvironment(dict(environ), deployment=deployment or None)
    what = "the .env in the working directory (pass --env-file to choose another)" if implicit else "--env-file"
    values = parse_dotenv(read_env_file(env_file, what), environ)
    merged = {**values, **environ}
    return AppEnvironment(
        merged,
        env_file=env_file,
        implicit=implicit,
        from_file=tuple(k for k in values if k not in environ),
        shadowed=tuple(k for k in values if k in environ),
        deployment=deployment or None,
    )
