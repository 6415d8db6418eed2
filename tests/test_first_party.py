"""The first-party app catalogue: the two Azure ML apps kept apart, and the apps Conditional Access is checked on."""

from __future__ import annotations

from preflight.first_party import (
    APP_NAMES,
    AZURE_MANAGEMENT_APP,
    AZURE_ML_APP,
    ML_SERVICES_APP,
    app_label,
    ca_apps,
    first_party_for,
)


def test_the_two_azure_ml_apps_have_their_own_names() -> None:
    # 0736f41a-… is the app the Azure ML guide tells admins to target; 18a66f5f-… is the ml.azure.com audience
    assert APP_NAMES[AZURE_ML_APP] == "Azure Machine Learning"
    assert APP_NAMES[ML_SERVICES_APP] == "Azure Machine Learning Services"
    assert AZURE_ML_APP == "0736f41a-0425-4b46-bdb5-1563eff02385"
    assert ML_SERVICES_APP == "18a66f5f-dbdf-4c17-9dd7-1634712a9cbe"


def test_app_label_names_both_the_app_and_its_id() -> None:
    assert app_label(AZURE_ML_APP.upper()) == f"Azure Machine Learning ({AZURE_ML_APP})"
    assert app_label("00000000-0000-0000-0000-000000000001") == "00000000-0000-0000-0000-000000000001"


def test_ca_apps_adds_the_guides_target_for_ml_only() -> None:
    assert ca_apps("ml", (AZURE_MANAGEMENT_APP, ML_SERVICES_APP)) == (
        AZURE_MANAGEMENT_APP,
        ML_SERVICES_APP,
        AZURE_ML_APP,
    )
    assert ca_apps("ml", (AZURE_ML_APP,)) == (AZURE_ML_APP,)  # each once
    assert ca_apps("openai", (AZURE_MANAGEMENT_APP,)) == (AZURE_MANAGEMENT_APP,)


def test_first_party_names_are_unchanged_for_principal_first_party() -> None:
    assert [f.name for f in first_party_for("ml")] == [
        "Azure Machine Learning",
        "Azure Machine Learning Services (ml.azure.com)",
    ]
