"""One redaction function applied on the way into results, so renderers never see a secret.

Checks already avoid putting secrets into evidence; this is the safety net for what they cannot control
(an SDK error message that echoes a request, a value a user pasted into the wrong variable).
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import quote, quote_plus

from preflight.guid import GUID
from preflight.model import Evidence, Remediation, Result

# Environment variables whose values are secrets and must never be shown.
SECRET_ENV_VARS = frozenset(
    {
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PASSWORD",
        "AZURE_PASSWORD",
        "IDENTITY_HEADER",
        "MSI_SECRET",
        "AZURE_OPENAI_API_KEY",
        "AZURE_OPENAI_AD_TOKEN",
        "OPENAI_API_KEY",
        "AZURE_AI_API_KEY",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "SYSTEM_ACCESSTOKEN",
        "AZURE_KUBERNETES_CA_DATA",
    }
)

# Variables that hold ids, never secrets — but a secret pasted into one (AZURE_CLIENT_ID and AZURE_CLIENT_SECRET
# swapped) would be echoed everywhere: by env.config, and by Entra itself (AADSTS700016 "Application with
# identifier '<the secret>' was not found"). Their values are masked when they look like a secret.
ID_ENV_VARS = ("AZURE_CLIENT_ID", "AZURE_TENANT_ID")

MASK = "***"
# An Entra client secret as the portal creates it: 3 characters, a digit, "Q~", then ~34 more.
_ENTRA_SECRET = re.compile(r"^[A-Za-z0-9_.~-]{3}[0-9]Q~[A-Za-z0-9_.~-]{30,}$")
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_PEM_PRIVATE = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL)
# Query parameters and form fields that carry credentials in URLs or echoed request bodies.
_CREDENTIAL_PARAM = re.compile(
    r"(?i)\b(client_secret|client_assertion|access_token|refresh_token|id_token|password|sig)=([^&\s\"']+)"
)
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words
# Files whose content is a secret: a federated assertion is a few KB, a PEM with its chain a few tens of KB. The
# caps only bound what redaction reads (a path to /dev/zero or a huge file must not stall every run).
_FEDERATED_TOKEN_MAX_BYTES = 64 * 1024
_CERTIFICATE_MAX_BYTES = 1024 * 1024
_PERCENT_ESCAPE = re.compile(r"%[0-9A-F]{2}")


def secret_forms(value: str) -> set[str]:
    """Every form in which ``value`` may reach an output (issue 17): as set, trimmed (a value read from a file
    or a Kubernetes secret ends in a newline that a quote of it drops) and with its whitespace collapsed (as a
    one-line message shows it), each also URL-encoded (``quote``/``quote_plus``, upper and lower case hex, as
    a request URL or form body echoed in an error carries it) and JSON-escaped (with ``/`` escaped or not, as
    a response body quoted raw carries it). Forms shorter than a plausible secret are left out."""
    bases = {value, value.strip(), " ".join(value.split())}
    forms: set[str] = set()
    for base in bases:
        escaped = json.dumps(base)[1:-1]
        encoded = {quote(base, safe=""), quote_plus(base, safe="")}
        encoded |= {_PERCENT_ESCAPE.sub(lambda m: m.group(0).lower(), e) for e in encoded}
        forms |= {base, escaped, escaped.replace("/", "\\/"), json.dumps(base, ensure_ascii=False)[1:-1], *encoded}
    return {form for form in forms if len(form.strip()) >= _MIN_SECRET_LENGTH}


def _read_small_file(path: str, limit: int) -> str | None:
    """The text of a regular file of at most ``limit`` bytes; None for anything else — missing, unreadable,
    too big, a FIFO or a device (opening a FIFO would block the run) — since redaction must never fail a run
    or stall it. The check that reads the file reports what is wrong with it."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except (OSError, ValueError):  # ValueError: a path with a NUL character
        return None
    return data.decode("utf-8", errors="replace") if len(data) <= limit else None


def _private_key_parts(pem: str) -> Iterator[str]:
    """Each private key block of a PEM, its base64 body on one line, and each line of that body: a leak of a
    key is as likely to be its body re-wrapped (or one line of it) as the whole block."""
    for block in _PEM_PRIVATE.findall(pem):
        lines = [line.strip() for line in block.splitlines()[1:-1] if line.strip() and ":" not in line]
        yield block
        yield "".join(lines)
        yield from lines


def _file_secrets(environ: Mapping[str, str]) -> Iterator[str]:
    """Secrets held in files the environment names: the federated assertion (an opaque one is not caught by the
    JWT pattern) and the private keys of the client certificate's PEM."""
    token_file = environ.get("AZURE_FEDERATED_TOKEN_FILE")
    if token_file:
        assertion = _read_small_file(token_file, _FEDERATED_TOKEN_MAX_BYTES)
        if assertion:
            yield assertion
    certificate = environ.get("AZURE_CLIENT_CERTIFICATE_PATH")
    if certificate:
        yield from _private_key_parts(_read_small_file(certificate, _CERTIFICATE_MAX_BYTES) or "")


