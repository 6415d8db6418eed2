"""Report renderers: one small module per format, each a pure ``render(report, options) -> str``.

The registry maps a format name to the module that implements it; modules are imported only when that format
is used, so a run that prints a table never imports jinja2.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Protocol

from preflight.errors import ConfigError
from preflight.model import Report


@dataclass(frozen=True, slots=True)
class RenderOptions:
    color: bool = False
    verbose: bool = False


class Renderer(Protocol):
    """What the CLI and tests use of a format: its name, media type and pure ``render``."""

    @property
    def name(self) -> str: ...

    @property
    def media_type(self) -> str: ...

    def render(self, report: Report, options: RenderOptions) -> str: ...


@dataclass(frozen=True, slots=True)
class ModuleRenderer:
    """A renderer module (``name``, ``media_type``, ``render``) as a typed value, checked when loaded: a module
    is not a class, so without this the registry could only cast it and mypy would see nothing."""

    name: str
    media_type: str
    function: Callable[[Report, RenderOptions], str]

    def render(self, report: Report, options: RenderOptions) -> str:
        return self.function(report, options)


@dataclass(frozen=True, slots=True)
class Format:
    """A registered format: its name, the module implementing it and the file extensions that select it."""

    name: str
    module: str
    extensions: tuple[str, ...]

    def load(self) -> Renderer:
        module = importlib.import_module(self.module)
        name, media_type, render = (getattr(module, attr, None) for attr in ("name", "media_type", "render"))
        if not (isinstance(name, str) and isinstance(media_type, str) and callable(render)):
            raise TypeError(f"{self.module} is not a renderer: it needs name, media_type and render()")
        return ModuleRenderer(name, media_type, render)


FORMATS: dict[str, Format] = {
    "table": Format("table", "preflight.reports.table", (".txt",)),
    "json": Format("json", "preflight.reports.json_report", (".json",)),
    "html": Format("html", "preflight.reports.html", (".html", ".htm")),
    "md": Format("md", "preflight.reports.markdown", (".md", ".markdown")),
    "junit": Format("junit", "preflight.reports.junit", (".xml", ".junit")),
    "sarif": Format("sarif", "preflight.reports.sarif", (".sarif", ".sarif.json")),
    "github": Format("github", "preflight.reports.github", ()),
    "csv": Format("csv", "preflight.reports.csv_report", (".csv",)),
}


def get(name: str) -> Renderer:
    try:
        return FORMATS[name].load()
    except KeyError:
        raise ConfigError(f"unknown format {name!r}; known formats: {', '.join(FORMATS)}") from None


def for_path(path: str, default: str | None = None) -> str:
    """The format a file name asks for, by extension; ``default`` when the extension is not registered."""
    name = PurePath(path).name.lower()
    # longest extension first, so report.sarif.json is SARIF, not JSON
    candidates = sorted(
        ((ext, fmt) for fmt in FORMATS.values() for ext in fmt.extensions), key=lambda item: len(item[0]), reverse=True
    )
    for ext, fmt in candidates:
        if name.endswith(ext):
            return fmt.name
    if default is not None:
        return default
    known = ", ".join(ext for f in FORMATS.values() for ext in f.extensions)
    raise ConfigError(
        f"cannot tell the report format of {path!r} from its extension (known: {known})",
        remediation="use a known extension or pass --format",
    )
