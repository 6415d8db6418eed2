"""The published scenario schema (docs/scenario.schema.json) and the twin's own check of it agree (issue 17
item 6): every built-in scenario passes both; each bad document below is refused by the reference
implementation (jsonschema, a test dependency), by the product's small interpreter (preflight.twin.schema) and
by load_scenario — with one line naming the JSON path — before any twin starts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from preflight.twin.scenario import ScenarioError, builtin_scenario_text, list_scenarios, load_scenario
from preflight.twin.schema import check_supported, scenario_schema, validate

DOCS = Path(__file__).resolve().parents[2] / "docs"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
SCHEMA = json.loads((DOCS / "scenario.schema.json").read_text("utf-8"))
REFERENCE = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)


def _doc(**extra: Any) -> dict[str, Any]:
    return {"tenant": {"id": TENANT}, **extra}


# (id, document, the path the product's message must name)
BAD: list[tuple[str, Any, str]] = [
    ("tenant-id-number", {"tenant": {"id": 42}}, "tenant.id: must be a string"),
    ("tenant-id-list", {"tenant": {"id": [TENANT]}}, "tenant.id: must be a string"),
    ("tenant-domains-not-strings", {"tenant": {"id": TENANT, "domains": [1]}}, "tenant.domains[0]: must be a string"),
    ("tenant-not-object", {"tenant": TENANT}, "tenant: must be an object"),
    ("no-tenant", {"name": "x"}, "tenant: required"),
    ("name-number", _doc(name=1), "name: must be a string"),
    ("other-tenant-id", _doc(otherTenants=[{"id": None}]), "otherTenants[0].id: must be a string"),
    ("subscription-id-number", _doc(subscriptions=[{"subscriptionId": 5}]), "subscriptions[0].subscriptionId"),
    ("subscription-missing-id", _doc(subscriptions=[{"displayName": "x"}]), "subscriptions[0].subscriptionId"),
    ("group-id-number", _doc(resourceGroups=[{"id": 7}]), "resourceGroups[0].id: must be a string"),
    ("resource-not-object", _doc(resources=["/subscriptions/x"]), "resources[0]: must be an object"),
    ("resource-properties-list", _doc(resources=[{"id": "x", "properties": []}]), "resources[0].properties"),
    (
        "assignment-scope-list",
        _doc(roleAssignments=[{"properties": {"scope": ["/"], "principalId": "p", "roleDefinitionId": "Reader"}}]),
        "roleAssignments[0].properties.scope: must be a string",
    ),
    (
        "assignment-principal-number",
        _doc(roleAssignments=[{"properties": {"scope": "/", "principalId": 1, "roleDefinitionId": "Reader"}}]),
        "roleAssignments[0].properties.principalId: must be a string",
    ),
    ("role-definition-number", _doc(roleDefinitions=[5]), "roleDefinitions[0]: must be a string or an object"),
    ("target-tenant-number", _doc(target={"tenantId": 1}), "target.tenantId: must be a string"),
    ("target-unknown-key", _doc(target={"bogus": "x"}), "target.bogus: unknown key"),
    ("option-page-size-zero", _doc(options={"pageSize": 0}), "options.pageSize"),
    ("option-flag-string", _doc(options={"conditionalAccessWhatIf": "yes"}), "options.conditionalAccessWhatIf"),
    ("option-unknown", _doc(options={"pagesize": 5}), "options.pagesize: unknown"),
    ("directory-users-object", _doc(directory={"users": {}}), "directory.users: must be a list"),
    ("directory-user-id-number", _doc(directory={"users": [{"id": 3}]}), "directory.users[0].id: must be a string"),
    ("directory-memberships-not-ids", _doc(directory={"memberships": {"u": [1]}}), "directory.memberships.u[0]"),
    ("directory-unknown", _doc(directory={"people": []}), "directory.people: unknown key"),
    ("faults-object", _doc(faults={}), "faults: must be a list"),
    ("sign-in-list", _doc(signIn=[]), "signIn: must be an object"),
    ("unknown-top-level", _doc(bogusKey=1), "bogusKey: unknown"),
]


def test_docs_publish_the_schema_the_twin_checks() -> None:
    assert SCHEMA == scenario_schema()
    jsonschema.validators.validator_for(SCHEMA).check_schema(SCHEMA)
    assert "scenario.schema.json" in (DOCS / "twin.md").read_text("utf-8")


@pytest.mark.parametrize("name", list_scenarios())
def test_every_builtin_scenario_passes_the_schema(name: str) -> None:
    document = json.loads(builtin_scenario_text(name))
    assert [e.message for e in REFERENCE.iter_errors(document)] == []
    assert validate(document) == []


@pytest.mark.parametrize("case,document,names", BAD, ids=[b[0] for b in BAD])
def test_bad_documents_are_refused_by_schema_interpreter_and_loader(case: str, document: Any, names: str) -> None:
    assert list(REFERENCE.iter_errors(document)), f"{case}: the published schema accepts it"
    assert validate(document), f"{case}: preflight.twin.schema accepts it"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(document)
    message = str(caught.value)
    assert names in message and "\n" not in message, message


def _parent(path: str) -> str:
    return path.rsplit(".", 1)[0] if "." in path else ""


@pytest.mark.parametrize("case,document", [(b[0], b[1]) for b in BAD], ids=[b[0] for b in BAD])
def test_the_interpreter_and_jsonschema_name_the_same_places(case: str, document: Any) -> None:
    """Not only "both refuse": both point at the same values. (jsonschema places a missing or unknown key at the
    object holding it, the interpreter at the key itself.)"""
    reference = {
        "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
        for error in REFERENCE.iter_errors(document)
    }
    ours = {
        _parent(path) if what.startswith((" required", " unknown key")) else path
        for path, what in (message.split(":", 1) for message in validate(document))
    }
    assert ours == reference, case


def test_a_schema_keyword_the_interpreter_does_not_implement_is_refused() -> None:
    """A keyword added to the published schema without code to enforce it fails loudly, not silently."""
    with pytest.raises(ValueError, match=r"unsupported keywords \['maxLength'\]"):
        check_supported({"type": "object", "properties": {"a": {"type": "string", "maxLength": 3}}})
