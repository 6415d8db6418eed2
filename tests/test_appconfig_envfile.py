"""preflight.envfile: a .env read as python-dotenv's load_dotenv() reads it — the environment wins, values with
quotes, ``export``, comments, escapes and ``${…}`` — and a bad path is one line of bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from preflight.envfile import ENV_FILE_MAX_BYTES, app_environment, parse_dotenv
from preflight.errors import ConfigError


def test_plain_quoted_exported_and_commented_values() -> None:
    text = (
        "# a comment\n"
        "\n"
        "PLAIN=value\n"
        "SPACED = spaced value   \n"
        "export EXPORTED=yes\n"
        "TRAILING=abc # a comment after whitespace\n"
        "HASH=abc#def\n"
        "SINGLE='literal ${PLAIN} \\n'\n"
        'DOUBLE="line1\\nline2 \\"quoted\\""\n'
        "EMPTY=\n"
        "EMPTY_QUOTED=''\n"
    )
    assert parse_dotenv(text) == {
        "PLAIN": "value",
        "SPACED": "spaced value",
        "EXPORTED": "yes",
        "TRAILING": "abc",
        "HASH": "abc#def",
        "SINGLE": "literal ${PLAIN} \\n",
        "DOUBLE": 'line1\nline2 "quoted"',
        "EMPTY": "",
        "EMPTY_QUOTED": "",
    }


def test_a_double_quoted_value_may_span_lines() -> None:
    assert parse_dotenv('KEY="first\nsecond"\nNEXT=1\n') == {"KEY": "first\nsecond", "NEXT": "1"}


def test_lines_that_do_not_parse_are_skipped_like_python_dotenv() -> None:
    text = "NO_EQUALS\n=novalue\n1BAD=x\nUNTERMINATED='abc\nGOOD=1\n"
    assert parse_dotenv(text) == {"GOOD": "1"}


def test_interpolation_prefers_the_environment_then_earlier_lines_then_the_default() -> None:
    text = (
        "BASE=https://contoso.openai.azure.com\n"
        "ENDPOINT=${BASE}/\n"
        "FROM_ENV=${HOME_DIR}\n"
        "DEFAULTED=${MISSING:-2024-10-21}\n"
        "EMPTY_WINS=${SET_EMPTY:-default}\n"
        "LITERAL='${BASE}'\n"
    )
    values = parse_dotenv(text, {"HOME_DIR": "/home/a", "SET_EMPTY": ""})
    assert values["ENDPOINT"] == "https://contoso.openai.azure.com/"
    assert values["FROM_ENV"] == "/home/a"
    assert values["DEFAULTED"] == "2024-10-21"
    assert values["EMPTY_WINS"] == ""
    assert values["LITERAL"] == "${BASE}"


def test_a_byte_order_mark_and_crlf_lines() -> None:
    assert parse_dotenv("\ufeffA=1\r\nB='2'\r\n") == {"A": "1", "B": "2"}


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "app.env"
    path.write_text("AZURE_OPENAI_API_KEY=fromfile\nOPENAI_API_VERSION=2024-10-21\n", encoding="utf-8")
    app = app_environment({"AZURE_OPENAI_API_KEY": "fromshell"}, str(path))
    assert app.variables == {"AZURE_OPENAI_API_KEY": "fromshell", "OPENAI_API_VERSION": "2024-10-21"}
    assert app.from_file == ("OPENAI_API_VERSION",) and app.shadowed == ("AZURE_OPENAI_API_KEY",)
    assert app.source("OPENAI_API_VERSION") == str(path) and app.source("AZURE_OPENAI_API_KEY") == "environment"
    assert not app.implicit


def test_dot_env_in_the_working_directory_is_found_only_when_no_file_is_named(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("A=1\n", encoding="utf-8")
    found = app_environment({}, None, tmp_path, deployment="chat")
    assert found.implicit and found.env_file == str(tmp_path / ".env") and found.variables == {"A": "1"}
    assert found.deployment == "chat"
    assert app_environment({"B": "2"}, None, tmp_path / "nowhere").variables == {"B": "2"}


@pytest.mark.parametrize("kind", ["missing", "directory", "fifo", "large", "binary"])
def test_a_bad_env_file_is_a_one_line_config_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "bad.env"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "large":
        path.write_bytes(b"A=" + b"x" * ENV_FILE_MAX_BYTES)
    elif kind == "binary":
        path.write_bytes(b"A=\xff\xfe\n")
    with pytest.raises(ConfigError) as caught:
        app_environment({}, str(path))
    message = str(caught.value)
    assert message.startswith(f"--env-file {str(path)!r}: ") and "\n" not in message


def test_a_bad_implicit_dot_env_says_it_was_found_not_given(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"\xff\n")
    with pytest.raises(ConfigError, match=r"^the \.env in the working directory \(pass --env-file to choose another\)"):
        app_environment({}, None, tmp_path)
