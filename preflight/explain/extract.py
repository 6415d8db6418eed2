"""Find the errors in whatever a user pasted — pure text handling, no interpretation.

Accepted renderings (examples in tests/test_explain_renderings.py, sources in docs/explain.md): a raw JSON body;
the openai SDK's ``Error code: 401 - {'error': {...}}`` (a Python dict repr, read with ``ast.literal_eval``, never
``eval``); azure-core's ``(Code) Message`` / ``Code: X`` / ``Message: Y`` block; azure-identity's "Attempted
credentials:" list, one entry per credential; Entra text with AADSTS codes and Trace / Correlation ID lines; and
any of these inside a full traceback. Each error becomes a :class:`Fragment`; text already read as part of one is
not read again, so a body quoted inside a chain entry is not reported twice.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from preflight.aadsts import parse_aadsts_codes
from preflight.chain import ALL_LINKS
from preflight.explain.model import Fragment
from preflight.quoting import Quotes

_MAX_LITERAL = 20_000  # a dict repr longer than this is not an error body: never hand it to the parser
_MAX_BODIES = 200  # brace positions tried per paste: a pathological paste ("{'{'{'…") stays linear
_BODY_START = re.compile(r"\{\s*[\"']")  # where a JSON object or a dict repr with string keys starts
_CREDENTIAL_NAMES = "|".join(link.name for link in ALL_LINKS)
# "\tAzureCliCredential: message" (Python), "- ManagedIdentityCredential: message" (other SDKs' bullets)
_CREDENTIAL_LINE = re.compile(rf"^[ \t]*(?:- )?({_CREDENTIAL_NAMES}):[ \t]*(.*)$", re.MULTILINE)
# where a chain entry ends: the next entry, the chain's closing advice, a blank line or a traceback line
_ENTRY_END = re.compile(
    rf"^[ \t]*(?:- )?(?:{_CREDENTIAL_NAMES}):|^To mitigate|^\s*$|^Traceback|^\S+Error\b", re.MULTILINE
)
# "Error code: 401 - {" (openai), "Status: 401 (PermissionDenied)" (.NET), "status_code=403", "HTTP/1.1 403"
_STATUS = re.compile(r"(?:Error code|Status(?: ?code)?|status_code|HTTP(?:/\d\.\d)?)[:= ]+\s*(\d{3})\b", re.IGNORECASE)
_CORE_BLOCK = re.compile(r"^[ \t]*Code: ?(\w+)[ \t]*\r?\n[ \t]*Message: ?(.+)$", re.MULTILINE)
# the head starts the exception's text: at a line start or after "…Error: " (never "the authority (URL) '…'")
_CORE_HEAD = re.compile(r"(?:^[ \t]*|(?<=: ))\((?P<code>[A-Z][A-Za-z]+|\d{3})\) (?P<message>[^\n]+)", re.MULTILINE)
_AADSTS = re.compile(r"AADSTS\d{4,8}", re.IGNORECASE)


def fragments(text: str) -> list[Fragment]:
    """Every error in ``text`` (already redacted), in the order they appear."""
    taken: list[tuple[int, int]] = []
    found: list[Fragment] = []
    found += _chain_entries(text, taken)
    found += _bodies(text, taken)
    found += _core_blocks(text, taken)
    found += _entra(text, taken)
    if not found and text.strip():
        found.append(Fragment(" ".join(text.split())[:2000], code=None, status=_status_in(text)))
    return sorted(found, key=lambda f: f.position)


def _free(taken: list[tuple[int, int]], start: int, end: int) -> bool:
    return all(end <= a or start >= b for a, b in taken)


def _chain_entries(text: str, taken: list[tuple[int, int]]) -> Iterator[Fragment]:
    for match in _CREDENTIAL_LINE.finditer(text):
        start, end = match.start(), match.end()
        following = _ENTRY_END.search(text, end + 1) if end < len(text) else None
        stop = following.start() if following else len(text)
        message = " ".join(text[match.start(2) : stop].split())
        taken.append((start, stop))
        yield Fragment(message, credential=match.group(1), position=start)


def _balanced(text: str, start: int) -> int | None:
    """The index after the brace closing the one at ``start`` (quotes respected), or None."""
    depth, quotes = 0, Quotes()
    for index in range(start, min(len(text), start + _MAX_LITERAL)):
        char = text[index]
        if not quotes.code(char):
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index + 1
    return None


def _parse(candidate: str) -> Any:
    try:
        return json.loads(candidate)
    except RecursionError:  # nested past the interpreter's limit: no error body, and no crash (issue 17 item 6)
        return None
    except ValueError:
        pass
    try:  # a Python repr (the openai SDK prints the body dict): literals only, never code
        return ast.literal_eval(candidate)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None


def _status_in(text: str) -> int | None:
    """The last HTTP status the text states (the one nearest to what follows it)."""
    found = _STATUS.findall(text)
    return int(found[-1]) if found else None


def _bodies(text: str, taken: list[tuple[int, int]]) -> Iterator[Fragment]:
    start = _BODY_START.search(text)
    for _ in range(_MAX_BODIES):
        if start is None:
            return
        index = start.start()
        end = _balanced(text, index)
        body = _parse(text[index:end]) if end is not None and _free(taken, index, end) else None
        if isinstance(body, Mapping) and end is not None:
            # the status stated just before the body, never one belonging to an error read before it
            floor = max([0, index - 200, *(stop for _, stop in taken if stop <= index)])
            errors = list(_body_errors(body, _status_in(text[floor:index]), index))
            if errors:
                taken.append((index, end))
                yield from errors
                start = _BODY_START.search(text, end)
                continue
        start = _BODY_START.search(text, index + 1)


def _body_errors(body: Mapping[str, Any], status: int | None, position: int) -> Iterator[Fragment]:
    """The errors of one parsed body: ARM / data-plane ``{"error": {code, message, details}}``, Entra's
    ``{"error": "invalid_grant", "error_description": ...}`` and API Management's ``{"statusCode", "message"}``."""
    raw_status = body.get("status") if isinstance(body.get("status"), int) else body.get("statusCode")
    if isinstance(raw_status, int) and status is None:
        status = raw_status
    error = body.get("error")
    if isinstance(error, str) and ("error_description" in body or "error_codes" in body):
        yield Fragment(
            str(body.get("error_description") or error), code=error, status=status, entra=True, position=position
        )
        return
    inner = error if isinstance(error, Mapping) else body
    code, message = inner.get("code"), inner.get("message")
    if message is None and code is None:
        return
    details = inner.get("details")
    specific = [d for d in details if isinstance(d, Mapping) and d.get("message")] if isinstance(details, list) else []
    for detail in specific:  # ARM's DeploymentFailed wraps the real refusals in details
        yield Fragment(
            str(detail.get("message")), code=str(detail.get("code") or "") or None, status=status, position=position
        )
    if not specific or str(code) not in ("DeploymentFailed", "InvalidTemplateDeployment"):
        yield Fragment(
            str(message or ""), code=str(code) if code is not None else None, status=status, position=position
        )


