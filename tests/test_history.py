"""History: failure streaks across runs, escalation, changes, and reading the previous report.

Each test plays consecutive nightly runs: build the report of run N, ``apply`` it against run
N-1 (usually after a trip through ``latest.json``, as in production).
"""

from __future__ import annotations

import dataclasses
import json
import logging

import pytest
from report_samples import simple_report

from crawler import history
from crawler.model import Status
from crawler.report import json as json_report
from crawler.report import write_reports
from crawler.store import decode
from crawler.store.previous import History, Remembered, link_key

DAY1 = "2026-11-23T03:00:00Z"
DAY2 = "2026-11-24T03:00:00Z"
DAY3 = "2026-11-25T03:00:00Z"

TALK = ("Talk", "video")
OTHER = ("Other", "slides")


def run(statuses, at, previous=None, *, fail_after=1, **kwargs):
    """One run: build, apply history, and return it as the next run will read it (JSON)."""
    report = simple_report(statuses, generated_at=at, **kwargs)
    history.apply(report, previous, fail_after=fail_after)
    return decode.from_dict(json_report.to_dict(report))


def result(report, key):
    title, field = key
    return next(
        r for r in report.results if r.link.session_title == title and r.link.field == field
    )


def escalations(report):
    return [f for f in report.findings if f.kind == "escalated"]


def test_failing_twice_counts_two_and_keeps_the_first_failure_time():
    day1 = run({TALK: Status.UNVERIFIED, OTHER: Status.OK}, DAY1)
    assert (result(day1, TALK).consecutive_failures, result(day1, TALK).first_failed) == (1, DAY1)
    assert (result(day1, OTHER).consecutive_failures, result(day1, OTHER).first_failed) == (0, None)

    day2 = run({TALK: Status.BROKEN, OTHER: Status.OK}, DAY2, day1)
    assert result(day2, TALK).consecutive_failures == 2
    assert result(day2, TALK).first_failed == DAY1


def test_fail_after_two_escalates_a_link_unverified_twice():
    day1 = run({TALK: Status.UNVERIFIED}, DAY1, fail_after=2)
    assert escalations(day1) == []
    day2 = run({TALK: Status.UNVERIFIED}, DAY2, day1, fail_after=2)
    [finding] = escalations(day2)
    assert finding.severity == "error"
    assert (finding.field, finding.url, finding.line) == ("video", result(day2, TALK).link.url, 1)
    assert finding.message.startswith("unverified for 2 consecutive runs since 2026-11-23")


def test_default_fail_after_never_escalates():
    previous = None
    for at in (DAY1, DAY2, DAY3):
        previous = run({TALK: Status.UNVERIFIED}, at, previous)
    assert result(previous, TALK).consecutive_failures == 3
    assert escalations(previous) == []


def test_fail_after_three_waits_for_the_third_run_and_broken_never_escalates():
    day1 = run({TALK: Status.UNVERIFIED, OTHER: Status.BROKEN}, DAY1, fail_after=3)
    day2 = run({TALK: Status.UNVERIFIED, OTHER: Status.BROKEN}, DAY2, day1, fail_after=3)
    assert escalations(day2) == []
    day3 = run({TALK: Status.UNVERIFIED, OTHER: Status.BROKEN}, DAY3, day2, fail_after=3)
    assert [f.url for f in escalations(day3)] == [result(day3, TALK).link.url]


def test_apply_twice_does_not_duplicate_escalations():
    day1 = run({TALK: Status.UNVERIFIED}, DAY1, fail_after=2)
    report = simple_report({TALK: Status.UNVERIFIED}, generated_at=DAY2)
    history.apply(report, day1, fail_after=2)
    report.results[0].consecutive_failures = 1  # as computed fresh by the pipeline again
    history.apply(report, day1, fail_after=2)
    assert len(escalations(report)) == 1


def test_recovered_link_resets_and_is_reported():
    day1 = run({TALK: Status.BROKEN, OTHER: Status.UNVERIFIED}, DAY1)
    day2 = run({TALK: Status.OK, OTHER: Status.REDIRECTED}, DAY2, day1)
    assert [r.link.field for r in day2.changes.recovered] == ["video", "slides"]
    assert day2.changes.newly_broken == []
    assert result(day2, TALK).consecutive_failures == 0
    assert result(day2, TALK).first_failed is None
    assert day2.changes.baseline_at == DAY1


