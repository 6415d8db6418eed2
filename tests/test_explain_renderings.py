"""`preflight explain` reads every category in every rendering a user pastes (issue 18, item 1 and 2).

Each error below is written as the service sends it (messages as quoted in public bug reports, see
docs/explain.md), then rendered the ways it reaches a user: the raw JSON body, a Python dict repr, the openai
SDK's ``Error code: NNN - {...}``, azure-core's ``(Code) Message`` block, and either SDK rendering at the bottom
of a full traceback. The pure core is tested here; the CLI in test_explain_cli.py.
"""

from __future__ import annotations

import json

import pytest

from preflight.explain import exit_code, explain

OID = "11111111-2222-3333-4444-555555555555"
CHAT = "Microsoft.CognitiveServices/accounts/OpenAI/deployments/chat/completions/action"
ACCOUNT = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
    "Microsoft.CognitiveServices/accounts/acc"
)

# category -> (HTTP status, error code, message), as the service writes them
ERRORS: dict[str, tuple[int, str, str]] = {
    "permission_denied": (
        401,
        "PermissionDenied",
        f"The principal `{OID}` lacks the required data action `{CHAT}` "
        "to perform `POST /openai/deployments/{deployment-id}/chat/completions` operation.",
    ),
    "audience": (
        401,
        "401",
        "Unauthorized. Access token is missing, invalid, audience is incorrect "
        "(https://cognitiveservices.azure.com), or have expired.",
    ),
    "tenant": (401, "401", "Token tenant 22222222-2222-2222-2222-222222222222 does not match resource tenant."),
    "custom_subdomain": (
        401,
        "401",
        "Please provide a custom subdomain for token authentication, otherwise API access will be rejected.",
    ),
    "keys_disabled": (403, "AuthenticationTypeDisabled", "Key based authentication is disabled for this resource."),
    "network": (403, "403", "Access denied due to Virtual Network/Firewall rules."),
    "invalid_key": (
        401,
        "401",
        "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
        "provide a valid key for an active subscription and use a correct regional API endpoint for "
        "your resource.",
    ),
    "gateway_key": (
        401,
        "401",
        "Access denied due to missing subscription key. Make sure to include subscription "
        "key when making requests to an API.",
    ),
    "throttled": (
        429,
        "429",
        "Requests to the ChatCompletions_Create Operation under Azure OpenAI API version "
        "2024-02-01 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry "
        "after 6 seconds.",
    ),
    "not_found": (
        404,
        "DeploymentNotFound",
        "The API deployment for this resource does not exist. If you created "
        "the deployment within the last 5 minutes, please wait a moment and try again.",
    ),
    "authorization_failed": (
        403,
        "AuthorizationFailed",
        f"The client 'dev@contoso.com' with object id '{OID}' does "
        "not have authorization to perform action 'Microsoft.CognitiveServices/accounts/read' "
        f"over scope '{ACCOUNT}' or the scope is invalid. If access was recently granted, "
        "please refresh your credentials.",
    ),
    "token_tenant": (
        401,
        "InvalidAuthenticationTokenTenant",
        "The access token is from the wrong issuer "
        "'https://sts.windows.net/f8cdef31-a31e-4b4a-93e4-5f571e91255a/'. It must match the tenant "
        "'https://sts.windows.net/a602cbf4-21c3-4761-b54e-acf397842b82/' associated with this "
        "subscription. Please use the authority (URL) "
        "'https://login.windows.net/a602cbf4-21c3-4761-b54e-acf397842b82' to get the token.",
    ),
    "token_expired": (
        401,
        "ExpiredAuthenticationToken",
        "The access token expiry UTC time '1/1/2026 10:00:00 AM' "
        "is earlier than current UTC time '1/1/2026 11:00:00 AM'.",
    ),
    "token_audience": (
        401,
        "InvalidAuthenticationTokenAudience",
        "The access token has been obtained for wrong "
        "audience or resource 'https://cognitiveservices.azure.com'. It should exactly match with "
        "one of the allowed audiences 'https://management.core.windows.net/',"
        "'https://management.azure.com/'.",
    ),
    "linked_authorization_failed": (
        403,
        "LinkedAuthorizationFailed",
        "The client has permission to perform action "
        "'Microsoft.Network/virtualNetworks/subnets/join/action' on scope "
        f"'{ACCOUNT}', however the current tenant "
        "'72f988bf-86f1-41af-91ab-2d7cd011db47' is not authorized to access linked "
        "subscription '6c24bcdf-0c47-4359-b40b-6f82b12d83ca'.",
    ),
    "unknown": (500, "InternalServerError", "The server had an error while processing your request. Sorry about that!"),
}
ARM = {"authorization_failed", "token_tenant", "token_expired", "token_audience", "linked_authorization_failed"}
OPENAI_CLASS = {
    401: "AuthenticationError",
    403: "PermissionDeniedError",
    404: "NotFoundError",
    429: "RateLimitError",
    500: "InternalServerError",
}
TRACEBACK = (
    'Traceback (most recent call last):\n  File "/app/main.py", line 12, in <module>\n'
    '    response = client.chat.completions.create(model="gpt-4o", messages=messages)\n'
    '  File "/venv/lib/python3.12/site-packages/openai/_base_client.py", line 1047, in request\n'
    "    raise self._make_status_error_from_response(err.response) from None\n"
)


