"""Classification of data-plane answers: which 401/403 is RBAC and which is not."""

from __future__ import annotations

import pytest

from preflight.dataplane import classify_probe

ACTION = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/read"


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (200, {"data": []}, "ok"),
        (
            401,
            {
                "error": {
                    "code": "PermissionDenied",
                    "message": f"The principal `x` lacks the required data action "
                    f"`{ACTION}` to perform `GET /openai/deployments` "
                    "operation.",
                }
            },
            "permission_denied",
        ),
        (
            401,
            {
                "error": {
                    "code": "401",
                    "message": "Please provide a custom subdomain for token authentication, "
                    "otherwise API access will be rejected.",
                }
            },
            "custom_subdomain",
        ),
        (
            401,
            {
                "error": {
                    "code": "401",
                    "message": "Unauthorized. Access token is missing, invalid, audience is "
                    "incorrect (https://cognitiveservices.azure.com), or have "
                    "expired.",
                }
            },
            "audience",
        ),
        (403, {"error": {"code": "403", "message": "Access denied due to Virtual Network/Firewall rules."}}, "network"),
        (
            403,
            {"error": {"code": "403", "message": "Public access is disabled. Please configure private endpoint."}},
            "network",
        ),
        (
            403,
            {
                "error": {
                    "code": "AuthenticationTypeDisabled",
                    "message": "Key based authentication is disabled for this resource.",
                }
            },
            "keys_disabled",
        ),
        (429, {"error": {"code": "429", "message": "Rate limit"}}, "throttled"),
        (503, "<html>Service Unavailable</html>", "server_error"),
    ],
)
def test_answers_are_classified_by_cause(status: int, body: object, kind: str) -> None:
    verdict = classify_probe(status, body)
    assert verdict.kind == kind
    assert verdict.allowed is (kind == "ok")


def test_the_missing_action_and_expected_audience_are_extracted() -> None:
    denied = classify_probe(
        401, {"error": {"code": "PermissionDenied", "message": f"lacks the required data action `{ACTION}`"}}
    )
    assert denied.missing_action == ACTION
    audience = classify_probe(401, {"error": {"code": "401", "message": "audience is incorrect (https://x.example)"}})
    assert audience.expected_audience == "https://x.example"


def test_a_401_naming_its_audience_gives_the_scope_to_request() -> None:
    from preflight.azure.facts import scope_from_data_plane

    body = {
        "error": {
            "code": "401",
            "message": "Unauthorized. Access token is missing, invalid, audience is "
            "incorrect (https://cognitiveservices.azure.com), or have expired.",
        }
    }
    assert scope_from_data_plane(401, body) == "https://cognitiveservices.azure.com/.default"
    assert scope_from_data_plane(403, {"error": {"code": "PermissionDenied", "message": "no"}}) is None