def test_newly_broken_only_the_first_time():
    day1 = run({TALK: Status.OK, OTHER: Status.UNVERIFIED}, DAY1)
    day2 = run({TALK: Status.BROKEN, OTHER: Status.BROKEN, ("New", "video"): Status.BROKEN},
               DAY2, day1)  # fmt: skip
    assert [r.link.session_title for r in day2.changes.newly_broken] == ["Talk", "Other", "New"]
    day3 = run({TALK: Status.BROKEN, OTHER: Status.BROKEN}, DAY3, day2)
    assert day3.changes.newly_broken == []


def test_new_and_removed_sessions():
    day1 = run({TALK: Status.OK, OTHER: Status.OK}, DAY1)
    day2 = run({TALK: Status.OK, ("Brand new", "video"): Status.OK}, DAY2, day1)
    assert [s.title for s in day2.changes.new_sessions] == ["Brand new"]
    assert [s.title for s in day2.changes.removed_sessions] == ["Other"]


def test_first_run_has_empty_changes_without_baseline():
    day1 = run({TALK: Status.BROKEN}, DAY1)
    assert day1.changes is not None
    assert day1.changes.baseline_at is None
    assert day1.changes.newly_broken == day1.changes.new_sessions == []


def test_offline_run_carries_counters_and_metadata_over():
    first = simple_report({TALK: Status.UNVERIFIED, OTHER: Status.OK}, generated_at=DAY1)
    result(first, OTHER).title = "Deck title"
    result(first, OTHER).metadata_fetched_at = DAY1
    history.apply(first, None)

    offline = run({TALK: Status.SKIPPED, OTHER: Status.SKIPPED}, DAY2, first, offline=True)
    assert result(offline, TALK).consecutive_failures == 1
    assert result(offline, TALK).first_failed == DAY1
    assert result(offline, OTHER).title == "Deck title"
    assert result(offline, OTHER).metadata_fetched_at == DAY1
    assert offline.changes.newly_broken == offline.changes.recovered == []

    day3 = run({TALK: Status.UNVERIFIED, OTHER: Status.OK}, DAY3, offline)
    assert result(day3, TALK).consecutive_failures == 2
    assert result(day3, TALK).first_failed == DAY1


def test_an_unverified_link_keeps_the_last_metadata_and_still_counts_its_failure():
    first = simple_report({TALK: Status.OK, OTHER: Status.OK}, generated_at=DAY1)
    video, deck = result(first, TALK), result(first, OTHER)
    video.title, video.duration, video.uploader, video.upload_date = "Talk video", 61, "Us", "x"
    video.metadata_fetched_at = DAY1
    deck.title, deck.size = "Deck title", 1234
    history.apply(first, None)

    night = run({TALK: Status.UNVERIFIED, OTHER: Status.UNVERIFIED}, DAY2, first)
    assert (result(night, TALK).title, result(night, TALK).duration) == ("Talk video", 61)
    assert (result(night, TALK).uploader, result(night, TALK).upload_date) == ("Us", "x")
    assert result(night, TALK).metadata_fetched_at == DAY1  # its age is still that of DAY1
    assert (result(night, OTHER).title, result(night, OTHER).size) == ("Deck title", 1234)
    assert result(night, TALK).consecutive_failures == 1  # unverified is still a failure
    # A broken link's old metadata is not carried: the server answered, and it is gone.
    gone = run({TALK: Status.BROKEN, OTHER: Status.OK}, DAY3, night)
    assert result(gone, TALK).title is None and result(gone, OTHER).size is None


def test_offline_run_between_does_not_make_an_old_breakage_new():
    day1 = run({TALK: Status.BROKEN}, DAY1)
    offline = run({TALK: Status.SKIPPED}, DAY2, day1, offline=True)
    day3 = run({TALK: Status.BROKEN}, DAY3, offline)
    assert day3.changes.newly_broken == []
    assert result(day3, TALK).consecutive_failures == 2