def raw_body(status: int, code: str, message: str) -> str:
    return json.dumps({"error": {"code": code, "message": message}})


def dict_repr(status: int, code: str, message: str) -> str:
    # a body printed from Python (print(exc.body), print(response.json())): single quotes, a repr rather than JSON
    return repr({"error": {"code": code, "message": message}})


def openai_sdk(status: int, code: str, message: str) -> str:
    # openai-python: f"Error code: {status} - {body!r}" with the body as a dict (its repr, not JSON)
    return f"openai.{OPENAI_CLASS[status]}: Error code: {status} - { ({'error': {'code': code, 'message': message}})!r}"


def azure_core(status: int, code: str, message: str) -> str:
    # azure-core's ODataV4Format: "(code) message" then "Code: …" / "Message: …" lines
    return f"azure.core.exceptions.HttpResponseError: ({code}) {message}\nCode: {code}\nMessage: {message}"


def traceback_openai(status: int, code: str, message: str) -> str:
    return TRACEBACK + openai_sdk(status, code, message) + "\n"


def traceback_azure_core(status: int, code: str, message: str) -> str:
    return (
        TRACEBACK.replace("openai/_base_client.py", "azure/core/pipeline/_base.py")
        + azure_core(status, code, message)
        + "\n"
    )


RENDERINGS = [raw_body, dict_repr, openai_sdk, azure_core, traceback_openai, traceback_azure_core]


@pytest.mark.parametrize("render", RENDERINGS, ids=lambda r: r.__name__)
@pytest.mark.parametrize("category", sorted(ERRORS))
def test_every_category_in_every_rendering(category: str, render: object) -> None:
    status, code, message = ERRORS[category]
    found = explain(render(status, code, message))  # type: ignore[operator]
    assert [e.category for e in found] == [category]
    assert found[0].source.value == ("arm" if category in ARM else "data_plane")
    assert found[0].verify.startswith("preflight check")
    assert exit_code(found) == (1 if category == "unknown" else 0)


def test_the_openai_rendering_carries_the_status() -> None:
    status, code, message = ERRORS["network"]
    assert explain(openai_sdk(status, code, message))[0].status == 403


def test_a_missing_data_action_names_the_action_the_role_and_the_principal() -> None:
    status, code, message = ERRORS["permission_denied"]
    found = explain(raw_body(status, code, message) + f"\nresource: {ACCOUNT}")[0]
    assert found.action == CHAT and found.principal == OID
    assert found.role == ("5e0bd9bd-7b93-4f28-af87-19fc36ad61bd", "Cognitive Services OpenAI User")
    assert found.commands == (
        f"az role assignment create --assignee-object-id {OID} "
        f"--role 5e0bd9bd-7b93-4f28-af87-19fc36ad61bd --scope {ACCOUNT}",
    )


