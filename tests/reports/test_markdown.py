"""Markdown for PR comments and step summaries: a table that hostile text cannot break, fixes as code blocks."""

from __future__ import annotations

from helpers.reports import XSS, every_status_report

from preflight.reports import RenderOptions, markdown


def test_inline_text_is_escaped_for_markdown_and_html() -> None:
    assert markdown.escape("a|b *c* <script>") == r"a\|b \*c\* &lt;script&gt;"
    assert markdown.escape("two\nlines") == "two lines"
    assert markdown.code("plain") == "`plain`"
    assert markdown.code("a|b") == "<code>a&#124;b</code>"


def test_fences_outgrow_backticks_in_commands() -> None:
    block = markdown.fence("echo ````x````", "sh")
    assert block.startswith("`````sh\n") and block.endswith("\n`````")


def test_the_report_reads_like_a_pr_comment() -> None:
    text = markdown.render(every_status_report(), RenderOptions())
    assert text.startswith("## 💥 azure-preflight: ERROR\n")
    assert "❌ 2 FAIL · 💥 1 ERROR · ⚠️ 1 WARN · ✅ 1 PASS · ⏭️ 1 SKIP" in text
    assert "| Status | Check | Subject | Summary |" in text
    # the fix command verbatim in a fenced block GitHub gives a copy button
    assert '```sh\naz role assignment create --assignee "a|b" --role' in text
    assert "<summary>❌ <b>FAIL</b> <code>rbac.data-action</code>" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert XSS not in text.replace("```json", "").split("```")[0]  # not before the first code block
    assert "Root cause reported by `signin.chain`." in text
    # PASS details only with --verbose
    assert "all good" in text and "AZURE_TENANT_ID" not in text
    assert "AZURE_TENANT_ID" in markdown.render(every_status_report(), RenderOptions(verbose=True))


def test_long_evidence_is_cut() -> None:
    from dataclasses import replace

    from preflight.model import Evidence

    report = every_status_report()
    big = replace(report.results[2], evidence=(Evidence("huge", "x" * 50_000),))
    text = markdown.render(replace(report, results=(big,)), RenderOptions())
    assert len(text) < 10_000 and "more characters in the JSON report" in text
