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


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, {}),
        (403, "Forbidden"),
        (403, {"error": {"code": "403", "message": "Access denied."}}),
        (401, "<html><body>Unauthorized</body></html>"),
    ],
)
def test_a_bare_refusal_is_not_read_as_a_missing_role(status: int, body: object) -> None:
    """A 401/403 that names no cause (no PermissionDenied code, no data action) comes from proxies, gateways,
    network rules and token problems alike: "refused", never "assign a role" (explain reads it the same way)."""
    verdict = classify_probe(status, body)
    assert verdict.kind == "refused" and verdict.allowed is False
    assert verdict.missing_action is None
    assert "assign a role" not in (verdict.fix or "")


def test_a_refusal_naming_a_data_action_is_rbac_even_without_the_code() -> None:
    message = f"The principal lacks the required data action `{ACTION}` to perform this operation."
    verdict = classify_probe(403, {"error": {"code": "403", "message": message}})
    assert verdict.kind == "permission_denied" and verdict.missing_action == ACTION
