"""``preflight explain``: any Azure auth error a user pastes → one explanation per error, most specific first.

Pure: text in, :class:`Explanation` values out. The paste is redacted (:func:`preflight.redact.mask_pasted`)
before anything reads it, so no explanation can quote a key, token or secret. :mod:`.extract` finds the errors,
:mod:`.classify` says what each means; the CLI only renders and picks the exit code (docs/explain.md).
"""

from __future__ import annotations

from preflight.explain.classify import VERIFY, explain_fragment
from preflight.explain.extract import fragments
from preflight.explain.model import Explanation, Fragment, Source
from preflight.redact import mask_pasted

__all__ = ["VERIFY", "Explanation", "Source", "exit_code", "explain"]


def _recognised(fragment: Fragment, explanation: Explanation) -> bool:
    """Free text read as a whole (no body, code, credential or AADSTS found in it) counts only when a category
    matched: "something went wrong" is not an Azure error."""
    structured = fragment.code or fragment.status or fragment.credential or fragment.entra
    return bool(structured) or explanation.explained


def _key(explanation: Explanation) -> tuple[object, ...]:
    """Two renderings of one error in a paste (azure-core's head line and its Code/Message lines, a log line and
    the raised exception) are one explanation."""
    if explanation.category == "unknown":
        return explanation.category, explanation.credential, explanation.code, explanation.message[:120]
    return (
        explanation.category,
        explanation.credential,
        explanation.action,
        explanation.expected_audience,
        explanation.code if isinstance(explanation.code, int) else None,
    )


def explain(text: str) -> list[Explanation]:
    """Every error in ``text``, explained, most specific first (ties keep the paste's order)."""
    safe = mask_pasted(text)
    found: dict[tuple[object, ...], tuple[int, Explanation]] = {}
    for fragment in fragments(safe):
        explanation = explain_fragment(fragment, safe)
        if _recognised(fragment, explanation):
            found.setdefault(_key(explanation), (fragment.position, explanation))
    ordered = sorted(found.values(), key=lambda item: (item[1].rank, item[0]))
    return [explanation for _, explanation in ordered]


def exit_code(explanations: list[Explanation]) -> int:
    """0 every error explained; 1 recognised as an Azure error but (some) not explained; 2 nothing recognisable."""
    if not explanations:
        return 2
    return 0 if all(e.explained for e in explanations) else 1