def looks_like_secret(value: str) -> bool:
    """Whether a value in an id variable looks like a client secret rather than a GUID or a domain name: the
    Entra secret shape, or 30+ characters without spaces mixing three of lower case, upper case, digits and
    symbols (legacy base64 secrets). E-mail addresses and URLs never count."""
    text = value.strip()
    if not text or GUID.match(text) or any(c.isspace() for c in text) or "@" in text or "://" in text:
        return False
    if _ENTRA_SECRET.match(text):
        return True
    classes = (
        any(c.islower() for c in text),
        any(c.isupper() for c in text),
        any(c.isdigit() for c in text),
        any(not c.isalnum() for c in text),
    )
    return len(text) >= 30 and sum(classes) >= 3


def describe_secret(value: str | None) -> str:
    """How a secret is shown in evidence: that it is set and how long, never any of its characters."""
    if value is None:
        return "not set"
    if value == "":
        return "set but empty"
    return f"set ({len(value)} characters, hidden)"


class Redactor:
    """Removes known secret values (in every form :func:`secret_forms` lists), JWTs, private keys and
    credential-bearing parameters from text.

    The known values are one precompiled alternation, longest first (a secret containing another is masked
    whole): redaction runs on every string of every result and log record, so it is one regex scan."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms = {form for secret in secrets if secret for form in secret_forms(secret)}
        ordered = sorted(forms, key=lambda form: (-len(form), form))
        self._known = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Redactor:
        """The redactor for a run in ``environ``: its secret variables, an id variable holding a secret, the
        federated token file's content and the client certificate's private keys (files read safely, see
        :func:`_read_small_file`)."""
        found = [environ[name] for name in SECRET_ENV_VARS if environ.get(name)]
        found += [environ[name] for name in ID_ENV_VARS if looks_like_secret(environ.get(name) or "")]
        found += _file_secrets(environ)
        return cls(found)

    def text(self, value: str) -> str:
        """``value`` with every secret masked."""
        if self._known is not None:
            value = self._known.sub(MASK, value)
        value = _PEM_PRIVATE.sub("[private key removed]", value)
        value = _JWT.sub("[token removed]", value)
        return _CREDENTIAL_PARAM.sub(lambda m: f"{m.group(1)}={MASK}", value)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value

    def result(self, result: Result) -> Result:
        remediation = result.remediation
        if remediation is not None:
            remediation = Remediation(self.text(remediation.text), tuple(self.text(c) for c in remediation.commands))
        return replace(
            result,
            summary=self.text(result.summary),
            subject=self.text(result.subject) if result.subject else result.subject,
            evidence=tuple(Evidence(e.name, self.value(e.value)) for e in result.evidence),
            remediation=remediation,
        )


# What a *pasted* error may carry besides what Redactor knows (``preflight explain``): an API key in a header or
# a dict repr, a bearer token, a bare Azure AI key (32 hex digits, or the 84-character form), an Entra client
# secret anywhere in the text. Known names keep their name so the reader still sees what was there.
_NAMED_SECRET = re.compile(
    r"(?i)\b(api[-_]?key|ocp-apim-subscription-key|x-api-key|subscription[-_]key|authorization|client_secret"
    r"|client_assertion|password|access_token|refresh_token)(['\"]?\s*[:=]\s*['\"]?)(?:bearer\s+)?"
    r"([^\s'\",}&]{4,})"
)
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}")
_AZURE_KEY = re.compile(r"\b(?:[0-9a-fA-F]{32}|[A-Za-z0-9]{84})\b")
_ENTRA_SECRET_IN_TEXT = re.compile(r"(?<![A-Za-z0-9_.~-])[A-Za-z0-9_.~-]{3}[0-9]Q~[A-Za-z0-9_.~-]{30,}")


def mask_pasted(text: str) -> str:
    """A text a user pasted, with every secret it may hold masked: what :class:`Redactor` removes (JWTs, private
    keys, credential parameters) plus named keys and secrets, bearer tokens and bare Azure AI keys. Applied to
    the input of ``preflight explain`` before anything reads it, so no output can quote a secret."""
    text = Redactor().text(text)
    text = _NAMED_SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _BEARER.sub(f"Bearer {MASK}", text)
    text = _ENTRA_SECRET_IN_TEXT.sub(MASK, text)
    return _AZURE_KEY.sub(MASK, text)


class RedactingFilter(logging.Filter):
    """Masks secrets in every log record a handler writes. With ``--debug`` the SDKs log what Entra answered and
    the URLs they called — an AADSTS700016 message quotes the client id, which is a secret when AZURE_CLIENT_ID
    and AZURE_CLIENT_SECRET were swapped — so the ``--debug`` output goes through the same Redactor as the
    reports (``-v`` shows evidence, which the reports' redaction already covers, and no logs)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        record.msg, record.args = self.redactor.text(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.text(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor.text(record.stack_info)
        return True


def install_log_redaction(environ: Mapping[str, str]) -> None:
    """Put a :class:`RedactingFilter` for ``environ``'s secrets on every handler of the root logger; a handler
    that has one already gets ``environ``'s secrets instead (one filter per handler, however often called)."""
    redactor = Redactor.from_environ(environ)
    for handler in logging.getLogger().handlers:
        existing = [f for f in handler.filters if isinstance(f, RedactingFilter)]
        if existing:
            existing[0].redactor = redactor
        else:
            handler.addFilter(RedactingFilter(redactor))
