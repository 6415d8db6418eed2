"""The request log tells two POSTs to one URL apart without ever keeping a secret."""

from __future__ import annotations

from preflight.twin.log import body_summary

FORM = "application/x-www-form-urlencoded"


def test_token_request_keeps_what_was_asked_not_the_proof() -> None:
    body = (
        b"client_id=app&grant_type=client_credentials&scope=https%3A%2F%2Fmanagement.azure.com%2F.default"
        b"&client_secret=s3cr3t-value&client_assertion=eyJhbGciOi"
    )
    summary = body_summary("POST", FORM + "; charset=utf-8", body)
    assert summary == {
        "grant_type": "client_credentials",
        "scope": "https://management.azure.com/.default",
        "client_id": "app",
    }
    assert "s3cr3t" not in repr(summary) and "eyJ" not in repr(summary)


def test_json_bodies_are_digested_and_distinct() -> None:
    one = body_summary("POST", "application/json", b'{"query": "a"}')
    two = body_summary("POST", "application/json", b'{"query": "b"}')
    assert set(one) == {"body_sha256"} and one != two
    assert body_summary("GET", "", b"") == {} and body_summary("POST", FORM, b"") == {}