def test_network_unreachable_neither_counts_nor_escalates():
    day1 = run({TALK: Status.UNVERIFIED}, DAY1, fail_after=2)
    day2 = run({TALK: Status.UNVERIFIED}, DAY2, day1, fail_after=2, network_unreachable=True)
    assert result(day2, TALK).consecutive_failures == 1
    assert escalations(day2) == []


def test_previous_results_are_keyed_by_session_field_url():
    day1 = run({TALK: Status.OK, OTHER: Status.BROKEN}, DAY1)
    cache = history.previous_results(day1)
    key = (result(day1, OTHER).link.session_id, "slides", result(day1, OTHER).link.url)
    assert cache[key].status is Status.BROKEN
    # A healthy link without metadata leaves nothing to carry over: not kept, as if first seen.
    assert link_key(result(day1, TALK)) not in cache
    assert len(cache) == 1
    assert history.previous_results(None) == {}


def test_load_previous_reads_what_write_reports_wrote(tmp_path):
    assert history.load_previous(tmp_path) is None  # first run: nothing there
    report = simple_report({TALK: Status.BROKEN}, generated_at=DAY1)
    history.apply(report, None)
    write_reports(report, tmp_path)
    assert history.load_previous(tmp_path) == report


@pytest.mark.parametrize(
    "content",
    [
        b"{truncated",
        b"\xff\xfe\x00",
        b'{"schema_version": 99}',
        b'{"schema_version": 1, "links": "nope"}',
        b"[]",
    ],
)
def test_unusable_previous_report_is_a_warning_not_a_crash(tmp_path, caplog, content):
    (tmp_path / "latest.json").write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="crawler.history"):
        assert history.load_previous(tmp_path) is None
    assert "ignoring the previous report" in caplog.text


# --- the compact history a run reads (load_history) ----------------------------------------

NIGHTS = [
    ({TALK: Status.UNVERIFIED, OTHER: Status.OK, ("Gone", "slides"): Status.BROKEN}, {}),
    ({TALK: Status.UNVERIFIED, OTHER: Status.BROKEN, ("Gone", "slides"): Status.BROKEN}, {}),
    (
        {TALK: Status.SKIPPED, OTHER: Status.SKIPPED, ("New", "video"): Status.SKIPPED},
        {"offline": True},
    ),
    ({TALK: Status.UNVERIFIED, OTHER: Status.OK, ("New", "video"): Status.BROKEN}, {}),
    ({TALK: Status.UNVERIFIED, OTHER: Status.OK}, {"network_unreachable": True}),
]


def _nightly(tmp_path, read_previous):
    """Every night of NIGHTS, each reading the previous night's latest.json with
    ``read_previous(report_dir, report)``; the JSON of every night."""
    texts = []
    for night, (statuses, kwargs) in enumerate(NIGHTS):
        report = simple_report(statuses, generated_at=f"2026-11-2{night}T03:00:00Z", **kwargs)
        if night == 1:  # metadata the offline night after it carries over
            result(report, OTHER).title = "Deck title"
            result(report, OTHER).size = 12345
            result(report, OTHER).metadata_fetched_at = "2026-11-20T03:00:00Z"
        history.apply(report, read_previous(tmp_path, report), fail_after=2)
        write_reports(report, tmp_path)
        texts.append(json_report.render(report))
    return texts


def test_compact_history_counts_escalates_and_carries_over_as_the_full_report_did(tmp_path):
    def compact(report_dir, report):
        return history.load_history(
            report_dir, links=[r.link for r in report.results], sessions=report.sessions
        )

    full = _nightly(tmp_path / "full", lambda report_dir, _: history.load_previous(report_dir))
    assert _nightly(tmp_path / "compact", compact) == full
    offline, day4 = (decode.from_dict(json.loads(text)) for text in full[2:4])
    assert [s.title for s in offline.changes.removed_sessions] == ["Gone"]
    assert [s.title for s in offline.changes.new_sessions] == ["New"]
    assert result(offline, OTHER).title == "Deck title"  # carried over by the offline night
    assert result(day4, OTHER).consecutive_failures == 0
    assert [r.link.session_title for r in day4.changes.newly_broken] == ["New"]
    assert escalations(day4) and result(day4, TALK).consecutive_failures == 3


