"""The one ISO 8601 reader the product and the twin share (preflight.timestamps)."""

from __future__ import annotations

import pytest

from preflight.timestamps import parse_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:00:00.0000000Z", 1714557600.0),  # ARM: seven fraction digits, Z
        ("2024-05-01T10:00:00.1234567Z", 1714557600.123456),  # the seventh digit is dropped, not rounded
        ("2024-05-01T10:00:00.123456789+00:00", 1714557600.123456),
        ("2024-05-01T10:00:00.5Z", 1714557600.5),  # Graph: a short fraction
        ("2024-05-01T12:00:00+02:00", 1714557600.0),
        ("2024-05-01T10:00:00", 1714557600.0),  # no zone: UTC
        (" 2024-05-01T10:00:00Z ", 1714557600.0),
        ("2024-13-01T10:00:00Z", None),
        ("yesterday", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_time_reads_the_forms_azure_sends(text: str | None, expected: float | None) -> None:
    assert parse_time(text) == expected
