"""preflight.operations: an action's plane from Azure's operation metadata (isDataAction), never from role
patterns — the shipped catalogue, what ARM answers for other namespaces, and the last-resort pattern rule."""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from helpers.shared_data import SHARED_ROLES_DIR

from preflight.errors import FactError
from preflight.operations import (
    CATALOGUE_FILE,
    catalogue,
    catalogue_from,
    catalogue_json,
    decide_plane,
    plane_in,
    plane_of,
)
from preflight.rbac import RoleDefinition

SHARED = SHARED_ROLES_DIR
NAMESPACES = ("Microsoft.Authorization", "Microsoft.CognitiveServices", "Microsoft.MachineLearningServices")
ROLES = Path(__file__).resolve().parent / "data" / "roles" / "builtin_role_definitions_key_subset.json"
CS = "Microsoft.CognitiveServices"
CHAT = f"{CS}/accounts/OpenAI/deployments/chat/completions/action"


def _shared_documents() -> list[dict[str, Any]]:
    return [json.loads((SHARED / f"provider_operations_{ns}.json").read_text(encoding="utf-8")) for ns in NAMESPACES]


def _definitions() -> list[RoleDefinition]:
    return [RoleDefinition.from_arm(d) for d in json.loads(ROLES.read_text(encoding="utf-8"))]


def test_shipped_catalogue_is_what_the_generator_writes() -> None:
    """tools/generate_operations.py over the shared data gives the shipped files byte for byte (the twin's
    copy: the same documents). Without the shared data the catalogue's own invariants still hold."""
    shipped = resources.files("preflight").joinpath(CATALOGUE_FILE).read_text(encoding="utf-8")
    if SHARED.is_dir():
        documents = _shared_documents()
        assert shipped == catalogue_json(documents)
        twin = resources.files("preflight.twin.data").joinpath("provider_operations.json.gz").read_bytes()
        assert json.loads(gzip.decompress(twin)) == documents
    namespaces = json.loads(shipped)["namespaces"]
    assert sorted(namespaces) == sorted(NAMESPACES)
    for planes in namespaces.values():
        actions, data = planes["actions"], planes["dataActions"]
        assert actions == sorted(actions, key=str.lower) and data == sorted(data, key=str.lower)
        assert not {a.lower() for a in actions} & {d.lower() for d in data}  # never both planes
        assert all("*" not in name and not name.startswith("/") for name in actions + data)
    assert len(namespaces[CS]["dataActions"]) > 1000 and len(namespaces[CS]["actions"]) > 100


@pytest.mark.parametrize(
    "action",
    [
        f"{CS}/accounts/read",
        f"{CS}/accounts/listKeys/action",
        f"{CS}/accounts/deployments/write",
        f"{CS}/accounts/regenerateKey/action",
        "Microsoft.MachineLearningServices/workspaces/read",
        "Microsoft.Authorization/roleAssignments/write",
    ],
)
def test_management_actions_that_role_patterns_called_data_actions(action: str) -> None:
    """Cognitive Services User's dataActions "Microsoft.CognitiveServices/*" match these; Azure says control."""
    assert plane_of(action) is False
    assert plane_of(action.upper()) is False and plane_of(f"  {action.lower()} ") is False


@pytest.mark.parametrize(
    "action",
    [
        CHAT,
        f"{CS}/accounts/OpenAI/deployments/embeddings/action",
        f"{CS}/accounts/OpenAI/deployments/read",
        f"{CS}/accounts/TextAnalytics/analyze/action",
        f"{CS}/accounts/AIServices/agents/read",
    ],
)
def test_real_data_actions(action: str) -> None:
    assert plane_of(action) is True


def test_unknown_namespace_or_operation_is_none() -> None:
    assert plane_of("Microsoft.Storage/storageAccounts/read") is None
    assert plane_of(f"{CS}/accounts/noSuchThing/action") is None
    assert catalogue()[CS]["actions"]  # loaded once from package data


def test_every_profile_requirement_is_on_the_plane_the_profile_says() -> None:
    from preflight.profiles import profiles

    for profile in profiles().values():
        for requirement in profile.requirements:
            assert plane_of(requirement.action) is requirement.data, (profile.name, requirement.action)


WIDGETS: Mapping[str, Any] = {
    "name": "Contoso.Widgets",
    "operations": [{"name": "Contoso.Widgets/register/action", "isDataAction": False}],
    "resourceTypes": [
        {
            "name": "widgets",
            "operations": [
                {"name": "Contoso.Widgets/widgets/read", "isDataAction": False},
                {"name": "Contoso.Widgets/widgets/spin/action", "isDataAction": True},
            ],
        }
    ],
}


def test_catalogue_from_reads_operations_and_resource_types() -> None:
    assert catalogue_from([WIDGETS]) == {
        "Contoso.Widgets": {"actions": ["register/action", "widgets/read"], "dataActions": ["widgets/spin/action"]}
    }
    assert plane_in(WIDGETS, "contoso.widgets/WIDGETS/spin/action") is True
    assert plane_in(WIDGETS, "Contoso.Widgets/widgets/read") is False
    assert plane_in(WIDGETS, "Contoso.Widgets/gadgets/read") is None


def _never(namespace: str) -> Mapping[str, Any]:
    raise AssertionError(f"ARM asked about {namespace}")


def test_decide_plane_order_of_sources() -> None:
    roles = _definitions()
    assert decide_plane(f"{CS}/accounts/read", True, roles, _never).data is True  # the override wins
    plane = decide_plane(f"{CS}/accounts/listKeys/action", None, roles, _never)
    assert plane.data is False and "shipped catalogue" in plane.reason
    asked: list[str] = []

    def arm(namespace: str) -> Mapping[str, Any]:
        asked.append(namespace)
        return WIDGETS

    plane = decide_plane("Contoso.Widgets/widgets/spin/action", None, roles, arm)
    assert plane.data is True and "ARM's provider operations for Contoso.Widgets" in plane.reason
    assert asked == ["Contoso.Widgets"]


def test_decide_plane_falls_back_to_role_patterns_and_says_so() -> None:
    roles = _definitions()

    def refused(namespace: str) -> Mapping[str, Any]:
        raise FactError(
            "provider-operations", f"could not read the provider operations of {namespace}: 404", status=404
        )

    blob = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"  # Storage Blob Data Reader's
    plane = decide_plane(blob, None, roles, refused)
    assert plane.data is True
    assert "guessed from role patterns" in plane.reason and "ARM does not know the namespace" in plane.reason
    assert "--control-action" in plane.reason
    plane = decide_plane("Contoso.Widgets/gadgets/read", None, roles, lambda ns: WIDGETS)
    assert plane.data is False and "do not list it" in plane.reason and "--data-action" in plane.reason

    def failing(namespace: str) -> Mapping[str, Any]:
        raise FactError("provider-operations", "Azure Resource Manager answered HTTP 503", status=503)

    plane = decide_plane("Contoso.Widgets/gadgets/read", None, roles, failing)
    assert "could not be read: Azure Resource Manager answered HTTP 503" in plane.reason