def test_foundry_agents_rendering_from_the_azure_ai_sdk() -> None:
    # azure-ai-projects raises ClientAuthenticationError with the (Code) Message head (microsoft/ai-agent-evals#43)
    text = (
        "azure.core.exceptions.ClientAuthenticationError: (PermissionDenied) The principal `" + OID + "` lacks "
        "the required data action `Microsoft.CognitiveServices/accounts/AIServices/agents/read` to perform "
        "`GET /api/projects/{projectName}/assistants/{assistantId}` operation. For instructions on granting the "
        "necessary permissions, see https://aka.ms/FoundryPermissions."
    )
    found = explain(text)
    assert [e.category for e in found] == ["permission_denied"]
    assert found[0].action == "Microsoft.CognitiveServices/accounts/AIServices/agents/read"
    assert found[0].role is not None and found[0].role[1] == "Foundry User"
    assert "<SCOPE>" in found[0].commands[0]  # no account id in the text: a placeholder the user fills


def test_an_action_no_profile_names_gets_the_catalogue_s_least_privilege_builtin() -> None:
    from preflight.builtin_roles import least_privilege_role

    found = explain(azure_core(*ERRORS["authorization_failed"]))[0]
    assert (found.action, found.scope, found.principal) == ("Microsoft.CognitiveServices/accounts/read", ACCOUNT, OID)
    role = least_privilege_role("Microsoft.CognitiveServices/accounts/read", data_action=False)
    assert role is not None and found.role == (role.guid, role.name)
    assert not role.name.startswith("Defender")  # a service's own role is never the advice
    assert f"--role {role.guid} --scope {ACCOUNT}" in found.commands[0]


def test_the_audience_the_service_expects_is_named() -> None:
    found = explain(raw_body(*ERRORS["audience"]))[0]
    assert found.expected_audience == "https://cognitiveservices.azure.com"
    assert "https://cognitiveservices.azure.com/.default" in found.fix


def test_apim_gateway_body_as_api_management_sends_it() -> None:
    text = (
        '{ "statusCode": 401, "message": "Access denied due to missing subscription key. Make sure to include '
        'subscription key when making requests to an API." }'
    )
    found = explain(text)
    assert [(e.category, e.status) for e in found] == [("gateway_key", 401)]


def test_dotnet_request_failed_rendering() -> None:
    # Azure.RequestFailedException (SciSharp/BotSharp#386): Status / ErrorCode lines, then the JSON content
    text = (
        "Azure.RequestFailedException: 'Access denied due to invalid subscription key or wrong API endpoint.\n"
        "Status: 401 (PermissionDenied)\nErrorCode: 401\n\nContent:\n" + raw_body(*ERRORS["invalid_key"])
    )
    assert [(e.category, e.status) for e in explain(text)] == [("invalid_key", 401)]


def test_arm_deployment_failed_details_are_read() -> None:
    body = {
        "status": "Failed",
        "error": {
            "code": "DeploymentFailed",
            "message": "At least one resource deployment operation failed.",
            "details": [{"code": "LinkedAuthorizationFailed", "message": ERRORS["linked_authorization_failed"][2]}],
        },
    }
    assert [e.category for e in explain(json.dumps(body))] == ["linked_authorization_failed"]


def test_token_tenant_names_the_tenant_to_sign_in_to() -> None:
    found = explain(raw_body(*ERRORS["token_tenant"]))[0]
    assert found.commands == ("az login --tenant a602cbf4-21c3-4761-b54e-acf397842b82",)


def test_several_errors_one_explanation_each_most_specific_first() -> None:
    text = "\n".join(
        [
            raw_body(*ERRORS["throttled"]),
            azure_core(*ERRORS["authorization_failed"]),
            openai_sdk(*ERRORS["keys_disabled"]),
        ]
    )
    assert [e.category for e in explain(text)] == ["authorization_failed", "keys_disabled", "throttled"]


def test_free_text_is_read_when_it_says_something_known() -> None:
    assert [e.category for e in explain("Access denied due to Virtual Network/Firewall rules.")] == ["network"]
    assert explain("something went wrong") == []
    assert exit_code([]) == 2


def test_a_bare_refusal_is_not_guessed_to_be_rbac() -> None:
    found = explain(raw_body(403, "403", "Forbidden"))
    assert [e.category for e in found] == ["unknown"] and exit_code(found) == 1


def test_a_pathological_paste_stays_fast() -> None:
    import time

    started = time.perf_counter()
    deep = "{'a': " * 3000 + "1" + "}" * 3000  # deeper than the parser allows: refused, not crashed
    for text in (deep, "{'" * 200_000, "{" * 300_000 + "}" * 300_000, "[" * 100_000, "(X) " * 100_000):
        explain(text)
    assert time.perf_counter() - started < 10


