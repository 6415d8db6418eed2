"""The account's model deployments, read-only, as ``{name: model}`` — for app.deployment.

Two sources, as design.md asks of every verdict: the ARM listing ``accounts/{name}/deployments`` (needs
``Microsoft.CognitiveServices/accounts/deployments/read``, which Reader and the Cognitive Services OpenAI roles
carry: ``Microsoft.CognitiveServices/*/read``), and, for a least-privilege identity whose custom data role
cannot read ARM, the data plane's ``GET /openai/deployments`` — the ``dataplane-probe`` fact access.probe makes
with ``--probe`` (the data action ``Microsoft.CognitiveServices/accounts/OpenAI/deployments/read``, which the
OpenAI data roles grant). The data-plane source is used only when the run probes: a check that reads configuration
never calls the data plane by surprise.

REST reference: https://learn.microsoft.com/rest/api/aiservices/accountmanagement/deployments/list
"""

from __future__ import annotations

from typing import Any

from preflight.azure.services import registered_fact
from preflight.context import Context

ARM_PERMISSION = "Microsoft.CognitiveServices/accounts/deployments/read"
DATA_ACTION = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/read"


@registered_fact("deployments")
def deployments(ctx: Context, account_id: str) -> dict[str, str]:
    """Deployment name → model name, from ARM (each item's ``properties.model.name``). Fails as a FactError
    carrying ARM's status and code (403 when the identity may not list them)."""
    from preflight.azure.arm import ACCOUNT_API_VERSION, _arm_list, _rest_error
    from preflight.azure.http import HttpError

    path = "/" + account_id.strip("/") + "/deployments"
    try:
        items = _arm_list(ctx, path, {"api-version": ACCOUNT_API_VERSION})
    except HttpError as exc:
        raise _rest_error("deployments", exc, "could not list the deployments", "app.deployment") from exc
    return {str(item["name"]): _model(item) for item in items if isinstance(item.get("name"), str)}


def _model(item: dict[str, Any]) -> str:
    model = ((item.get("properties") or {}).get("model")) or {}
    return str(model.get("name") or "")


def probed_deployments(answer: Any) -> dict[str, str] | None:
    """The deployments a data-plane answer lists (``{"data": [{"id": name, "model": …}]}``), None when the
    answer is not that list (refused, not JSON)."""
    if answer is None or not getattr(answer, "accepted", False):
        return None
    body = answer.json()
    return {str(d["id"]): str(d.get("model") or "") for d in body.get("data", []) if isinstance(d, dict) and "id" in d}
