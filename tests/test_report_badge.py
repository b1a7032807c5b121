"""badge.json: a shields.io endpoint badge coloured by the worst thing in the run.

The golden file is ``tests/golden/badge.json``; rerun with ``UPDATE_GOLDEN=1`` after an
intended change.
"""

from __future__ import annotations

import json

import pytest
from report_samples import check_golden, sample_report, simple_report

from crawler.model import Duplicate, Finding, Status
from crawler.report import badge


def test_golden_badge_json():
    check_golden("badge.json", badge.render(sample_report()))


def _badge(*statuses: Status, **kwargs) -> dict:
    report = simple_report({(f"Talk {i}", "video"): s for i, s in enumerate(statuses)}, **kwargs)
    return json.loads(badge.render(report))


def test_endpoint_shape():
    data = _badge(Status.OK, Status.OK)
    assert data == {
        "schemaVersion": 1,
        "label": "links",
        "message": "2/2 ok",
        "color": "brightgreen",
    }


@pytest.mark.parametrize(
    ("statuses", "message", "color"),
    [
        ((Status.OK, Status.OK, Status.OK), "3/3 ok", "brightgreen"),
        ((Status.OK, Status.UNVERIFIED), "1/2 ok", "yellow"),
        ((Status.OK, Status.UNVERIFIED, Status.REDIRECTED), "1/3 ok", "orange"),
        ((Status.BROKEN, Status.REDIRECTED, Status.UNVERIFIED), "0/3 ok", "red"),
        # Skipped links are not counted as checked, and online they were not verified either:
        # not green (exit 3, as for unverified ones).
        ((Status.OK, Status.SKIPPED), "1/1 ok", "yellow"),
        # Nothing verified (every link refused: private addresses) is never "0/0 ok".
        ((Status.SKIPPED, Status.SKIPPED), "not verified", "lightgrey"),
    ],
)
def test_colour_follows_the_worst_status(statuses, message, color):
    data = _badge(*statuses)
    assert (data["message"], data["color"]) == (message, color)


def test_duplicate_or_error_finding_is_red():
    report = simple_report({("A", "video"): Status.OK, ("B", "video"): Status.OK})
    a, b = (r.link for r in report.results)
    report.duplicates = [Duplicate(a.key, (a.url, b.url), (a.session_id, b.session_id), (a, b))]
    assert badge.badge(report)["color"] == "red"
    report.duplicates = []
    report.findings = [Finding("escalated", "error", a.session_id, "A", "2023-01-01", "m")]
    assert badge.badge(report)["color"] == "red"
    report.findings = [Finding("missing-slides", "warning", a.session_id, "A", "2023-01-01", "m")]
    assert badge.badge(report)["color"] == "brightgreen"


def test_offline_run_is_not_checked():
    data = _badge(Status.SKIPPED, Status.SKIPPED, offline=True)
    assert (data["message"], data["color"]) == ("not checked", "lightgrey")


def test_network_unreachable_is_not_verified():
    data = _badge(Status.UNVERIFIED, Status.UNVERIFIED, network_unreachable=True)
    assert (data["message"], data["color"]) == ("not verified", "lightgrey")


def test_an_offline_run_still_shows_what_the_catalogue_alone_proves(tmp_path):
    from pathlib import Path

    from crawler.config import CheckOptions
    from crawler.pipeline import run_check

    root = Path(__file__).resolve().parent.parent
    report = run_check(CheckOptions(root / "catalog.yaml", tmp_path, offline=True))
    data = json.loads(badge.render(report))
    assert (data["message"], data["color"]) == ("not checked, 1 duplicated", "red")
