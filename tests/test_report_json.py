"""latest.json: exact rendering (golden file), shape and summary (read back: test_store_*.py).

The golden file is ``tests/golden/latest.json``; rerun with ``UPDATE_GOLDEN=1`` after an
intended change and review the diff.
"""

from __future__ import annotations

import copy

from report_samples import check_golden, sample_report

from crawler.model import SessionInfo
from crawler.report import json as json_report


def test_golden_latest_json():
    check_golden("latest.json", json_report.render(sample_report()))


def test_shape_and_summary():
    data = json_report.to_dict(sample_report())
    assert list(data)[:9] == [
        "schema_version",
        "generated_at",
        "catalog",
        "crawler_version",
        "duration_seconds",
        "offline",
        "network_unreachable",
        "shard",
        "summary",
    ]
    assert data["schema_version"] == json_report.SCHEMA_VERSION == 2
    assert data["catalog"] == {
        "title": "Deep Learning Compiler Study",
        "path": "catalog.yaml",
        "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    }
    assert data["summary"] == {
        "links": 10,
        "ok": 6,
        "redirected": 1,
        "broken": 2,
        "unverified": 1,
        "skipped": 0,
        "duplicated": 1,
        "findings": 4,
    }
    first = data["links"][0]
    assert first["session"] == "2021-02-25-tvm-an-automated-end-to-end-optimizing-compiler"
    assert (first["field"], first["status"], first["size"]) == ("slides", "ok", 2345678)
    assert data["links"][3]["redirects"] == [
        {"url": "http://old.example.org/xla.pdf", "status": 301}
    ]
    assert data["changes"]["newly_broken"][0] == {
        "session": "2021-03-11-xla-optimizing-compiler-for-machine-learning",
        "field": "video",
        "url": "https://youtu.be/_3ykXQH5h2o",
        "line": 19,
    }
    assert data["changes"]["removed_sessions"] == ["2020-01-01-old-talk"]


def test_render_is_utf8_indented_with_trailing_newline():
    report = sample_report()
    report.sessions[0] = SessionInfo("2021-01-01-x", "컴파일러 스터디", "2021-01-01", ("이제민",))
    text = json_report.render(report)
    assert "컴파일러 스터디" in text and "\\u" not in text
    assert text.endswith("}\n") and text.startswith('{\n  "schema_version": 2,')


def test_to_dict_does_not_share_state_with_the_report():
    report = sample_report()
    data = json_report.to_dict(report)
    before = copy.deepcopy(report)
    data["links"][0]["redirects"].append({"url": "x", "status": 1})
    data["sessions"][0]["presenters"].append("someone")
    assert report == before
