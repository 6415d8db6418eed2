"""The redaction safety net between checks and reports."""

from __future__ import annotations

from preflight.model import Evidence, Remediation, Result, Severity, Status
from preflight.redact import Redactor, describe_secret

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tIn0.c2lnbmF0dXJlLWJ5dGVz"


def test_known_secret_values_are_masked_everywhere_in_a_result() -> None:
    redactor = Redactor.from_environ({"AZURE_CLIENT_SECRET": "Abc~123.secret", "AZURE_CLIENT_ID": "not-secret"})
    result = Result("a.b", "t", Status.FAIL, Severity.HIGH, "secret Abc~123.secret leaked", subject="Abc~123.secret",
                    evidence=(Evidence("e", {"k": ["Abc~123.secret", 3]}),),
                    remediation=Remediation("use Abc~123.secret", ("az login -p Abc~123.secret",)))
    cleaned = redactor.result(result)
    text = repr(cleaned)
    assert "Abc~123.secret" not in text
    assert cleaned.summary == "secret *** leaked"
    assert cleaned.evidence[0].value == {"k": ["***", 3]}
    assert cleaned.remediation == Remediation("use ***", ("az login -p ***",))


def test_jwts_private_keys_and_credential_parameters_are_removed() -> None:
    redactor = Redactor()
    assert redactor.text(f"Bearer {JWT}") == "Bearer [token removed]"
    pem = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"
    assert redactor.text(f"key: {pem}") == "key: [private key removed]"
    assert redactor.text("grant_type=x&client_secret=hunter22&scope=y") == "grant_type=x&client_secret=***&scope=y"


def test_short_values_are_not_treated_as_secrets() -> None:
    # A 1-character "secret" would mask every occurrence of that letter in every message.
    assert Redactor(["a"]).text("a banana") == "a banana"


def test_describe_secret_never_shows_characters() -> None:
    assert describe_secret("hunter22") == "set (8 characters, hidden)"
    assert describe_secret("") == "set but empty"
    assert describe_secret(None) == "not set"
