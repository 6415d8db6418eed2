"""The redaction safety net between checks and reports."""

from __future__ import annotations

import io
from pathlib import Path

from preflight.model import Evidence, Remediation, Result, Severity, Status
from preflight.redact import Redactor, describe_secret

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL21hbmFnZW1lbnQuYXp1cmUuY29tIn0.c2lnbmF0dXJlLWJ5dGVz"


def test_known_secret_values_are_masked_everywhere_in_a_result() -> None:
    redactor = Redactor.from_environ({"AZURE_CLIENT_SECRET": "Abc~123.secret", "AZURE_CLIENT_ID": "not-secret"})
    result = Result(
        "a.b",
        "t",
        Status.FAIL,
        Severity.HIGH,
        "secret Abc~123.secret leaked",
        subject="Abc~123.secret",
        evidence=(Evidence("e", {"k": ["Abc~123.secret", 3]}),),
        remediation=Remediation("use Abc~123.secret", ("az login -p Abc~123.secret",)),
    )
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


SWAPPED = "Abc8Q~Zk3LmNoPqRsTuVwXyZ0123456789abcdEF"  # a portal-shaped client secret


def test_a_secret_in_an_id_variable_is_treated_as_a_secret() -> None:
    """AZURE_CLIENT_ID and AZURE_CLIENT_SECRET swapped: Entra quotes the client id back (AADSTS700016)."""
    from preflight.redact import looks_like_secret

    redactor = Redactor.from_environ({"AZURE_CLIENT_ID": SWAPPED, "AZURE_CLIENT_SECRET": "0b5c1f3e-guid-like"})
    text = f"AADSTS700016: Application with identifier '{SWAPPED}' was not found"
    assert SWAPPED not in redactor.text(text)
    assert looks_like_secret(SWAPPED)
    assert looks_like_secret("Xy7+abcDEF0123456789/ghijKLMNOPqrs=")  # a legacy base64 secret
    for ordinary in (
        "0b5c1f3e-1111-4111-8111-111111111111",
        "contoso.onmicrosoft.com",
        "my-ci-app",
        "alice.example.1234@contoso.onmicrosoft.com",
        "https://login.microsoftonline.com/x",
        "Contoso Production Application Number 1",
    ):
        assert not looks_like_secret(ordinary), ordinary
    plain = Redactor.from_environ({"AZURE_CLIENT_ID": "my-ci-app"})
    assert plain.text("client my-ci-app") == "client my-ci-app"  # a typo stays visible


def test_log_records_are_redacted_by_the_installed_filter() -> None:
    import logging

    from preflight.redact import RedactingFilter, install_log_redaction

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        install_log_redaction({"AZURE_CLIENT_SECRET": "first-secret-value"})
        install_log_redaction({"AZURE_CLIENT_ID": SWAPPED})  # a later call replaces the secrets, one filter
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
        log = logging.getLogger("azure.identity.test")
        log.warning("failed: Application with identifier '%s' and %s", SWAPPED, f"Bearer {JWT}")
        try:
            raise ValueError(f"client_secret=abc&client_id={SWAPPED}")
        except ValueError:
            log.exception("with a traceback")
    finally:
        root.removeHandler(handler)
    out = stream.getvalue()
    assert SWAPPED not in out and JWT not in out and "client_secret=abc" not in out
    assert "failed: Application with identifier '***' and Bearer [token removed]" in out
    assert "ValueError: client_secret=***&client_id=***" in out


# -- issue 17 item 4: redaction by value, whatever the whitespace or encoding ----------------------------------

ENCODED = 'Xy7+abcDEF0123/ghijKL"MNOP\\qrs tuv=='  # characters URL encoding and JSON escaping change


