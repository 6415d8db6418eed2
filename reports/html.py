"""The HTML report: one self-contained file a person opens from a CI artefact or an e-mail.

Everything is inline (CSS, JS, no fonts or images), so opening it makes no request at all; a Content Security
Policy with the SHA-256 of the one inline script and style enforces that, and also keeps any markup that
slipped into the data from running. Every value that came from Azure (display names, descriptions, error
messages) goes through jinja2's autoescaping. ``autoescape=True`` on purpose: ``select_autoescape()`` decides
by file extension and does not escape a template named ``report.html.j2``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
from typing import Any
from urllib.parse import urlsplit

from preflight.model import Report, Result, Status
from preflight.reports import RenderOptions
from preflight.reports.causes import Cause, attention_first, group, key, label
from preflight.reports.first_screen import first_screen

name = "html"
media_type = "text/html"

TEMPLATE = "report.html.j2"
# Display order of the status filters and summary cards: what needs attention first.
STATUS_ORDER = (Status.FAIL, Status.ERROR, Status.WARN, Status.SKIP, Status.PASS)
STATUS_LABELS = {
    Status.FAIL: "Fail",
    Status.ERROR: "Error",
    Status.WARN: "Warn",
    Status.SKIP: "Skip",
    Status.PASS: "Pass",
}
VERDICTS = {
    Status.PASS: "Every check passed.",
    Status.SKIP: "Nothing failed, but some checks were skipped.",
    Status.WARN: "No failures; some warnings deserve a look.",
    Status.FAIL: "Access is not verified: at least one check failed.",
    Status.ERROR: "Access is not verified: at least one check could not run.",
}


@functools.lru_cache(maxsize=1)
def _environment() -> Any:
    """One environment per process: the template is compiled once (rendering stays pure).

    jinja2 is imported here, not at module scope: `preflight --help` and table runs never pay for it."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    env = Environment(
        loader=PackageLoader("preflight.reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_visible_controls,
    )
    env.filters["pretty"] = _pretty
    env.filters["safe_url"] = _safe_url
    return env


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _visible_controls(value: Any) -> Any:
    """Every ``{{ … }}`` output: control characters from the data (NUL, ESC, BEL …, which HTML would drop or show
    as boxes) become visible ``\\xNN`` escapes. Our own inline CSS/JS (Markup) pass unchanged: they are hashed."""
    from markupsafe import Markup

    if isinstance(value, str) and not isinstance(value, Markup):
        return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    return value


def _pretty(value: Any) -> str:
    """Evidence values as people read them: strings verbatim, everything else as indented JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=False)


def _safe_url(url: str) -> str | None:
    """Only http(s) links become anchors; anything else (``javascript:`` from a plug-in …) stays text."""
    return url if urlsplit(url).scheme in ("http", "https") else None


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _source(env: Any, template: str) -> str:
    source: str = env.loader.get_source(env, template)[0]
    return source


def _row(result: Result, index: int, cause: Cause | None, said: dict[str, str]) -> dict[str, Any]:
    """One result's row. A result another one explains (``cause``: its lead) shows no fix of its own: it points
    at the lead, whose fix is told once; a summary already shown (three token scopes refused for one reason)
    says whose it is instead of repeating it. A lead's details start open when its cause fails."""
    member = cause is not None and cause.lead is not result
    details = bool(result.evidence or result.remediation or result.docs or result.caused_by or member)
    text = " ".join(result.summary.split())
    summary = f"same as {said[text]}" if text in said and result.status is not Status.PASS else result.summary
    said.setdefault(text, label(result))
    return {
        "r": result,
        "id": f"r{index}",  # the result's place in the report (stable, whatever the display order)
        "details": details,
        "open": (cause.status if cause else result.status) in (Status.FAIL, Status.ERROR) and not member,
        "cause": key(cause.lead) if member and cause else None,
        "fix": None if member else (cause.remedy if cause is not None else result.remediation),
        "summary": summary,
    }


def _rows(report: Report) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows that need a look — by cause, failures first, each cause's lead before what it explains — and
    the passes (shown collapsed)."""
    index = {id(r): i for i, r in enumerate(report.results)}
    attention: list[dict[str, Any]] = []
    passes: list[dict[str, Any]] = []
    said: dict[str, str] = {}
    for cause in attention_first(group(report.results)):
        shared = cause if len(cause.results) > 1 else None
        for result in (cause.lead, *cause.others):
            row = _row(result, index[id(result)], shared, said)
            (passes if cause.status is Status.PASS else attention).append(row)
    return attention, passes


def render(report: Report, options: RenderOptions) -> str:
    from markupsafe import Markup

    env = _environment()
    css = _source(env, "report.css")
    js = _source(env, "report.js")
    # The script must never contain "</script" (it would end the element early); ours doesn't, and a test
    # keeps it that way. Markup: these are our own files, inserted verbatim.
    policy = (
        f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(js)}; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    counts = report.counts()
    worst = report.worst()
    target = [
        (key, value if isinstance(value, str) else _pretty(value))
        for key, value in report.target.items()
        if value not in (None, "", [], ())
    ]
    from preflight.reports.tables import HTML_MAX_ROWS, views

    attention, passes = _rows(report)
    return str(
        env.get_template(TEMPLATE).render(
            report=report,
            rows=attention,
            passes=passes,
            screen=first_screen(report),
            counts=counts,
            total=len(report.results),
            statuses=[(s.value, STATUS_LABELS[s]) for s in STATUS_ORDER],
            worst=worst.value,
            verdict=VERDICTS[worst],
            target=target,
            tables=views(report.tables, HTML_MAX_ROWS),
            css=Markup(css),
            js=Markup(js),
            csp=policy,
            verbose=options.verbose,
        )
    )
