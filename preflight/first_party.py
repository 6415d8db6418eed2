"""The Microsoft first-party apps a profile relies on in a tenant: a tenant that never used a service lacks
its service principal (AADSTS500011 for tokens to it). Pure data; used by ``principal.first-party``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

AZURE_ML_APP = "0736f41a-0425-4b46-bdb5-1563eff02385"


@dataclass(frozen=True, slots=True)
class FirstParty:
    """A first-party app: its app id, its name, and the audience whose token proves it exists."""

    app_id: str
    name: str
    audience: str | None  # the profile audience whose token proves the SP exists (AADSTS500011 otherwise)


def first_party_for(profile_name: str, kinds: Sequence[str] = ()) -> tuple[FirstParty, ...]:
    """The Microsoft apps a profile relies on in the tenant."""
    from preflight.ca import COGNITIVE_SERVICES_APP, ML_SERVICES_APP

    if profile_name == "ml":
        return (
            FirstParty(AZURE_ML_APP, "Azure Machine Learning", None),
            FirstParty(ML_SERVICES_APP, "Azure Machine Learning Services (ml.azure.com)", "ml"),
        )
    return (FirstParty(COGNITIVE_SERVICES_APP, "Azure Cognitive Services", "cognitive"),)