def test_a_secret_read_from_a_file_is_masked_without_its_newline() -> None:
    """A Kubernetes secret or a file ends in a newline; a message quoting the value usually drops it."""
    redactor = Redactor.from_environ({"AZURE_CLIENT_SECRET": "s3cr3t-value\n", "AZURE_CLIENT_ID": SWAPPED + "\r\n"})
    assert redactor.text("secret 's3cr3t-value' and 's3cr3t-value\n' rejected") == "secret '***' and '***' rejected"
    assert redactor.text(f"identifier '{SWAPPED}' not found") == "identifier '***' not found"


def test_url_encoded_and_json_escaped_forms_are_masked() -> None:
    import json
    import re
    from urllib.parse import quote, quote_plus

    redactor = Redactor.from_environ({"AZURE_CLIENT_SECRET": ENCODED})
    for form in (
        ENCODED,
        quote(ENCODED, safe=""),
        re.sub("%..", lambda m: m.group(0).lower(), quote(ENCODED, safe="")),
        quote_plus(ENCODED),
        json.dumps(ENCODED)[1:-1],
        json.dumps(ENCODED)[1:-1].replace("/", "\\/"),
    ):
        assert redactor.text(f"client_id={form}&x=1") == "client_id=***&x=1", form


def test_the_federated_token_file_content_is_a_secret(tmp_path: Path) -> None:
    """An opaque (non-JWT) assertion is caught by no pattern: only by its value."""
    token = tmp_path / "token"
    token.write_text("opaque-assertion-0123456789abcdef\n", "utf-8")
    redactor = Redactor.from_environ({"AZURE_FEDERATED_TOKEN_FILE": str(token)})
    assert redactor.text("malformed: 'opaque-assertion-0123456789abcdef'") == "malformed: '***'"


def test_unreadable_or_odd_secret_files_are_ignored_safely(tmp_path: Path) -> None:
    """Redaction never fails or stalls a run: a missing file, a directory, a FIFO (opening it would block),
    a device and a file over the cap are each skipped (the checks report what is wrong with them)."""
    import os

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    big = tmp_path / "big"
    big.write_bytes(b"x" * (1 << 20))
    for path in (tmp_path / "missing", tmp_path, fifo, Path("/dev/zero"), big, "bad\0path"):
        redactor = Redactor.from_environ(
            {"AZURE_FEDERATED_TOKEN_FILE": str(path), "AZURE_CLIENT_CERTIFICATE_PATH": str(path)}
        )
        assert redactor.text("nothing to mask here") == "nothing to mask here"


def test_certificate_password_and_private_key_bodies_are_masked(tmp_path: Path) -> None:
    body = ["MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ", "Qk3LmNoPqRsTuVwXyZ0123456789abcdEFgh+/ijkLMN"]
    pem = tmp_path / "cert.pem"
    pem.write_text(
        "-----BEGIN PRIVATE KEY-----\n" + "\n".join(body) + "\n-----END PRIVATE KEY-----\n"
        "-----BEGIN CERTIFICATE-----\nMIIBpublic\n-----END CERTIFICATE-----\n",
        "utf-8",
    )
    redactor = Redactor.from_environ(
        {"AZURE_CLIENT_CERTIFICATE_PATH": str(pem), "AZURE_CLIENT_CERTIFICATE_PASSWORD": "pfx-password!"}
    )
    assert redactor.text(f"key line {body[1]}") == "key line ***"
    assert redactor.text(f"key body {''.join(body)}") == "key body ***"
    assert redactor.text("password=pfx-password%21 certificate MIIBpublic") == "password=*** certificate MIIBpublic"


def test_redaction_is_one_precompiled_scan() -> None:
    """It runs on every string of every result and log record: many secrets must stay cheap."""
    import time

    redactor = Redactor([f"secret-number-{i:04d}-value" for i in range(50)])
    text = "an ordinary SDK message about a role assignment, nothing secret in it " * 200
    start = time.perf_counter()
    for _ in range(20):
        assert redactor.text(text) == text
    assert time.perf_counter() - start < 1.0
