"""The terminal table: symbols and colour only when the CLI asks for colour, plain and stable otherwise, and no
control character from the data ever reaches the terminal."""

from __future__ import annotations

from helpers.reports import every_status_report

from preflight.model import Status
from preflight.reports import RenderOptions, table


def test_plain_output_has_words_no_symbols_and_no_escape_sequences() -> None:
    text = table.render(every_status_report(), RenderOptions(color=False))
    assert "\033" not in text
    assert not any(symbol in text for symbol in table.SYMBOLS.values())
    assert "  FAIL  rbac.data-action [Microsoft.CognitiveServices/accounts/OpenAI/deployments/read]  no role" in text
    assert text.rstrip().splitlines()[-1] == "2 FAIL · 1 ERROR · 1 WARN · 1 PASS · 1 SKIP — 1.75 s"
    # the same report renders the same text: safe to diff in CI
    assert text == table.render(every_status_report(), RenderOptions(color=False))


def test_colour_adds_a_symbol_and_colour_per_status() -> None:
    text = table.render(every_status_report(), RenderOptions(color=True))
    for status in Status:
        assert f"\033[{table.COLORS[status]}m{table.SYMBOLS[status]} {table.MARKS[status]:<5}\033[0m" in text


def test_control_characters_from_the_data_are_made_visible() -> None:
    text = table.render(every_status_report(), RenderOptions(verbose=True))
    assert "control\\x00chars\\x1b[31m here" in text
    assert "\x00" not in text and "\x07" not in text
    # the injected line breaks stay on the ERROR result's line
    error_line = next(line for line in text.splitlines() if "ERROR signin.chain" in line)
    assert "line one ::error title=injected::pwned ##[error]legacy ##vso\\x5btask.setvariable" in error_line
    assert "##vso[" not in text  # Azure Pipelines runs a logging command found anywhere in a line
    assert not any(line.startswith("::") for line in text.splitlines())
    assert table.clean("a\r\nb\tc\x1bd") == "a b c\\x1bd"


def test_entra_support_identifiers_stay_out_and_long_text_wraps() -> None:
    """Trace ID / Correlation ID / Timestamp are for -v and the JSON; a long message wraps under its result."""
    from dataclasses import replace

    entra = (
        "AADSTS7000222: The provided client secret keys for app 'c1' are expired. Visit the Azure portal to create "
        "new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added "
        "security: https://aka.ms/certCreds. Trace ID: 0b9c1c4e-7a8b-4c1d-9e2f-3a4b5c6d7e8f Correlation ID: "
        "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f Timestamp: 2026-01-02 03:04:05Z"
    )
    assert table.plain(entra).endswith("https://aka.ms/certCreds.")
    report = every_status_report()
    long = replace(report, results=(replace(report.results[2], summary=entra),))
    text = table.render(long, RenderOptions())
    assert "Trace ID" not in text and "Correlation ID" not in text and "Timestamp" not in text
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  FAIL  rbac.data-action"))
    assert all(len(line) <= table.WIDTH for line in lines[start : start + 3])
    assert lines[start + 1].startswith(" " * 8) and "certCreds" in " ".join(lines[start : start + 3])


def test_the_answer_is_coloured_like_a_status() -> None:
    text = table.render(every_status_report(), RenderOptions(color=True))
    assert "Can this identity call the data plane of a<b>? \033[31mNO\033[0m — " in text