def _core_blocks(text: str, taken: list[tuple[int, int]]) -> Iterator[Fragment]:
    """azure-core's ``(Code) Message`` head and the ``Code:`` / ``Message:`` lines that repeat it right below: one
    error (the lines are read only when no head precedes them)."""
    heads: dict[int, str] = {}  # where a head ends → its code
    for match in _CORE_HEAD.finditer(text):
        if _free(taken, match.start(), match.end()):
            taken.append((match.start(), match.end()))
            heads[match.end()] = match.group("code")
            yield Fragment(
                match.group("message").strip(),
                code=match.group("code"),
                status=_status_in(text),
                position=match.start(),
            )
    for match in _CORE_BLOCK.finditer(text):
        repeated = any(code == match.group(1) and 0 <= match.start() - end <= 2 for end, code in heads.items())
        if _free(taken, match.start(), match.end()) and not repeated:
            taken.append((match.start(), match.end()))
            yield Fragment(match.group(2).strip(), code=match.group(1), status=_status_in(text), position=match.start())


def _entra(text: str, taken: list[tuple[int, int]]) -> Iterator[Fragment]:
    """AADSTS codes outside everything read so far: one Entra error (its most specific code decides)."""
    free = [m for m in _AADSTS.finditer(text) if _free(taken, m.start(), m.end())]
    if not free:
        if parse_aadsts_codes(text.strip()) and not taken:  # just "50076", as typed
            yield Fragment(text.strip(), entra=True)
        return
    start = free[0].start()
    yield Fragment(" ".join(text[start:].split())[:2000], entra=True, position=start)
