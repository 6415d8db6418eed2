"""What ``preflight explain`` answers, as frozen values: one :class:`Explanation` per error found in a paste.

The JSON keys are a contract (docs/explain.md): every key is always present, ``null`` when the text does not
say, so a script can read ``category`` / ``fix`` / ``verify`` without guarding each one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Source(StrEnum):
    """Which service produced the error — it decides which knowledge applies."""

    DATA_PLANE = "data_plane"  # the Azure OpenAI / AI Services endpoint (or an API Management gateway before it)
    ARM = "arm"  # Azure Resource Manager (management.azure.com)
    CREDENTIAL = "credential"  # azure-identity's text about one credential of a chain
    ENTRA = "entra"  # Microsoft Entra ID's token endpoint (AADSTS codes)


@dataclass(frozen=True, slots=True)
class Fragment:
    """One error as found in the pasted text, before any interpretation: ``code`` and ``message`` as the service
    wrote them, ``status`` when the rendering carries it, ``credential`` for an azure-identity chain entry."""

    message: str
    code: str | None = None
    status: int | None = None
    credential: str | None = None
    entra: bool = False  # a token-endpoint body (error / error_description / error_codes)
    position: int = 0  # where it starts in the paste (ties in ordering keep the paste's order)


@dataclass(frozen=True, slots=True)
class Explanation:
    """One error, explained. ``explained`` is False for ``unknown`` (exit 1): recognised, not understood."""

    category: str
    source: Source
    title: str
    cause: str
    fix: str
    verify: str  # the `preflight check --only …` command that shows the fix worked
    code: int | str | None = None  # an AADSTS number, or the service's error code as written
    status: int | None = None
    message: str = ""
    commands: tuple[str, ...] = ()
    docs: str | None = None
    credential: str | None = None
    action: str | None = None
    scope: str | None = None
    principal: str | None = None
    role: tuple[str, str] | None = None  # (role definition GUID, name) of the least-privilege built-in role
    expected_audience: str | None = None
    conditional_access: str | None = None
    variant: str | None = None  # which meaning of a several-meaning AADSTS code Entra's words chose
    rank: int = 50  # lower = more specific; orders several explanations (not part of the JSON)

    @property
    def explained(self) -> bool:
        return self.category != "unknown"

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract (docs/explain.md)."""
        return {
            "category": self.category,
            "source": self.source.value,
            "code": self.code,
            "status": self.status,
            "title": self.title,
            "message": self.message,
            "cause": self.cause,
            "fix": self.fix,
            "commands": list(self.commands),
            "verify": self.verify,
            "docs": self.docs,
            "credential": self.credential,
            "action": self.action,
            "scope": self.scope,
            "principal": self.principal,
            "role": {"id": self.role[0], "name": self.role[1]} if self.role else None,
            "expected_audience": self.expected_audience,
            "conditional_access": self.conditional_access,
            "variant": self.variant,
        }
