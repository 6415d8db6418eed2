"""AZURE_CLIENT_ID holding a service principal's object id: the pure classification after AADSTS700016."""

from __future__ import annotations

from preflight.remedies import client_id_advice

OBJECT_ID = "c1c1c1c1-0000-4000-8000-0000000000b0"
APP_ID = "c1c1c1c1-0000-4000-8000-0000000000c1"


def test_an_object_id_names_the_app_id_to_use() -> None:
    advice = client_id_advice(OBJECT_ID, {"id": OBJECT_ID, "appId": APP_ID, "displayName": "ci"})
    assert advice.is_object_id and advice.note is None
    assert advice.summary().startswith(
        f"AZURE_CLIENT_ID holds the service principal's object id; use its appId {APP_ID}"
    )
    assert f"set AZURE_CLIENT_ID={APP_ID}" in advice.fix()
    assert advice.commands() == [f"az ad sp show --id {OBJECT_ID} --query appId -o tsv"]


def test_no_such_object_is_not_this_confusion() -> None:
    advice = client_id_advice(OBJECT_ID, None)
    assert not advice.is_object_id and advice.note is None


def test_undecided_says_why_and_what_to_run() -> None:
    advice = client_id_advice(OBJECT_ID, None, undecided="reading service principals needs Application.Read.All")
    assert not advice.is_object_id
    assert (
        advice.note is not None
        and "could not be decided (reading service principals needs Application.Read.All)" in advice.note
    )
    assert f"az ad sp show --id {OBJECT_ID} --query appId -o tsv" in advice.note


def test_a_secret_pasted_into_azure_client_id_is_never_looked_up() -> None:
    from preflight.azure.client_id import advice_for_client_id
    from preflight.context import Context
    from preflight.target import build_target

    secret = "abc8Q~" + "x" * 34
    ctx = Context(build_target({"AZURE_CLIENT_ID": secret, "AZURE_TENANT_ID": "11111111-1111-4111-8111-111111111111"}))
    assert advice_for_client_id(ctx, secret) is None  # no fact asked: no Graph request could carry it
