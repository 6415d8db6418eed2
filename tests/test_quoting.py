"""The quote tracker shared by the error-body extractor and the twin's KQL reader (preflight.quoting)."""

from __future__ import annotations

import pytest

from preflight.quoting import Quotes


def _code(text: str) -> tuple[str, bool]:
    quotes = Quotes()
    kept = "".join(char for char in text if quotes.code(char))
    return kept, quotes.open


@pytest.mark.parametrize(
    ("text", "code", "open_at_end"),
    [
        ("{a: 1}", "{a: 1}", False),
        ("{'}': \"{\"}", "{: }", False),  # braces inside either kind of literal are not code
        (r"('a\'b', c)", "(, c)", False),  # an escaped quote does not end the literal
        (r"('a\\', c)", "(, c)", False),  # an escaped backslash does not escape the quote after it
        ('"it\'s", x', ", x", False),  # the other quote mark is plain text inside a literal
        ("f('abc", "f(", True),  # the text ended inside a literal
    ],
)
def test_code_outside_literals(text: str, code: str, open_at_end: bool) -> None:
    assert _code(text) == (code, open_at_end)
