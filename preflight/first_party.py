"""The Microsoft first-party apps the profiles rely on: their app ids and display names (the catalogue every
module names them from), which of them a profile relies on in a tenant (a tenant that never used a service
lacks its service principal: AADSTS500011 for tokens to it) and which Conditional Access policies may target.

Why a catalogue: Azure ML has two first-party apps with near-identical names, and mixing them up is how a
policy on the one the Azure ML guide tells admins to target went unnoticed (issue 20):

- **Azure Machine Learning** ``0736f41a-0425-4b46-bdb5-1563eff02385`` — the app the Azure ML authentication
  guide tells admins to target with Conditional Access (https://learn.microsoft.com/azure/machine-learning/
  how-to-setup-authentication#use-conditional-access); its service principal is also the one workspaces grant
  Reader to on their dependencies.
- **Azure Machine Learning Services** ``18a66f5f-dbdf-4c17-9dd7-1634712a9cbe`` — the resource behind the
  ``https://ml.azure.com`` (and ``https://ai.azure.com``) token audience the SDK requests.

Pure data; used by ``principal.first-party`` and ``access.conditional-access``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Well-known resource application ids (what Conditional Access includeApplications names).
AZURE_MANAGEMENT_APP = "797f4846-ba00-4fd7-ba43-dac1f8f63013"  # Windows Azure Service Management API (ARM)
COGNITIVE_SERVICES_APP = "7d312290-28c8-473c-a0ed-8e53749b6d6d"  # Azure Cognitive Services
ML_SERVICES_APP = "18a66f5f-dbdf-4c17-9dd7-1634712a9cbe"  # Azure Machine Learning Services (ml.azure.com)
AZURE_ML_APP = "0736f41a-0425-4b46-bdb5-1563eff02385"  # Azure Machine Learning (the guide's CA target)

APP_NAMES: Mapping[str, str] = {
    AZURE_MANAGEMENT_APP: "Azure Resource Manager (Windows Azure Service Management API)",
    COGNITIVE_SERVICES_APP: "Azure Cognitive Services",
    ML_SERVICES_APP: "Azure Machine Learning Services",
    AZURE_ML_APP: "Azure Machine Learning",
}

#: Apps a profile's guide tells admins to target with Conditional Access beyond the apps its tokens are for:
#: a policy on them stands between the principal and the target although no token names them.
CA_TARGETS: Mapping[str, tuple[str, ...]] = {"ml": (AZURE_ML_APP,)}


def app_label(app_id: str) -> str:
    """``Name (appId)`` for a known app, the bare id otherwise — both, so a reader can find it in the portal."""
    name = APP_NAMES.get(app_id.lower())
    return f"{name} ({app_id.lower()})" if name else app_id


def ca_apps(profile_name: str, audience_apps: Sequence[str]) -> tuple[str, ...]:
    """The apps Conditional Access is checked on for a profile: the token audiences' apps, then the apps its
    guide tells admins to target (Azure Machine Learning for ``ml``), each once."""
    return tuple(dict.fromkeys([*(a.lower() for a in audience_apps), *CA_TARGETS.get(profile_name, ())]))


@dataclass(frozen=True, slots=True)
class FirstParty:
    """A first-party app: its app id, its name, and the audience whose token proves it exists."""

    app_id: str
    name: str
    audience: str | None  # the profile audience whose token proves the SP exists (AADSTS500011 otherwise)


def first_party_for(profile_name: str, kinds: Sequence[str] = ()) -> tuple[FirstParty, ...]:
    """The Microsoft apps a profile relies on in the tenant."""
    if profile_name == "ml":
        return (
            FirstParty(AZURE_ML_APP, APP_NAMES[AZURE_ML_APP], None),
            FirstParty(ML_SERVICES_APP, f"{APP_NAMES[ML_SERVICES_APP]} (ml.azure.com)", "ml"),
        )
    return (FirstParty(COGNITIVE_SERVICES_APP, APP_NAMES[COGNITIVE_SERVICES_APP], "cognitive"),)
