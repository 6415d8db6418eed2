"""The HTML report without a browser: autoescaping, the CSP hashes, self-containment (tests/reports/
test_html_browser.py opens it in Chromium)."""

from __future__ import annotations

import base64
import hashlib
import re

from helpers.reports import XSS, every_status_report

from preflight.reports import RenderOptions, html


def test_autoescape_is_on_for_the_html_j2_template() -> None:
    env = html._environment()
    assert env.autoescape is True
    assert html.TEMPLATE.endswith(".html.j2")


def test_data_from_azure_is_escaped() -> None:
    text = html.render(every_status_report(), RenderOptions())
    assert XSS not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert text.count("<script") == 1
    assert "Environment &lt;config&gt;" in text and "accounts/a&lt;b&gt;" in text
    # a non-http(s) docs entry is text, not a link
    assert 'href="javascript' not in text and "<li>javascript:alert(1)</li>" in text


def test_the_csp_allows_exactly_the_inline_style_and_script() -> None:
    text = html.render(every_status_report(), RenderOptions())
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', text)
    assert csp is not None
    policy = csp.group(1).replace("&#39;", "'")
    assert policy.startswith("default-src 'none';")
    for tag in ("style", "script"):
        body = re.search(rf"<{tag}>(.*?)</{tag}>", text, re.DOTALL)
        assert body is not None
        digest = base64.b64encode(hashlib.sha256(body.group(1).encode()).digest()).decode()
        assert f"{tag}-src 'sha256-{digest}'" in policy
    assert "</script" not in html._source(html._environment(), "report.js")


def test_self_contained() -> None:
    text = html.render(every_status_report(), RenderOptions())
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text.split("<main>")[0])
    assert "@import" not in text and "url(" not in text


def test_control_characters_are_shown_not_emitted() -> None:
    text = html.render(every_status_report(), RenderOptions())
    assert "control\\x00chars\\x1b[31m here" in text and "\\x07bell" in text
    assert "\x00" not in text and "\x1b" not in text and "\x07" not in text