def test_compact_history_keeps_what_the_next_run_asks_for_and_nothing_else(tmp_path):
    day1 = simple_report(
        {TALK: Status.OK, OTHER: Status.OK, ("Gone", "slides"): Status.BROKEN}, generated_at=DAY1
    )
    result(day1, TALK).title, result(day1, TALK).duration = "Talk title", 3600
    history.apply(day1, None)
    write_reports(day1, tmp_path)

    day2 = simple_report({TALK: Status.OK, OTHER: Status.OK}, generated_at=DAY2)
    links = [r.link for r in day2.results]
    kept = history.load_history(tmp_path, links=links, sessions=day2.sessions)
    # Other (ok, no metadata) has nothing to carry over; Gone is not in this catalogue.
    talk_key = link_key(result(day2, TALK))
    assert list(kept.results) == [talk_key]
    assert all(type(v) is Remembered for v in kept.results.values())  # no LinkResult
    talk = kept.results[talk_key]
    assert (talk.status, talk.title, talk.duration) == (Status.OK, "Talk title", 3600)
    [stored_key] = kept.results  # the strings are this run's own
    assert stored_key[2] is result(day2, TALK).link.url
    assert [s.title for s in kept.sessions] == ["Gone"]  # only the removed keep their details
    assert kept.generated_at == DAY1

    # Unfiltered (a merge), it remembers the links and sessions of the whole previous run.
    everything = history.load_history(tmp_path)
    assert len(everything.results) == 2 and len(everything.sessions) == 3
    assert history.previous_results(everything) == history.previous_results(
        history.load_previous(tmp_path)
    )


def test_results_alike_share_one_record_and_healthy_ones_none(tmp_path):
    statuses = {(f"Talk {n}", "slides"): Status.UNVERIFIED for n in range(50)}
    statuses |= {(f"Fine {n}", "slides"): Status.OK for n in range(50)}
    report = simple_report(statuses)
    history.apply(report, None)
    write_reports(report, tmp_path)
    kept = history.load_history(tmp_path)
    assert len(kept.results) == 50 and len({id(v) for v in kept.results.values()}) == 1
    [record] = set(kept.results.values())
    assert (record.status, record.consecutive_failures) == (Status.UNVERIFIED, 1)


def test_the_first_of_repeated_links_counts(tmp_path):
    # Two presenters of one session with one homepage: one key, the first record counts.
    day1 = simple_report({TALK: Status.OK, OTHER: Status.BROKEN}, generated_at=DAY1)
    twin = dataclasses.replace(result(day1, TALK), link=result(day1, OTHER).link)
    day1.results.insert(0, twin)  # an ok record of OTHER's link before its broken one
    history.apply(day1, None)
    write_reports(day1, tmp_path)
    day2 = simple_report({TALK: Status.OK, OTHER: Status.OK}, generated_at=DAY2)
    links = [r.link for r in day2.results]
    for previous in (
        history.load_history(tmp_path, links=links, sessions=day2.sessions),
        history.load_history(tmp_path),
        history.load_previous(tmp_path),
    ):
        assert link_key(result(day2, OTHER)) not in history.previous_results(previous)
        history.apply(day2, previous)
        assert day2.changes.recovered == []


def test_compact_history_of_an_unusable_report_is_a_warning(tmp_path, caplog):
    (tmp_path / "latest.json").write_text('{"schema_version": 99}', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="crawler.history"):
        assert history.load_history(tmp_path) is None
    assert "ignoring the previous report" in caplog.text
    assert history.load_history(tmp_path / "nowhere") is None


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('"status": "', '"status": "fine-', "report.links[1].status: unknown status"),
        ('"consecutive_failures": 0', '"consecutive_failures": "0"', "consecutive_failures"),
        ('"size": null', '"size": true', "report.links[1].size: expected an integer"),
        (
            '"consecutive_failures": 0',
            '"consecutive_failures": -9',
            "report.links[1].consecutive_failures: expected 0 or more",
        ),
        ('"duration": null', '"duration": -60', "report.links[1].duration: expected 0 or more"),
    ],
)
def test_a_bad_link_record_in_history_is_named_in_the_warning(tmp_path, caplog, old, new, message):
    report = simple_report({TALK: Status.OK, OTHER: Status.OK})
    history.apply(report, None)
    write_reports(report, tmp_path)
    path = tmp_path / "latest.json"
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    second = lines.index('  "links": [\n') + 2
    assert old in lines[second]
    lines[second] = lines[second].replace(old, new, 1)
    path.write_text("".join(lines), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="crawler.history"):
        assert history.load_history(tmp_path) is None
    assert message in caplog.text


