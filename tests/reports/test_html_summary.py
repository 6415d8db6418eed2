"""The HTML report's summary cards: one per status with its count, and the total — the numbers a reader sees
first must be the report's own (checked on a real twin report whose counts all differ, and on one holding every
status)."""

from __future__ import annotations

import re

from helpers.reports import (
    ScenarioReports,
    every_status_report,
    scenario_reports,  # noqa: F401  (session fixture)
)

from preflight.model import Report, Status
from preflight.reports import RenderOptions, html


def _check_cards(report: Report) -> None:
    text = html.render(report, RenderOptions())
    summary = text.split('id="summary">', 1)[1].split("</section>", 1)[0]
    cards = dict(re.findall(r'data-status="(\w+)"><span class="n">(\d+)</span>', summary))
    expected = report.counts()
    assert cards == {s.value: str(expected[s.value]) for s in Status}
    assert f'<div class="card total"><span class="n">{len(report.results)}</span>' in summary


def test_every_status_report() -> None:
    _check_cards(every_status_report())


def test_a_real_report_whose_counts_all_differ(scenario_reports: ScenarioReports) -> None:  # noqa: F811
    report = scenario_reports.get("no-custom-subdomain")  # (one whose non-zero counts all differ)
    nonzero = [n for n in report.counts().values() if n]
    assert len(nonzero) >= 3 and len(set(nonzero)) == len(nonzero), report.counts()
    _check_cards(report)
