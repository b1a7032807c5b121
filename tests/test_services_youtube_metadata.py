"""What a video is, read out of yt-dlp's answer (``youtube/metadata.py``): bounded, and the
upload date derived where yt-dlp leaves it out."""

from __future__ import annotations

import pytest
from pages import talk_page
from youtube_fakes import FakeContext, check, video_link

from crawler.config import Settings
from crawler.model import Status


def test_generic_page_upload_date_is_derived_from_the_json_ld_timestamp(fake_ydl):
    fake_ydl.script = lambda url: {"_type": "video", "title": "Talk", "timestamp": 1614214800}
    result = check(video_link("https://talks.example.org/tvm"), FakeContext())
    assert fake_ydl.instances[0].calls[0][0] == "https://talks.example.org/tvm"
    assert (result.status, result.title, result.upload_date) == (Status.OK, "Talk", "20210225")


def test_a_page_s_outsized_title_and_duration_are_not_taken_at_their_word(httpserver):
    # Real yt-dlp reading a hostile talk page: a 100,000-character title, and a duration whose
    # 400 digits parse_duration turns into infinity (round() of it raised OverflowError).
    title = "T" * 100_000
    httpserver.expect_request("/talk").respond_with_data(
        talk_page(title, "http://127.0.0.1/talk.mp4", duration="PT" + "9" * 400 + "S"),
        content_type="text/html",
    )
    ctx = FakeContext(settings=Settings(link_timeout=10.0, allow_private=True))
    result = check(video_link(httpserver.url_for("/talk")), ctx)
    assert result.status is Status.OK, result
    assert result.title == "T" * 299 + "…"
    assert result.duration is None  # not a length any talk has


@pytest.mark.parametrize("duration", [float("inf"), float("nan"), 10.0**40, -1])
def test_an_impossible_duration_is_unknown(fake_ydl, duration):
    fake_ydl.script = lambda url: {"_type": "video", "title": "T", "duration": duration}
    result = check(video_link(), FakeContext())
    assert (result.status, result.duration) == (Status.OK, None)


def test_a_timestamp_beyond_the_calendar_gives_no_upload_date(fake_ydl):
    fake_ydl.script = lambda url: {"_type": "video", "title": "T", "timestamp": 1e20}
    result = check(video_link(), FakeContext())
    assert (result.status, result.upload_date) == (Status.OK, None)
