"""An app registration's secrets and certificates as Microsoft Graph returns them (never their values), and
which one this process signs in with. Pure apart from reading a certificate file's public part; used by the
``principal.credentials`` check.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

DAY = 86400


@dataclass(frozen=True, slots=True)
class Credential:
    """A secret or certificate of an app registration (never its value)."""

    kind: str  # "secret" | "certificate"
    key_id: str
    name: str
    end: float | None
    hint: str | None = None  # a secret's first three characters, as Graph shows them
    thumbprint: str | None = None  # a certificate's SHA-1 thumbprint (customKeyIdentifier)

    def days_left(self, now: float) -> float | None:
        return None if self.end is None else (self.end - now) / DAY

    def label(self) -> str:
        extra = f", hint '{self.hint}'" if self.hint else (f", thumbprint {self.thumbprint}" if self.thumbprint else "")
        return f"{self.kind} '{self.name or self.key_id}'{extra}"


def _time(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def credentials_of(app: Mapping[str, Any]) -> list[Credential]:
    """Secrets and certificates of an application object (Graph shape)."""
    out = [
        Credential(
            "secret",
            str(c.get("keyId") or ""),
            str(c.get("displayName") or ""),
            _time(c.get("endDateTime")),
            hint=c.get("hint"),
        )
        for c in app.get("passwordCredentials") or ()
        if isinstance(c, Mapping)
    ]
    out += [
        Credential(
            "certificate",
            str(c.get("keyId") or ""),
            str(c.get("displayName") or ""),
            _time(c.get("endDateTime")),
            thumbprint=str(c.get("customKeyIdentifier") or "") or None,
        )
        for c in app.get("keyCredentials") or ()
        if isinstance(c, Mapping)
    ]
    return out


def in_use(creds: Sequence[Credential], environ: Mapping[str, str], app_id: str | None) -> Credential | None:
    """The credential this process signs in with, when it can be told: a secret by its three-character hint
    (unique among the app's secrets), a certificate by its SHA-1 thumbprint. Nothing is printed or kept."""
    if not app_id or (environ.get("AZURE_CLIENT_ID") or "").lower() != app_id.lower():
        return None
    secret = environ.get("AZURE_CLIENT_SECRET")
    if secret:
        hits = [c for c in creds if c.kind == "secret" and c.hint and secret.startswith(c.hint)]
        return hits[0] if len(hits) == 1 else None
    path = environ.get("AZURE_CLIENT_CERTIFICATE_PATH")
    if path:
        thumb = _thumbprint(path)
        return next(
            (c for c in creds if c.kind == "certificate" and c.thumbprint and thumb and c.thumbprint.upper() == thumb),
            None,
        )
    return None


def _thumbprint(path: str) -> str | None:
    """SHA-1 thumbprint of the first certificate in a PEM file (the private key is never loaded)."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        with open(path, "rb") as handle:
            data = handle.read()
        start = data.find(b"-----BEGIN CERTIFICATE-----")
        if start < 0:
            return None
        return x509.load_pem_x509_certificate(data[start:]).fingerprint(hashes.SHA1()).hex().upper()
    except (OSError, ValueError, ImportError):
        return None


def describe(c: Credential, now: float) -> dict[str, Any]:
    """The credential as evidence: names, hint / thumbprint, expiry and days left (no value: Graph has none)."""
    left = c.days_left(now)
    return {
        "kind": c.kind,
        "name": c.name,
        "key_id": c.key_id,
        "hint": c.hint,
        "thumbprint": c.thumbprint,
        "expires": datetime.fromtimestamp(c.end, UTC).isoformat() if c.end else None,
        "days_left": None if left is None else round(left, 1),
    }
