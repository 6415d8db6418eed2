"""One redaction function applied on the way into results, so renderers never see a secret.

Checks already avoid putting secrets into evidence; this is the safety net for what they cannot control
(an SDK error message that echoes a request, a value a user pasted into the wrong variable).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

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
        "AZURE_AI_API_KEY",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
        "SYSTEM_ACCESSTOKEN",
        "AZURE_KUBERNETES_CA_DATA",
    }
)

MASK = "***"
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_PEM_PRIVATE = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL)
# Query parameters and form fields that carry credentials in URLs or echoed request bodies.
_CREDENTIAL_PARAM = re.compile(
    r"(?i)\b(client_secret|client_assertion|access_token|refresh_token|id_token|password|sig)=([^&\s\"']+)"
)
_MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words


def describe_secret(value: str | None) -> str:
    """How a secret is shown in evidence: that it is set and how long, never any of its characters."""
    if value is None:
        return "not set"
    if value == "":
        return "set but empty"
    return f"set ({len(value)} characters, hidden)"


class Redactor:
    """Removes known secret values, JWTs, private keys and credential-bearing parameters from text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first so a secret containing another is masked whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH}, key=len, reverse=True)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Redactor:
        return cls(environ[name] for name in SECRET_ENV_VARS if environ.get(name))

    def text(self, value: str) -> str:
        for secret in self._secrets:
            if secret in value:
                value = value.replace(secret, MASK)
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
