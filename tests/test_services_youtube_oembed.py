"""YouTube's oEmbed (``youtube/oembed.py``): what it says of a video when yt-dlp meets the
bot wall."""

from __future__ import annotations

import pytest
from youtube_fakes import (
    BOT_WALL,
    VIDEO_ID,
    WATCH,
    FakeContext,
    check,
    fetched,
    network_error,
    oembed_ok,
    video_link,
    youtube_error,
)

from crawler.model import LinkResult, Status
from crawler.services.youtube.oembed import oembed_url

# --- the bot wall and oEmbed --------------------------------------------------------------


def test_bot_wall_with_oembed_200_is_ok_with_oembed_title_and_previous_duration(fake_ydl):
    fake_ydl.script = youtube_error(BOT_WALL)
    earlier = LinkResult(
        video_link(),
        Status.OK,
        "ok",
        title="MobileViT",
        duration=3723,
        metadata_fetched_at="2020-01-01T00:00:00Z",  # stale: yt-dlp is asked first
    )
    ctx = FakeContext(
        earlier=earlier, answers={oembed_url(WATCH): fetched(oembed_url(WATCH), 200, oembed_ok())}
    )
    result = check(video_link(), ctx)
    assert result.status is Status.OK
    assert (result.title, result.uploader, result.duration) == (
        "MobileViT (oEmbed)",
        "DL Compiler Study",
        3723,
    )
    assert "oEmbed" in result.detail
    assert ctx.requested == [
        "https://www.youtube.com/oembed?url=https%3A%2F%2Fwww.youtube.com%2Fwatch%3Fv%3D"
        f"{VIDEO_ID}&format=json"
    ]


def test_bot_wall_with_oembed_404_is_broken(fake_ydl):
    fake_ydl.script = youtube_error(BOT_WALL)
    ctx = FakeContext(answers={oembed_url(WATCH): fetched(oembed_url(WATCH), 404, b"Not Found")})
    result = check(video_link(), ctx)
    assert result.status is Status.BROKEN
    assert "no such video" in result.detail


@pytest.mark.parametrize("status", [401, 403])
def test_bot_wall_with_oembed_401_or_403_stays_unverified(fake_ydl, status):
    fake_ydl.script = youtube_error(BOT_WALL)
    ctx = FakeContext(answers={oembed_url(WATCH): fetched(oembed_url(WATCH), status, b"")})
    result = check(video_link(), ctx)
    assert result.status is Status.UNVERIFIED
    assert "bot check" in result.detail and f"oEmbed answered {status}" in result.detail


def test_bot_wall_with_oembed_200_that_is_not_json_stays_unverified(fake_ydl):
    fake_ydl.script = youtube_error(BOT_WALL)
    ctx = FakeContext(answers={oembed_url(WATCH): fetched(oembed_url(WATCH), 200, b"Forbidden")})
    assert check(video_link(), ctx).status is Status.UNVERIFIED


def test_bot_wall_with_oembed_unreachable_is_unverified_with_the_bot_wall_detail(fake_ydl):
    fake_ydl.script = youtube_error(BOT_WALL)
    result = check(video_link(), FakeContext())
    assert result.status is Status.UNVERIFIED
    assert "bot check" in result.detail and "unreachable" in result.detail
    assert result.network_error is False


def test_network_errors_do_not_try_oembed(fake_ydl):
    fake_ydl.script = network_error()
    ctx = FakeContext()
    assert check(video_link(), ctx).network_error
    assert ctx.requested == []
