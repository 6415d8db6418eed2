"""The HTML report in a real headless Chromium (Debian's ``chromium``, driven by Playwright for Python).

Opened from a file, as a person opens a CI artefact: it must load with no console error and no request besides
the file itself, show a ``<script>`` display name that came from Azure (through the twin) as text, hide PASS
rows when PASS is unticked, search, expand, copy, print expanded — and leave a screenshot behind.

Skipped only when Chromium or Playwright is not installed (``.ci/run`` installs both); the reason is printed.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from helpers.reports import (
    XSS,
    ScenarioReports,
    every_status_report,
    scenario_reports,  # noqa: F401  (session fixture)
)

from preflight.model import Report, Status
from preflight.reports import RenderOptions, html

pytestmark = pytest.mark.twin  # drives a real Chromium: processes, not the pure layer

CHROMIUM = os.environ.get("PREFLIGHT_CHROMIUM", "/usr/bin/chromium")
# Flags for a quiet, offline, sandbox-less browser (CI runs as root in a container).
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium; .ci/run does it when apt works)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        pytest.skip(f"Playwright for Python is not installed ({exc}); pip install '.[test]'")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


class Page:
    """A page opened from a report file, recording everything that must not happen."""

    def __init__(self, browser: Any, report: Report, path: Path) -> None:
        path.write_text(html.render(report, RenderOptions()), encoding="utf-8")
        self.url = path.as_uri()
        self.context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=True)
        self.requests: list[str] = []
        self.problems: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        page = self.context.new_page()
        page.on(
            "console",
            lambda msg: (
                self.problems.append(f"console.{msg.type}: {msg.text}") if msg.type in ("error", "warning") else None
            ),
        )
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("dialog", lambda dialog: (self.problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
        page.goto(self.url, wait_until="load")
        page.wait_for_timeout(100)  # let anything deferred (late errors, requests) surface
        self.page = page

    def visible(self, status: str) -> int:
        return int(self.page.locator(f"tbody.result[data-status={status}]:visible").count())

    def close(self) -> None:
        self.context.close()


def test_the_xss_scenario_loads_cleanly_offline_and_shows_the_script_name_as_text(
    browser: Any,
    scenario_reports: ScenarioReports,  # noqa: F811
    tmp_path: Path,
) -> None:
    report = scenario_reports.xss()
    carriers = [r for r in report.results if XSS in repr([e.value for e in r.evidence]) or XSS in r.summary]
    assert carriers, "the twin's display name must reach the report for this test to mean anything"
    view = Page(browser, report, tmp_path / "xss-report.html")
    try:
        page = view.page
        assert view.problems == []
        assert view.requests == [view.url], "the report must not request anything but itself"
        assert page.evaluate("document.scripts.length") == 1
        assert page.evaluate("window.__xss === undefined")
        page.click("#expand-all")
        carrier = page.locator(f"tbody#r{report.results.index(carriers[0])} .evidence")
        assert XSS in carrier.inner_text(), "the display name is shown, literally, as text"
        assert page.locator("tbody.result script").count() == 0, "and never became an element"
        assert page.locator("#tool-version").inner_text() == f"azure-preflight {report.tool_version}"
        assert report.target["resource_id"] in page.locator("#target").inner_text()
        shot = tmp_path / "xss-report.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        print(f"screenshot: {shot}")
    finally:
        view.close()
    assert view.problems == []


def test_filter_search_expand_copy_and_print_on_a_failing_scenario(
    browser: Any,
    scenario_reports: ScenarioReports,  # noqa: F811
    tmp_path: Path,
) -> None:
    report = scenario_reports.get("owner-without-data-role")
    counts = report.counts()
    assert counts["pass"] and counts["fail"]
    view = Page(browser, report, tmp_path / "owner-report.html")
    try:
        page = view.page
        assert view.problems == [] and view.requests == [view.url]
        # The first screen: the answer and the command that fixes it, above everything else (issue 19)
        answer = page.locator("#answer")
        assert "NO" in answer.locator(".answer-word").inner_text()
        assert answer.locator("ol.steps pre code").first.inner_text().startswith("az role assignment create")
        # failures first, passes collapsed below them
        first_fail = page.locator("tbody.result[data-status=fail]").first.bounding_box()
        passes = page.locator("#passes").bounding_box()
        assert first_fail is not None and passes is not None and first_fail["y"] < passes["y"]
        assert answer.bounding_box()["y"] < first_fail["y"]  # type: ignore[index]
        assert view.visible("fail") == counts["fail"] and view.visible("pass") == 0, "passes start collapsed"
        page.click("#passes > summary")
        assert view.visible("pass") == counts["pass"]
        # FAIL details start open: the fix is the first thing a reader sees
        assert page.locator("tbody.result[data-status=fail] details[open]").count() >= 1

        page.uncheck("#controls input[value=pass]")
        assert view.visible("pass") == 0, "unticking PASS hides every PASS row"
        assert view.visible("fail") == counts["fail"]
        shown = len(report.results) - counts["pass"]
        assert page.locator("#shown").inner_text() == f"{shown} of {len(report.results)} shown"
        page.check("#controls input[value=pass]")
        assert view.visible("pass") == counts["pass"]

        page.fill("#search", "RBAC.DATA-ACTION")  # case-insensitive, over ids, summaries and evidence
        visible = page.locator("tbody.result:visible")
        assert 1 <= visible.count() < len(report.results)
        assert all("rbac.data-action" in text.lower() for text in visible.all_text_contents())
        assert page.locator("tbody.result[data-check='rbac.data-action']:visible").count() == sum(
            1 for r in report.results if r.check_id == "rbac.data-action"
        )
        page.fill("#search", "no such text anywhere")
        assert page.locator("tbody.result:visible").count() == 0
        assert page.locator("#no-match").is_visible()
        page.fill("#search", "")

        command = page.locator("tbody.result[data-status=fail] button.copy").first
        command.scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "owner-report.png"), full_page=True)
        # The label flips asynchronously (clipboard promise) and flips back after 1.5 s: record every
        # label the button shows instead of sampling it once, which raced on a slow CI machine.
        command.evaluate("""button => {
            window.copyLabels = [];
            new MutationObserver(() => window.copyLabels.push(button.textContent))
                .observe(button, {childList: true, characterData: true, subtree: true});
        }""")
        command.click()
        give_up = time.monotonic() + 10  # polled from Python: the page's CSP forbids wait_for_function's eval
        while not page.evaluate("window.copyLabels.length") and time.monotonic() < give_up:
            page.wait_for_timeout(20)
        assert page.evaluate("window.copyLabels")[:1] in (["Copied"], ["Press Ctrl+C"])

        page.click("#collapse-all")
        assert page.locator("details[open]").count() == 0
        page.emulate_media(media="print")
        page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
        assert page.locator("details:not([open])").count() == 0, "printing shows every detail"
        assert not page.locator("#controls").is_visible(), "and no controls"
        page.evaluate("window.dispatchEvent(new Event('afterprint'))")
        assert page.locator("details[open]").count() == 0, "what the reader had is restored"
    finally:
        view.close()
    assert view.problems == []


def test_every_status_and_hostile_text_render_cleanly(browser: Any, tmp_path: Path) -> None:
    report = every_status_report()
    view = Page(browser, report, tmp_path / "every-status.html")
    try:
        page = view.page
        assert view.problems == [] and view.requests == [view.url]
        page.click("#passes > summary")  # passes start collapsed
        for status in Status:
            assert view.visible(status.value) == sum(1 for r in report.results if r.status is status)
        # a docs entry that is not http(s) (javascript:…) is text, never a link
        assert page.locator("a[href^='javascript']").count() == 0
        assert page.evaluate("document.scripts.length") == 1
        page.click("#expand-all")
        page.screenshot(path=str(tmp_path / "every-status.png"), full_page=True)
    finally:
        view.close()
    assert view.problems == []
