"""DefaultAzureCredential's selection rule, pure."""

from __future__ import annotations

import pytest

from preflight.chain import LINKS, ChainConfigError, Outcome, included_links, select

ALL = tuple(link.key for link in LINKS)


def test_default_chain_order_matches_azure_identity() -> None:
    assert ALL == (
        "environment",
        "workload_identity",
        "managed_identity",
        "shared_token_cache",
        "visual_studio_code",
        "cli",
        "powershell",
        "developer_cli",
        "broker",
    )
    assert included_links({}) == ALL


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("dev", ("shared_token_cache", "visual_studio_code", "cli", "powershell", "developer_cli", "broker")),
        ("PROD", ("environment", "workload_identity", "managed_identity")),
        ("AzureCliCredential", ("cli",)),
        (" managedidentitycredential ", ("managed_identity",)),
    ],
)
def test_azure_token_credentials_narrows_the_chain(value: str, expected: tuple[str, ...]) -> None:
    assert included_links({"AZURE_TOKEN_CREDENTIALS": value}) == expected


def test_invalid_azure_token_credentials_is_an_error() -> None:
    with pytest.raises(ChainConfigError):
        included_links({"AZURE_TOKEN_CREDENTIALS": "AzureCLI"})


def test_unavailable_links_are_skipped_and_the_first_ok_wins() -> None:
    outcomes = {k: Outcome.UNAVAILABLE for k in ALL} | {"cli": Outcome.OK, "developer_cli": Outcome.OK}
    selection = select(outcomes, ALL)
    assert selection.link == "cli" and selection.outcome is Outcome.OK
    assert selection.skipped == (
        "environment",
        "workload_identity",
        "managed_identity",
        "shared_token_cache",
        "visual_studio_code",
    )
    assert selection.shadowed == ("developer_cli",)


def test_the_first_failure_ends_the_chain_even_if_a_later_link_works() -> None:
    outcomes = {k: Outcome.UNAVAILABLE for k in ALL} | {"environment": Outcome.FAILED, "cli": Outcome.OK}
    selection = select(outcomes, ALL)
    assert selection.link == "environment" and selection.outcome is Outcome.FAILED
    assert selection.shadowed == ("cli",)


def test_excluded_links_do_not_count() -> None:
    outcomes = {k: Outcome.UNAVAILABLE for k in ALL} | {"environment": Outcome.FAILED, "cli": Outcome.OK}
    selection = select(outcomes, included_links({"AZURE_TOKEN_CREDENTIALS": "dev"}))
    assert selection.link == "cli" and selection.outcome is Outcome.OK


def test_nothing_available() -> None:
    selection = select({k: Outcome.UNAVAILABLE for k in ALL}, ALL)
    assert selection.link is None and selection.outcome is None and selection.skipped == ALL
