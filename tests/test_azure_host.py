"""azure_host: which Azure host a managed identity runs on, from the environment and the chain's own outcome.

A managed identity on an Azure VM used to get "looks like a developer machine" because a VM sets no variable;
it is recognised by its token having come from IMDS. Developer-set IDENTITY_ENDPOINT / MSI_ENDPOINT alone must
still recognise nothing (that WARN is the point)."""

from __future__ import annotations

from typing import Any

import pytest

from preflight.chain import AzureHost, azure_host, managed_identity_source

VM_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-build-01"
UAMI_ID = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id-app"
APP_SERVICE = {"IDENTITY_ENDPOINT": "http://127.0.0.1:9/msi/token", "IDENTITY_HEADER": "h"}


@pytest.mark.parametrize(
    ("environ", "source"),
    [
        ({}, "imds"),
        ({"AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://127.0.0.1:9"}, "imds"),
        (APP_SERVICE, "app_service"),
        ({**APP_SERVICE, "IDENTITY_SERVER_THUMBPRINT": "t"}, "service_fabric"),
        ({"IDENTITY_ENDPOINT": "e", "IMDS_ENDPOINT": "i"}, "azure_arc"),
        ({"MSI_ENDPOINT": "m"}, "msi"),
        (
            {"AZURE_AUTHORITY_HOST": "a", "AZURE_TENANT_ID": "t", "AZURE_FEDERATED_TOKEN_FILE": "/f"},
            "workload_identity",
        ),
        ({"AZURE_AUTHORITY_HOST": "a", "AZURE_TENANT_ID": "t"}, "imds"),  # workload identity half set up
    ],
)
def test_managed_identity_source_follows_azure_identity(environ: dict[str, str], source: str) -> None:
    assert managed_identity_source(environ) == source


@pytest.mark.parametrize(
    ("environ", "host"),
    [
        ({**APP_SERVICE, "WEBSITE_SITE_NAME": "contoso-chat"}, AzureHost("Azure App Service", ("WEBSITE_SITE_NAME",))),
        (
            {**APP_SERVICE, "WEBSITE_SITE_NAME": "f", "FUNCTIONS_WORKER_RUNTIME": "python"},
            AzureHost("Azure Functions", ("FUNCTIONS_WORKER_RUNTIME",)),
        ),
        (
            {**APP_SERVICE, "CONTAINER_APP_NAME": "ca-chat"},
            AzureHost("Azure Container Apps", ("CONTAINER_APP_NAME",)),
        ),
        (
            {
                "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.com/",
                "AZURE_TENANT_ID": "t",
                "AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token",
                "KUBERNETES_SERVICE_HOST": "10.0.0.1",
            },
            AzureHost("Kubernetes (AKS) workload identity", ("KUBERNETES_SERVICE_HOST", "AZURE_FEDERATED_TOKEN_FILE")),
        ),
        ({"KUBERNETES_SERVICE_HOST": "10.0.0.1"}, AzureHost("Kubernetes (AKS)", ("KUBERNETES_SERVICE_HOST",))),
        (
            {"IDENTITY_ENDPOINT": "http://localhost:40342/metadata/identity/oauth2/token", "IMDS_ENDPOINT": "i"},
            AzureHost("Azure Arc-enabled server", ("IDENTITY_ENDPOINT", "IMDS_ENDPOINT")),
        ),
        (
            {**APP_SERVICE, "IDENTITY_SERVER_THUMBPRINT": "t"},
            AzureHost("Azure Service Fabric", ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT")),
        ),
        ({"MSI_ENDPOINT": "m", "AZUREML_RUN_ID": "r"}, AzureHost("Azure Machine Learning", ("AZUREML_RUN_ID",))),
        ({"MSI_ENDPOINT": "m", "ACC_CLOUD": "PROD"}, AzureHost("Azure Cloud Shell", ("ACC_CLOUD",))),
    ],
)
def test_hosts_named_by_their_environment(environ: dict[str, str], host: AzureHost) -> None:
    assert azure_host(environ, managed_identity_ok=True) == host
    assert azure_host(environ, managed_identity_ok=False) == host  # the environment alone says so


@pytest.mark.parametrize(
    "environ",
    [
        APP_SERVICE,  # what a developer (or an emulator) sets by mistake
        {"MSI_ENDPOINT": "http://127.0.0.1:9/msi"},
        {"AZURE_AUTHORITY_HOST": "a", "AZURE_TENANT_ID": "t", "AZURE_FEDERATED_TOKEN_FILE": "/f"},  # no Kubernetes
    ],
)
def test_developer_set_endpoints_recognise_nothing(environ: dict[str, str]) -> None:
    assert azure_host(environ, managed_identity_ok=True, claims={"idtyp": "app", "xms_mirid": VM_ID}) is None


@pytest.mark.parametrize(
    ("claims", "host"),
    [
        ({"idtyp": "app", "xms_mirid": VM_ID}, AzureHost("Azure VM vm-build-01", ("token from IMDS", "xms_mirid"))),
        (
            {"xms_mirid": VM_ID.replace("virtualMachines/vm-build-01", "virtualMachineScaleSets/vmss-1")},
            AzureHost("Azure VM scale set vmss-1", ("token from IMDS", "xms_mirid")),
        ),
        ({"idtyp": "app", "xms_mirid": UAMI_ID}, AzureHost("Azure VM", ("token from IMDS", "xms_mirid"))),
        ({"idtyp": "app"}, AzureHost("Azure VM", ("token from IMDS", "idtyp=app"))),
        ({"oid": "o"}, AzureHost("Azure VM", ("token from IMDS",))),
        (None, AzureHost("Azure VM", ("token from IMDS",))),
        ({"idtyp": "user", "upn": "alice@contoso.com"}, None),  # a user's token never came from IMDS
        ({"scp": "user_impersonation"}, None),
    ],
)
def test_a_vm_is_recognised_by_its_imds_token(claims: dict[str, Any] | None, host: AzureHost | None) -> None:
    environ = {"AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://127.0.0.1:9"}
    assert azure_host(environ, managed_identity_ok=True, claims=claims) == host


def test_no_imds_token_no_vm() -> None:
    assert azure_host({}, managed_identity_ok=False) is None
    assert azure_host({}, managed_identity_ok=False, claims={"idtyp": "app", "xms_mirid": VM_ID}) is None
