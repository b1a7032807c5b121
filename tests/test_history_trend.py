"""The trend: the counts of the last runs, carried from report to report (``history.trend``),
written to and read back from ``latest.json``, drawn in ``latest.md``."""

from __future__ import annotations

import json

import pytest
from report_samples import sample_report, simple_report

from crawler import history
from crawler.model import Status, TrendPoint
from crawler.report import json as json_report
from crawler.report import markdown, write_reports
from crawler.store import decode
from crawler.store.previous import read_history

OK, BROKEN = Status.OK, Status.BROKEN


def night(date: str, broken: bool = False, **kwargs: bool) -> object:
    statuses = {("A", "slides"): OK, ("A", "video"): BROKEN if broken else OK}
    return simple_report(statuses, generated_at=f"{date}T03:17:00Z", **kwargs)


def test_each_run_adds_its_counts_to_the_previous_reports_trend(tmp_path) -> None:
    first = night("2026-11-01")
    history.apply(first, None)
    assert first.trend == [TrendPoint("2026-11-01", ok=2, broken=0, redirected=0, unverified=0)]
    write_reports(first, tmp_path)

    second = night("2026-11-02", broken=True)
    history.apply(second, history.load_history(tmp_path))
    assert [(p.date, p.ok, p.broken) for p in second.trend] == [
        ("2026-11-01", 2, 0),
        ("2026-11-02", 1, 1),
    ]


def test_a_rerun_the_same_day_replaces_that_days_point() -> None:
    first = night("2026-11-02", broken=True)
    history.apply(first, None)
    rerun = night("2026-11-02")
    history.apply(rerun, first)
    assert [(p.date, p.ok, p.broken) for p in rerun.trend] == [("2026-11-02", 2, 0)]


def test_the_trend_keeps_the_last_90_runs() -> None:
    previous = night("2026-12-31")
    previous.trend = [
        TrendPoint(f"2026-{m:02}-{d:02}", 1, 0, 0, 0) for m in range(1, 13) for d in range(1, 9)
    ]  # 96 points
    report = night("2027-01-01")
    history.apply(report, previous)
    assert len(report.trend) == history.TREND_RUNS == 90
    assert report.trend[-1].date == "2027-01-01"
    assert report.trend[0].date == previous.trend[7].date


@pytest.mark.parametrize("kind", ["offline", "network_unreachable"])
def test_a_run_that_checked_nothing_adds_no_point(kind: str) -> None:
    previous = night("2026-11-01")
    history.apply(previous, None)
    report = night("2026-11-02", **{kind: True})
    history.apply(report, previous)
    assert report.trend == previous.trend


def test_the_trend_is_one_point_per_line_and_reads_back(tmp_path) -> None:
    report = sample_report()
    text = json_report.render(report)
    assert (
        '\n    {"date": "2026-11-24", "ok": 7, "broken": 1, "redirected": 1, "unverified": 1}'
        in (text)
    )
    path = tmp_path / "latest.json"
    path.write_text(text, encoding="utf-8")
    assert decode.load(path).trend == report.trend
    assert read_history(path).trend == report.trend


def test_a_report_without_trend_reads_as_an_empty_one(tmp_path) -> None:
    data = json_report.to_dict(sample_report())
    del data["trend"]
    assert decode.from_dict(data).trend == []


@pytest.mark.parametrize(
    ("point", "message"),
    [
        ({"date": '2026-11-02"] ; click', "ok": 1}, "expected a date YYYY-MM-DD"),
        ({"date": "2026-02-30"}, "not a real day"),
        ({"date": "2026-11-02", "ok": -1}, "report.trend[0].ok: expected a whole number"),
        ({"date": "2026-11-02", "ok": "1"}, "expected a whole number"),
        ({"date": "2026-11-02", "ok": True}, "expected a whole number"),
    ],
)
def test_a_damaged_trend_is_refused_naming_the_place(point: dict, message: str) -> None:
    data = json_report.to_dict(sample_report())
    data["trend"] = [{"date": "2026-11-02", "ok": 1, "broken": 0, "redirected": 0,
                      "unverified": 0, **point}]  # fmt: skip
    with pytest.raises(ValueError, match=message.replace("[", r"\[")):
        decode.from_dict(json.loads(json.dumps(data)))


def test_the_chart_draws_only_dates_and_numbers() -> None:
    report = sample_report()
    report.trend = [*report.trend, TrendPoint('x"]\nline [1', 1, 1, 1, 1)]
    text = markdown.render(report)
    chart = text.split("```mermaid\n", 1)[1].split("```", 1)[0]
    assert 'x-axis ["2026-11-23", "2026-11-24", "2026-11-25"]' in chart
    assert 'x"]' not in text
    assert chart.count("    line [") == 4


def test_no_chart_before_the_first_run_that_counted_links() -> None:
    report = sample_report()
    report.trend = []
    assert "mermaid" not in markdown.render(report)
    assert "Health over time" not in markdown.render(report)


def test_a_broken_link_says_since_when() -> None:
    report = sample_report()
    report.results[4].first_failed = "2026-11-02T03:17:00Z"
    report.results[4].consecutive_failures = 12
    assert "broken since 2026-11-02, 12 nights" in markdown.render(report)