@pytest.mark.parametrize("online", [True, False])
def test_an_online_run_remembers_video_metadata_but_not_what_it_fetches_again(tmp_path, online):
    day1 = simple_report({TALK: Status.OK, OTHER: Status.OK}, generated_at=DAY1)
    video, pdf = result(day1, TALK), result(day1, OTHER)
    video.title, video.duration, video.metadata_fetched_at = "Talk title", 3600, DAY1
    pdf.title, pdf.size = "slides.pdf", 123_456
    history.apply(day1, None)
    write_reports(day1, tmp_path)

    kept = history.load_history(tmp_path, video_metadata_only=online)
    by_field = {key[1]: record for key, record in kept.results.items()}
    # The video's metadata is the cache that spares yt-dlp calls: always kept.
    assert (by_field["video"].title, by_field["video"].duration) == ("Talk title", 3600)
    if online:  # the PDF is fetched again: nothing of it to carry, so nothing kept
        assert "slides" not in by_field
    else:  # an offline run carries the size and file name into its report
        assert (by_field["slides"].title, by_field["slides"].size) == ("slides.pdf", 123_456)


def test_a_metadata_time_in_the_future_is_not_trusted(tmp_path):
    """A fetch time after now (a runner's clock set wrong, a hand edit) would keep its metadata
    'fresh' for ever: it is dropped, so the video is asked again; its title stays meanwhile."""
    report = simple_report({TALK: Status.OK, OTHER: Status.OK}, generated_at=DAY1)
    for r, fetched_at in ((result(report, TALK), "2999-01-01T00:00:00Z"),
                          (result(report, OTHER), DAY1)):  # fmt: skip
        r.title, r.duration, r.metadata_fetched_at = "Talk video", 60, fetched_at
    write_reports(report, tmp_path)
    compact = history.load_history(tmp_path, video_metadata_only=True)
    whole = History.of(history.load_previous(tmp_path))
    for previous in (compact, whole):
        future = previous.results[link_key(result(report, TALK))]
        assert (future.title, future.duration, future.metadata_fetched_at) == (
            "Talk video",
            60,
            None,
        )
        past = previous.results[link_key(result(report, OTHER))]
        assert past.metadata_fetched_at == DAY1


def test_an_online_run_reads_the_previous_report_again_only_for_unchecked_slides_and_videos(
    tmp_path, monkeypatch
):
    """The sizes an online run did not remember are read again when a PDF ends unverified,
    and only then: an unverified homepage (no metadata to keep) costs no second read."""
    deck, home = ("Talk", "slides"), ("Talk", "presenter")
    first = simple_report({deck: Status.OK, home: Status.OK}, generated_at=DAY1)
    result(first, deck).size = 1234
    history.apply(first, None)
    write_reports(first, tmp_path)
    reads = []
    load = history.load_history
    monkeypatch.setattr(history, "load_history", lambda *a, **k: reads.append(a) or load(*a, **k))

    for statuses, expected_reads, size in [
        ({deck: Status.OK, home: Status.UNVERIFIED}, 0, None),
        ({deck: Status.UNVERIFIED, home: Status.UNVERIFIED}, 1, 1234),
    ]:
        reads.clear()
        night = simple_report(statuses, generated_at=DAY2)
        previous = load(tmp_path, links=[r.link for r in night.results], video_metadata_only=True)
        assert link_key(result(night, deck)) not in previous.results  # not remembered
        history.fill_metadata(previous, tmp_path, night.results)
        history.carry_metadata(night.results, previous)
        assert (len(reads), result(night, deck).size) == (expected_reads, size)
