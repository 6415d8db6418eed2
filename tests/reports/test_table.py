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
