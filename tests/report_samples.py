"""Hand-built ``RunReport``s shared by the report and history tests.

Built straight from the dataclasses (no network, no catalogue file), with fixed times and
version so renderings are exact. Each call returns fresh objects: tests may mutate them.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from crawler.catalog import Position, session_id
from crawler.findings import duplicate_findings, find_duplicates
from crawler.links import make_link
from crawler.model import (
    Changes,
    Finding,
    Fix,
    FixKind,
    FixSource,
    Hop,
    Link,
    LinkResult,
    RunReport,
    SessionInfo,
    Status,
    TrendPoint,
)

GENERATED_AT = "2026-11-25T03:17:00Z"
PREVIOUS_AT = "2026-11-24T03:16:00Z"

HOSTILE_TITLE = (
    "Evil | title\nwith <script>alert(1)</script> [x](javascript:alert(1)) "
    "`code` **bold** _em_ ~~gone~~ ![img](http://e.vil/i.png) <b>html</b> &amp; \\ # end"
)


def _session(title: str, date: str, presenters: tuple[str, ...], line: int) -> SessionInfo:
    return SessionInfo(
        id=session_id(dt.date.fromisoformat(date), title),
        title=title,
        date=date,
        presenters=presenters,
        line=line,
    )


def _link(s: SessionInfo, field: str, url: str, line: int) -> Link:
    return make_link(s.id, s.title, s.date, field, url, Position(line, 13))


def sample_report() -> RunReport:
    """Five sessions with every status, a duplicate, findings, changes and a hostile title."""
    tvm = _session("TVM: An Automated End-to-End Optimizing Compiler", "2021-02-25", ("Ann",), 5)
    xla = _session("XLA: Optimizing Compiler for Machine Learning", "2021-03-11", ("Tee Jung",), 13)
    mvit = _session("MobileViT: Light-weight, General-purpose Vision Transformer", "2022-08-22",
                    ("Kim", "Lee"), 22)  # fmt: skip
    eff = _session("EfficientFormer: Vision Transformers at MobileNet Speed", "2022-09-05",
                   ("Park",), 30)  # fmt: skip
    evil = _session(HOSTILE_TITLE, "2022-10-01", ("Mal | lory <i>x</i>",), 38)

    tvm_slides = _link(
        tvm, "slides", "https://github.com/ConstantPark/DL_Compiler/blob/main/TVM.pdf", 10
    )
    tvm_video = _link(tvm, "video", "https://youtu.be/wzy1QMci_Zs", 11)
    tvm_home = _link(tvm, "presenter", "https://ann.example.org/", 9)
    xla_slides = _link(xla, "slides", "http://old.example.org/xla.pdf", 18)
    xla_video = _link(xla, "video", "https://youtu.be/_3ykXQH5h2o", 19)
    mvit_video = _link(mvit, "video", "https://youtu.be/AAAAAAAAAAA", 28)
    eff_slides = _link(eff, "slides", "https://slow.example.net/eff.pdf", 35)
    eff_video = _link(eff, "video", "https://www.youtube.com/watch?v=AAAAAAAAAAA&t=5", 36)
    evil_slides = _link(evil, "slides", "https://e.vil/a|b<script>", 43)
    evil_video = _link(evil, "video", "https://youtu.be/BBBBBBBBBBB", 44)

    results = [
        LinkResult(tvm_slides, Status.OK, "PDF", http_status=200, size=2_345_678,
                   title="TVM.pdf"),
        LinkResult(tvm_video, Status.OK, "video available", title="TVM: End-to-End [talk]",
                   duration=3725, uploader="DL Study", upload_date="20210226",
                   metadata_fetched_at="2026-11-20T03:00:00Z"),
        LinkResult(tvm_home, Status.OK, "HTTP 200", http_status=200),
        LinkResult(xla_slides, Status.REDIRECTED, "moved permanently (301)", http_status=200,
                   final_url="https://new.example.org/xla.pdf",
                   redirects=[Hop("http://old.example.org/xla.pdf", 301)],
                   fix=Fix("https://new.example.org/xla.pdf", FixKind.CERTAIN, FixSource.REDIRECT),
                   size=912),
        LinkResult(xla_video, Status.BROKEN, "Video unavailable", first_failed=GENERATED_AT,
                   consecutive_failures=1),
        LinkResult(mvit_video, Status.OK, "video available", title="MobileViT explained",
                   duration=59, note="age-restricted"),
        LinkResult(eff_slides, Status.UNVERIFIED, "timed out after 3 attempts",
                   network_error=True, first_failed="2026-11-22T03:15:00Z",
                   consecutive_failures=3),
        LinkResult(eff_video, Status.OK, "video available", title="MobileViT explained",
                   duration=59),
        LinkResult(evil_slides, Status.BROKEN, "HTTP 404 <b>Not Found</b> | gone",
                   http_status=404, first_failed=GENERATED_AT, consecutive_failures=1),
        LinkResult(evil_video, Status.OK, "video available", title=HOSTILE_TITLE, duration=10),
    ]  # fmt: skip
    # As the pipeline makes them: the duplicate finding comes from the duplicate itself.
    duplicates = find_duplicates([mvit_video, eff_video])
    findings = [
        *duplicate_findings(duplicates),
        Finding("missing-slides", "warning", mvit.id, mvit.title, mvit.date,
                "no slides in the catalogue", field="slides", line=22),
        Finding("date-order", "warning", evil.id, evil.title, evil.date,
                "dated after the next session | out of order", line=38),
        Finding("wrong-video", "error", eff.id, eff.title, eff.date,
                "the video's title does not match the session", field="video",
                url=eff_video.url, fix="check the video link", line=36),
    ]  # fmt: skip
    removed = _session("Old talk", "2020-01-01", ("Gone",), 0)
    return RunReport(
        catalog_title="Deep Learning Compiler Study",
        catalog_path="catalog.yaml",
        catalog_sha256="9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        generated_at=GENERATED_AT,
        duration_seconds=42.4,
        version="0.1.0",
        offline=False,
        sessions=[tvm, xla, mvit, eff, evil],
        results=results,
        findings=findings,
        duplicates=duplicates,
        changes=Changes(
            newly_broken=[results[4], results[8]],
            recovered=[results[0]],
            new_sessions=[evil],
            removed_sessions=[removed],
            baseline_at=PREVIOUS_AT,
        ),
        # Three runs: the last is this one (its counts are the summary's).
        trend=[
            TrendPoint("2026-11-23", ok=8, broken=0, redirected=1, unverified=1),
            TrendPoint("2026-11-24", ok=7, broken=1, redirected=1, unverified=1),
            TrendPoint("2026-11-25", ok=6, broken=2, redirected=1, unverified=1),
        ],
    )


def simple_report(
    statuses: dict[tuple[str, str], Status],
    *,
    generated_at: str = GENERATED_AT,
    offline: bool = False,
    network_unreachable: bool = False,
) -> RunReport:
    """A report with one link per ``(session title, field)``, all in 2023, given statuses."""
    sessions: dict[str, SessionInfo] = {}
    results = []
    for n, ((title, field), status) in enumerate(statuses.items()):
        if title not in sessions:
            sessions[title] = _session(title, "2023-01-0" + str(len(sessions) % 9 + 1), (), n)
        s = sessions[title]
        url = f"https://example.org/{s.id}/{field}"
        results.append(
            LinkResult(
                _link(s, field, url, n + 1),
                status,
                f"{status.value} detail",
                network_error=network_unreachable and status is Status.UNVERIFIED,
            )
        )
    return RunReport(
        catalog_title="Study",
        catalog_path="catalog.yaml",
        generated_at=generated_at,
        duration_seconds=1.0,
        version="0.1.0",
        offline=offline,
        sessions=list(sessions.values()),
        results=results,
        findings=[],
        duplicates=[],
        network_unreachable=network_unreachable,
    )


GOLDEN_DIR = Path(__file__).parent / "golden"


def check_golden(name: str, text: str) -> None:
    """Compare ``text`` with ``tests/golden/NAME``; ``UPDATE_GOLDEN=1`` rewrites the file."""
    path = GOLDEN_DIR / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    assert path.exists(), f"{path} missing: run the tests once with UPDATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    assert text == expected, (
        f"{name} differs from {path}; if the change is intended, rerun with UPDATE_GOLDEN=1 "
        "and review the diff"
    )
