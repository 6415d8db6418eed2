"""Secret-hygiene search (issue 10): find a canary secret, any sizeable piece of one, or anything shaped like a
JWT in a set of outputs (reports, logs, the twin's request log).

A leak is rarely the whole secret verbatim: a renderer may cut a long cell, an error may quote the middle of a
request body, HTML or URL encoding may change a character or two. So a canary is searched as every window of
``window`` characters (longer than what a masked display may show: ``abc…xyz`` is 3 + 3), in the raw text and in
its HTML-unescaped and percent-decoded forms. Pure functions: the test module feeds them files and streams.
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote

# Longer than the 6 characters a mask like "abc…xyz (40 chars)" may show, short enough to catch a cut-off leak.
SECRET_WINDOW = 7
# Tokens, keys and assertions: only their random parts are windowed (a JWT's header and the start of its claims
# are the same for every token, and are not secret).
RANDOM_WINDOW = 12

# Three dot-separated base64url runs (JWS compact form); the first must decode to a JSON object to count, so a
# dotted module path or host name is never mistaken for a token. Padding and standard-alphabet chars are accepted.
_JWT_CANDIDATE = re.compile(r"[A-Za-z0-9_\-+/=]{8,}\.[A-Za-z0-9_\-+/=]{8,}\.[A-Za-z0-9_\-+/=]{8,}")
_JWT_EYJ = re.compile(r"eyJ[A-Za-z0-9_\-+/=]*\.[A-Za-z0-9_\-+/=]*eyJ|eyJ[A-Za-z0-9_\-+/=]{10,}\.[A-Za-z0-9_\-+/=]{10,}")


# Characters a canary's searched part is made of (client secrets, base64url tokens, base64 key bodies).
_ALPHABET = r"A-Za-z0-9~_\-+/"


@dataclass(frozen=True, slots=True)
class Canary:
    """A secret value planted in (or issued during) a run. ``part`` is what is searched: every ``window``-long
    substring of it, at every offset, is a leak wherever it appears."""

    name: str
    value: str
    part: str
    window: int

    def grams(self) -> set[str]:
        if len(self.part) <= self.window:
            return {self.part}
        return {self.part[i : i + self.window] for i in range(len(self.part) - self.window + 1)}


def secret_canary(name: str, index: int = 0) -> str:
    """A 40-character value shaped like an Entra client secret (``xyz8Q~…``), unique per call. Only letters,
    digits, ``~``, ``_`` and ``-``: characters no HTML/JSON/XML/CSV escaping changes, so a leak cannot hide."""
    body = secrets.token_urlsafe(40).replace("-", "x").replace("_", "y")
    return f"Cn{index}8Q~{body}"[:40]


def encoded_canary(index: int = 0) -> str:
    """A 40-character legacy-style secret holding characters URL encoding and JSON escaping change (``+``, ``/``,
    ``=``, ``"``, ``\\``): masked only if the redactor also knows its encoded forms. Still 30+ characters of
    three classes, so it counts as a secret in AZURE_CLIENT_ID too."""
    body = secret_canary("encoded", index)
    return f'{body[:12]}+{body[12:20]}/{body[20:28]}"{body[28:34]}\\{body[34:38]}=='


def opaque_canary() -> str:
    """An opaque (non-JWT) federated assertion, as a token file may hold one: no dots, nothing JWT-shaped, so
    only redaction by value can catch it."""
    return "opq" + secrets.token_urlsafe(45).replace("-", "x").replace("_", "y")[:57]


def for_secret(name: str, value: str) -> Canary:
    """A client secret, an identity header …: any 7 consecutive characters of it."""
    return Canary(name, value, value, SECRET_WINDOW)


def for_token(name: str, token: str) -> Canary:
    """An issued JWT or opaque token: any 12 consecutive characters of its random part (a JWT's signature, an
    opaque refresh token's body). The rest of a JWT is caught by :func:`jwt_shaped`."""
    random_part = token.rsplit(".", 1)[-1] if token.count(".") == 2 else token.split(".", 1)[-1]
    return Canary(name, token, random_part, RANDOM_WINDOW)


def for_private_key(name: str, pem: str) -> Canary:
    """A PEM private key: any 12 consecutive characters of its base64 body, minus the first line (the DER
    header every RSA key shares)."""
    match = re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----(.*?)-----END [A-Z ]*PRIVATE KEY-----", pem, re.DOTALL)
    if match is None:
        raise ValueError(f"{name}: no private key in the PEM")
    lines = [line.strip() for line in match.group(1).strip().splitlines() if line.strip()]
    return Canary(name, "".join(lines[1:]), "".join(lines[1:]), RANDOM_WINDOW)


def variants(text: str) -> tuple[str, ...]:
    """The text as written, and HTML-unescaped then percent-decoded (a leak may sit behind either encoding)."""
    decoded = unquote(html.unescape(text))
    return (text,) if decoded == text else (text, decoded)


def find_leaks(corpus: Mapping[str, str], canaries: Iterable[Canary]) -> list[str]:
    """One line per (output, canary) where a piece of the canary appears; empty when clean.

    An index of every window of every canary, then one pass over the runs of canary characters in each text:
    linear in the corpus, where searching each piece separately is corpus × pieces (minutes for a sweep)."""
    index: dict[int, dict[str, str]] = {}
    for canary in canaries:
        grams = index.setdefault(canary.window, {})
        for gram in canary.grams():
            grams.setdefault(gram, canary.name)
    runs = {size: re.compile(f"[{_ALPHABET}]{{{size},}}") for size in index}
    leaks: dict[tuple[str, str], str] = {}
    seen: dict[str, list[tuple[str, str]]] = {}  # identical texts (terse and verbose HTML …) searched once
    for where, text in corpus.items():
        if text not in seen:
            hits = []
            for variant in variants(text):
                for size, grams in index.items():
                    for run in runs[size].finditer(variant):
                        chunk = run.group(0)
                        for i in range(len(chunk) - size + 1):
                            name = grams.get(chunk[i : i + size])
                            if name is not None:
                                hits.append((name, chunk[i : i + size]))
            seen[text] = hits
        for name, gram in seen[text]:
            leaks.setdefault((where, name), f"{name} in {where}: …{gram}…")
    return list(leaks.values())


def _decodes_to_json_object(segment: str) -> bool:
    cleaned = segment.rstrip("=").replace("+", "-").replace("/", "_")
    try:
        data = base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (ValueError, TypeError):
        return False
    return data.lstrip()[:1] == b"{" and _is_json(data)


def _is_json(data: bytes) -> bool:
    try:
        return isinstance(json.loads(data), dict)
    except ValueError:
        # a cut-off token: the header still starts a JSON object with a quoted key
        return data.lstrip().startswith(b'{"')


def jwt_shaped(text: str) -> list[str]:
    """Every run of ``text`` shaped like a JWT: three base64url segments whose first decodes to a JSON object,
    or anything starting ``eyJ`` (base64 of ``{"``) followed by another segment."""
    found = [m.group(0) for m in _JWT_CANDIDATE.finditer(text) if _decodes_to_json_object(m.group(0).split(".")[0])]
    found += [m.group(0) for m in _JWT_EYJ.finditer(text)]
    return list(dict.fromkeys(found))
