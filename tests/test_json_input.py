"""JSON a person hands in is bounded (issue 17 item 6): preflight.target.read_json_file / parse_json refuse
what is not a regular file, too large, not UTF-8, not JSON or nested too deeply — each a JsonInputError saying
which, never a RecursionError, a hang or an endless read; has_bad_segment finds what would rewrite an ARM URL."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from preflight.target import JSON_MAX_DEPTH, JsonInputError, has_bad_segment, json_depth, parse_json, read_json_file

SUB = "/subscriptions/22222222-2222-4222-8222-222222222222"


def _write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "input.json"
    path.write_bytes(data)
    return path


def test_a_small_regular_file_is_read(tmp_path: Path) -> None:
    assert read_json_file(_write(tmp_path, b'\xef\xbb\xbf{"a": [1, {"b": 2}]}'), max_bytes=100) == {"a": [1, {"b": 2}]}


def test_the_size_cap_counts_bytes_and_reads_no_further(tmp_path: Path) -> None:
    path = _write(tmp_path, b"[" + b" " * 200 + b"]")
    with pytest.raises(JsonInputError, match="larger than 100 bytes"):
        read_json_file(path, max_bytes=100)
    assert read_json_file(path, max_bytes=202) == []


def test_depth_within_the_limit_parses_and_beyond_it_is_refused() -> None:
    assert json_depth(parse_json("[" * JSON_MAX_DEPTH + "]" * JSON_MAX_DEPTH)) == JSON_MAX_DEPTH
    with pytest.raises(JsonInputError, match=f"nested more than {JSON_MAX_DEPTH} levels deep"):
        parse_json("[" * (JSON_MAX_DEPTH + 1) + "]" * (JSON_MAX_DEPTH + 1))


def test_nesting_past_the_interpreter_recursion_limit_is_the_same_error() -> None:
    depth = sys.getrecursionlimit() * 5
    with pytest.raises(JsonInputError, match="nested more than"):
        parse_json('{"a":' * depth + "1" + "}" * depth)


def test_json_depth_is_iterative_and_counts_containers_only() -> None:
    assert json_depth(1) == 0
    assert json_depth({"a": [1, 2], "b": {"c": {}}}) == 3
    deep: list[object] = []
    for _ in range(sys.getrecursionlimit() * 3):
        deep = [deep]
    assert json_depth(deep) == sys.getrecursionlimit() * 3 + 1


def test_a_fifo_is_refused_at_once_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(JsonInputError, match="not a regular file"):
        read_json_file(fifo, max_bytes=100)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused(device: str) -> None:
    with pytest.raises(JsonInputError, match="not a regular file"):
        read_json_file(device, max_bytes=100)


def test_a_directory_and_a_missing_file_say_so(tmp_path: Path) -> None:
    with pytest.raises(JsonInputError, match="not a regular file"):
        read_json_file(tmp_path, max_bytes=100)
    with pytest.raises(JsonInputError, match="cannot read: No such file or directory"):
        read_json_file(tmp_path / "missing.json", max_bytes=100)


def test_not_utf8_and_not_json_are_named(tmp_path: Path) -> None:
    with pytest.raises(JsonInputError, match=r"not UTF-8 text \(byte 2: 0xff\)"):
        read_json_file(_write(tmp_path, b'{"\xff": 1}'), max_bytes=100)
    with pytest.raises(JsonInputError, match="not valid JSON"):
        parse_json("{bad")


@pytest.mark.parametrize(
    "path",
    [
        f"{SUB}/resourceGroups/rg?api-version=1&$expand=x",
        f"{SUB}/resourceGroups/rg#frag",
        f"{SUB}/resourceGroups/..",
        f"{SUB}/resourceGroups/./x",
        f"{SUB}//resourceGroups/rg",
        f"{SUB}/resourceGroups/rg/",  # an empty last segment: callers strip a trailing / first
        f"{SUB}/resourceGroups/r\ng",
        f"{SUB}/resourceGroups/r\x7fg",
        "//",
    ],
)
def test_bad_segments(path: str) -> None:
    assert has_bad_segment(path)


@pytest.mark.parametrize(
    "path",
    [
        "/",
        SUB,
        f"{SUB}/resourceGroups/my.rg-1_(x)",
        f"{SUB}/resourceGroups/rg/providers/Microsoft.CognitiveServices/accounts/a..b",
        "/providers/Microsoft.Management/managementGroups/corp",
    ],
)
def test_good_segments(path: str) -> None:
    assert not has_bad_segment(path)
