"""``Report.tables`` in the human formats: HTML and Markdown show each table collapsible, with a header row from
the keys, escaped, and capped (a large audit has 100,000 rows; a step summary must stay under 1 MiB) with a note
pointing at the CSV/JSON. The renderers stay generic: a hand-built table, then a real ``preflight audit``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import replace

import pytest

from helpers.audit_scenarios import audit_in_process, audit_scenario
from helpers.reports import XSS, every_status_report

from preflight.model import Report
from preflight.reports import RenderOptions, html, json_report, markdown
from preflight.reports.tables import HTML_MAX_ROWS, MARKDOWN_MAX_ROWS, views
from preflight.twin import Twin


def _report(rows: int) -> Report:
    table = tuple(
        {"principal": f"user{i}@contoso.com", "role": "Reader", "note": XSS if i == 0 else None} for i in range(rows)
    )
    return replace(every_status_report(), tables={"assignments": table, "empty": ()})


def test_views_take_every_key_in_first_seen_order_and_count_the_rest() -> None:
    [view] = views({"t": ({"a": 1}, {"b": 2, "a": 3}, {"c": 4})}, limit=2)
    assert view.columns == ("a", "b") and len(view.rows) == 2 and view.total == 3 and view.more == 1
    assert view.note == "1 more rows — see the CSV/JSON report"
    assert views({"t": ({"a": 1},)}, limit=2)[0].note is None


def test_html_renders_each_table_escaped_collapsible_and_capped() -> None:
    text = html.render(_report(HTML_MAX_ROWS + 7), RenderOptions())
    section = text[text.index('<section class="extra-table">') :]
    assert "<h2>assignments</h2>" in section and "<h2>empty</h2>" in section
    assert '<th scope="col">principal</th><th scope="col">role</th><th scope="col">note</th>' in section
    assert section.count("<tr>") == HTML_MAX_ROWS + 1  # the header row and the capped body
    assert "user0@contoso.com" in section and f"user{HTML_MAX_ROWS}@contoso.com" not in section
    assert "7 more rows — see the CSV/JSON report" in section
    assert XSS not in text and "&lt;script&gt;" in section
    assert re.search(r"<details>\s*<summary>507 rows, the first 500 shown</summary>", section)
    assert "No rows." in section


def test_a_small_html_table_starts_open_and_has_no_note() -> None:
    section = html.render(_report(3), RenderOptions()).split('<section class="extra-table">')[1]
    assert "<details open>" in section and "more rows" not in section and section.count("<tr>") == 4


def test_markdown_renders_each_table_capped_harder() -> None:
    text = markdown.render(_report(100_000), RenderOptions())
    assert "### assignments" in text and "<summary>100000 rows, the first 50 shown</summary>" in text
    assert "| principal | role | note |\n|---|---|---|\n" in text
    rows = [line for line in text.splitlines() if line.startswith("| user")]
    assert len(rows) == MARKDOWN_MAX_ROWS
    assert "99950 more rows — see the CSV/JSON report" in text
    assert XSS not in text and "&lt;script&gt;" in text
    assert len(text.encode()) < 64 * 1024  # far below GitHub's 1 MiB step-summary limit


def test_json_keeps_every_row_one_per_line_and_parses_to_the_document() -> None:
    report = _report(1234)
    text = json_report.render(report, RenderOptions())
    assert json.loads(text) == json.loads(json.dumps(json_report.to_document(report), default=str))
    lines = text.splitlines()
    assert sum(1 for line in lines if line.startswith('      {"principal": ')) == 1234, "a row per line"
    assert '    "empty": []' in lines and text.endswith("}\n")
    plain = replace(report, tables={})
    assert (
        json_report.render(plain, RenderOptions())
        == json.dumps(json_report.to_document(plain), indent=2, ensure_ascii=False, default=str) + "\n"
    )


def test_a_report_without_tables_renders_as_before() -> None:
    report = every_status_report()
    assert '<section class="extra-table">' not in html.render(report, RenderOptions())
    assert markdown.render(report, RenderOptions()).endswith("</details>\n")


@pytest.fixture(scope="module")
def audit_report(twin_session: Twin) -> Iterator[Report]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        yield audit_in_process(twin_session, monkeypatch, audit_scenario())


def test_a_real_audit_shows_its_assignments(audit_report: Report) -> None:
    rows = audit_report.tables["assignments"]
    assert rows
    first = next(iter(rows[0]))
    page = html.render(audit_report, RenderOptions())
    assert "<h2>assignments</h2>" in page and f'<th scope="col">{first}</th>' in page
    assert page.split("<h2>assignments</h2>")[1].count("<tr>") == len(rows) + 1
    summary = markdown.render(audit_report, RenderOptions())
    assert "### assignments" in summary and f"<summary>{len(rows)} rows</summary>" in summary