def test_least_privilege_roles_really_grant_the_action() -> None:
    """The recommendation (profiles' roles for now) checked against the real built-in role definitions the twin
    ships: every role proposed grants its action (the product itself never reads the twin's data)."""
    import json as _json
    from importlib import resources

    from preflight.explain.advice import least_privilege_role
    from preflight.profiles import profiles
    from preflight.rbac import RoleDefinition, permission_grants

    raw = _json.loads(resources.files("preflight.twin.data").joinpath("builtin_roles.json").read_text("utf-8"))
    roles = {r.name: r for r in (RoleDefinition.from_arm(item) for item in raw)}
    for profile in profiles().values():
        for requirement in profile.requirements:
            found = least_privilege_role(requirement.action, requirement.data)
            assert found is not None
            role = next(
                r
                for r in roles.values()
                if r.name.lower() == found[0].lower() or r.id.lower().endswith(found[0].lower())
            )
            assert any(permission_grants(p, requirement.action, data=requirement.data) for p in role.permissions)


def test_every_verify_command_names_installed_checks() -> None:
    """A verify command is only useful if `preflight check --only` accepts it: every pattern matches a check."""
    from preflight.engine import discover, select, split_patterns
    from preflight.explain import VERIFY

    specs = discover()
    for command in VERIFY.values():
        words = command.split()
        if "--only" in words:
            patterns = split_patterns([words[words.index("--only") + 1]])
            assert len(select(specs, patterns)) == len(patterns), command


def test_every_category_is_documented() -> None:
    from pathlib import Path

    from preflight.explain import VERIFY

    doc = (Path(__file__).resolve().parents[1] / "docs" / "explain.md").read_text(encoding="utf-8")
    categories = set(ERRORS) | {"credential_unavailable", "credential_failed"}
    assert categories <= set(VERIFY) | {"unknown"}
    assert all(f"`{category}`" in doc for category in categories)


def test_a_body_does_not_inherit_the_status_of_the_error_before_it() -> None:
    text = openai_sdk(*ERRORS["network"]) + "\n" + raw_body(*ERRORS["throttled"])
    assert sorted((e.category, e.status) for e in explain(text)) == [("network", 403), ("throttled", None)]


def test_an_azure_ml_data_action_is_named_too() -> None:
    message = (
        f"The principal `{OID}` lacks the required data action "
        "`Microsoft.MachineLearningServices/workspaces/endpoints/score/action` to perform this operation."
    )
    found = explain(raw_body(403, "PermissionDenied", message))[0]
    assert found.action == "Microsoft.MachineLearningServices/workspaces/endpoints/score/action"


def test_azure_core_code_and_message_lines_repeat_the_head_and_are_not_a_second_error() -> None:
    _status, code, message = ERRORS["authorization_failed"]
    text = f"HttpResponseError: ({code}) {message}\r\nCode: {code}\r\nMessage: (abridged by the user)\r\n"
    assert len(explain(text)) == 1
    only_lines = f"Code: {code}\nMessage: {message}"  # the lines alone (e.g. az CLI output) still read
    assert [e.category for e in explain(only_lines)] == ["authorization_failed"]


# Fuzzing (as tests/test_fuzz_parsers.py does for the other parsers): whatever is pasted, explain answers with
# well-formed explanations and never raises — plausible fragments of real renderings mixed with noise.
_PIECES = [
    "{",
    "}",
    "{'error': ",
    '{"error": ',
    "'code': 'PermissionDenied'",
    '"message": "',
    "Code: ",
    "Message: ",
    "(AuthorizationFailed) ",
    "AADSTS50076",
    "Attempted credentials:\n\t",
    "AzureCliCredential: ",
    "Error code: 401 - ",
    "\n",
    "'",
    '"',
    "\\",
    "data action `",
    "over scope '",
    "[",
    "]",
]


def test_arbitrary_pastes_never_raise() -> None:
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=20)), max_size=30).map("".join))
    def check(text: str) -> None:
        for item in explain(text):
            document = item.to_dict()
            assert isinstance(document["category"], str) and document["verify"].startswith("preflight check")
            json.dumps(document)

    check()
