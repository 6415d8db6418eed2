"""Clouds from names and from ARM's cloud-metadata document."""

from __future__ import annotations

import pytest

from preflight.clouds import AZURE_CHINA, AZURE_PUBLIC, KNOWN_CLOUDS, cloud_from_metadata
from preflight.errors import ConfigError

# The shape ARM serves at /metadata/endpoints?api-version=2022-09-01 (trimmed to the keys we read).
PUBLIC_DOCUMENT = {
    "name": "AzureCloud",
    "portal": "https://portal.azure.com",
    "authentication": {
        "loginEndpoint": "https://login.microsoftonline.com",
        "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
        "tenant": "common",
        "identityProvider": "AAD",
    },
    "resourceManager": "https://management.azure.com/",
    "microsoftGraphResourceId": "https://graph.microsoft.com/",
}


def test_the_public_document_gives_the_public_cloud() -> None:
    cloud = cloud_from_metadata(PUBLIC_DOCUMENT)
    assert cloud == AZURE_PUBLIC
    assert cloud.arm_scope == "https://management.azure.com/.default"
    assert not cloud.needs_instance_discovery_off


def test_a_custom_cloud_uses_its_own_endpoints_and_turns_instance_discovery_off() -> None:
    document = {
        **PUBLIC_DOCUMENT,
        "name": "AzureTwin",
        "authentication": {**PUBLIC_DOCUMENT["authentication"], "loginEndpoint": "https://127.0.0.1:8443/"},
        "resourceManager": "https://127.0.0.1:8443/",
        "microsoftGraphResourceId": "https://127.0.0.1:8443/",
    }
    cloud = cloud_from_metadata(document)
    assert cloud.authority_host == "https://127.0.0.1:8443/"
    assert cloud.resource_manager == "https://127.0.0.1:8443/"
    assert cloud.graph_scope == "https://127.0.0.1:8443/.default"
    assert cloud.arm_audience == "https://management.azure.com"
    assert cloud.cognitive_audience == AZURE_PUBLIC.cognitive_audience
    assert cloud.needs_instance_discovery_off


def test_a_sovereign_name_keeps_its_data_plane_audiences() -> None:
    document = {**PUBLIC_DOCUMENT, "name": "AzureChinaCloud"}
    assert cloud_from_metadata(document).cognitive_audience == AZURE_CHINA.cognitive_audience


def test_a_document_without_authentication_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        cloud_from_metadata({"name": "x"})


def test_known_clouds() -> None:
    assert set(KNOWN_CLOUDS) == {"AzureCloud", "AzureChinaCloud", "AzureUSGovernment"}
