"""Entra's answers and azure-identity's chain entries: an AADSTS code goes to :mod:`preflight.aadsts`; a chain
entry without one is read as signin.chain reads its probes — *unavailable* (the chain moved on) or *failed* (it
stopped there) — with signin.chain's own fix for an unavailable link (:func:`preflight.chain.link_fix`)."""

from __future__ import annotations

import re

from preflight.aadsts import AadstsInfo, classify_error, format_fix
from preflight.chain import LINKS_BY_KEY, link_fix
from preflight.explain.advice import VERIFY
from preflight.explain.model import Explanation, Fragment, Source


def _from_aadsts(info: AadstsInfo, fragment: Fragment, source: Source) -> Explanation:
    info = format_fix(info)
    category = info.category.value
    return Explanation(
        category,
        source,
        f"AADSTS{info.code}: {info.title}",
        info.cause,
        info.fix,
        VERIFY["conditional_access" if info.ca_policy else "entra"],
        code=info.code,
        status=fragment.status,
        message=fragment.message[:600],
        docs=info.docs,
        credential=fragment.credential,
        conditional_access=info.ca_policy,
        variant=info.variant,
        rank=10 if info.known else 45,
    )


def read_aadsts(fragment: Fragment, source: Source) -> Explanation | None:
    """The fragment through the AADSTS knowledge base (its most specific code), or None without a code."""
    info = classify_error(fragment.message) or (classify_error(fragment.code) if fragment.code else None)
    return _from_aadsts(info, fragment, source) if info is not None else None


# azure-identity's wording for "not configured here" (CredentialUnavailableError); DefaultAzureCredential also
# reports a developer tool's failure this way, so any of these means the chain moved on.
_UNAVAILABLE = re.compile(
    r"unavailable|not installed|not found on path|could not be found|not fully configured"
    r"|no accounts were found|please run '?az login|run 'azd auth login'|not logged in"
    r"|failed to invoke the azure cli|connect-azaccount|no response from the imds"
    r"|extension not found|not signed in",
    re.IGNORECASE,
)


def read_credential(fragment: Fragment) -> Explanation:
    """One chain entry, read as signin.chain reads a probe: an AADSTS refusal is classified by its code; else
    unavailable (the chain moved on: how to make it available) or failed (the chain stopped here)."""
    name = fragment.credential or ""
    key = next((k for k, link in LINKS_BY_KEY.items() if link.name == name), "")
    if (info := read_aadsts(fragment, Source.CREDENTIAL)) is not None:
        return info
    if _UNAVAILABLE.search(fragment.message):
        fix = link_fix(key, {}, None) or f"configure {name}, or exclude it from the chain"
        return Explanation(
            "credential_unavailable",
            Source.CREDENTIAL,
            f"{name} is unavailable",
            f"{name} is not configured here; DefaultAzureCredential skipped it and tried the next credential.",
            fix,
            VERIFY["credential_unavailable"],
            message=fragment.message[:600],
            commands=(fix,) if fix in ("az login", "azd auth login", "Connect-AzAccount") else (),
            credential=name,
            rank=40,
        )
    return Explanation(
        "credential_failed",
        Source.CREDENTIAL,
        f"{name} tried and failed",
        f"{name} is configured but could not get a token; DefaultAzureCredential stops at the first "
        "credential that fails, so the ones after it were never tried.",
        f"fix or remove the {name} configuration (its own message says what it hit), or set "
        f"AZURE_TOKEN_CREDENTIALS to the credential you mean",
        VERIFY["credential_failed"],
        message=fragment.message[:600],
        credential=name,
        rank=20,
    )
