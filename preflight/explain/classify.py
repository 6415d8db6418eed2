"""What one error means: a :class:`Fragment` → an :class:`Explanation` with cause, fix, commands and the check
that verifies the fix. Pure: no I/O, so every category is tested on text alone.

Order of knowledge: a chain entry (:mod:`.identity`), a token-endpoint body, ARM's codes and wording
(:mod:`.arm`), an AADSTS code inside any other rendering, and last a data-plane answer (:mod:`.data_plane`).
"""

from __future__ import annotations

from preflight.explain.advice import VERIFY, least_privilege_role, unknown
from preflight.explain.arm import read_arm
from preflight.explain.data_plane import read_data_plane
from preflight.explain.identity import read_aadsts, read_credential
from preflight.explain.model import Explanation, Fragment, Source

__all__ = ["VERIFY", "explain_fragment", "least_privilege_role"]


def explain_fragment(fragment: Fragment, paste: str) -> Explanation:
    """The explanation of one fragment; ``paste`` (redacted) is the whole text, read for context the fragment
    itself lacks (the account's ARM id, for instance)."""
    if fragment.credential:
        return read_credential(fragment)
    if fragment.entra:
        return read_aadsts(fragment, Source.ENTRA) or unknown(fragment, Source.ENTRA)
    arm = read_arm(fragment)
    if arm is not None:
        return arm
    if (info := read_aadsts(fragment, Source.ENTRA)) is not None:  # an AADSTS text inside another rendering
        return info
    return read_data_plane(fragment, paste)
