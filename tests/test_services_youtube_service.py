"""YouTubeService (``youtube/service.py``): which links, and the order of the sources a check
asks (the previous run's fresh metadata, yt-dlp and its retry, oEmbed), with yt-dlp mocked at
the ``YoutubeDL`` boundary."""

from __future__ import annotations

import datetime as dt

import pytest
from youtube_fakes import (
    VIDEO_ID,
    WATCH,
    FakeContext,
    check,
    fetched,
    network_error,
    oembed_ok,
    video_link,
)

from crawler.config import Settings
from crawler.links import make_link
from crawler.model import LinkResult, Status
from crawler.services.youtube import YouTubeService
from crawler.services.youtube.oembed import oembed_url

# --- which links -------------------------------------------------------------------------


def test_handles_youtube_links_and_every_video_link():
    service = YouTubeService()
    assert service.handles(video_link())
    assert service.handles(video_link("https://www.youtube.com/@someone", "presenter"))
    assert service.handles(video_link("https://vimeo.com/123456"))
    assert not service.handles(video_link("https://example.org/slides.pdf", "slides"))


def test_playlist_link_is_checked_as_its_one_video(fake_ydl):
    url = "https://www.youtube.com/watch?v=Hxrw4cDM0Tw&list=UU03m_PqzOeNJPmZyyY2dRQw&index=2"
    check(video_link(url), FakeContext())
    [ydl] = fake_ydl.instances
    assert [c[0] for c in ydl.calls] == ["https://www.youtube.com/watch?v=Hxrw4cDM0Tw"]
    assert ydl.params["noplaylist"] is True


def test_private_address_is_skipped_unless_allowed(fake_ydl):
    link = video_link("http://127.0.0.1:8080/talk.html")
    assert check(link, FakeContext()).status is Status.SKIPPED
    assert fake_ydl.instances == []
    allowed = FakeContext(settings=Settings(allow_private=True))
    assert check(link, allowed).status is Status.OK


def test_a_dropped_connection_is_tried_once_more_inside_the_hosts_slot(fake_ydl):
    outcomes = [network_error()]

    def script(url):
        if outcomes:
            raise outcomes.pop()
        return {"_type": "video", "id": VIDEO_ID, "title": "MobileViT", "duration": 60}

    fake_ydl.script = script
    ctx = FakeContext()
    result = check(video_link(), ctx)
    assert result.status is Status.OK and result.duration == 60
    assert len(fake_ydl.instances[0].calls) == 2
    assert ctx.slots_taken == 2  # yt-dlp ran inside the host's slot, both times


def test_a_network_failure_twice_is_unverified(fake_ydl):
    fake_ydl.script = network_error()
    result = check(video_link(), FakeContext())
    assert result.status is Status.UNVERIFIED and result.network_error
    assert len(fake_ydl.instances[0].calls) == 2


# --- the metadata cache ----------------------------------------------------------------------


def _earlier(age: dt.timedelta) -> LinkResult:
    fetched_at = (dt.datetime.now(dt.UTC) - age).strftime("%Y-%m-%dT%H:%M:%SZ")
    return LinkResult(
        video_link(),
        Status.OK,
        "ok",
        title="MobileViT",
        duration=3723,
        uploader="DL Compiler Study",
        upload_date="20220822",
        metadata_fetched_at=fetched_at,
    )


def test_fresh_metadata_skips_yt_dlp_and_only_probes_oembed(fake_ydl):
    earlier = _earlier(dt.timedelta(days=1))
    ctx = FakeContext(
        earlier=earlier,
        answers={oembed_url(WATCH): fetched(oembed_url(WATCH), 200, oembed_ok("MobileViT"))},
    )
    result = check(video_link(), ctx)
    assert fake_ydl.instances == []  # yt-dlp was not even built
    assert result.status is Status.OK
    assert (result.title, result.duration, result.upload_date) == ("MobileViT", 3723, "20220822")
    assert result.metadata_fetched_at == earlier.metadata_fetched_at


def test_fresh_metadata_and_oembed_404_is_broken_without_yt_dlp(fake_ydl):
    ctx = FakeContext(
        earlier=_earlier(dt.timedelta(hours=3)),
        answers={oembed_url(WATCH): fetched(oembed_url(WATCH), 404)},
    )
    assert check(video_link(), ctx).status is Status.BROKEN
    assert fake_ydl.instances == []


def test_fresh_metadata_but_inconclusive_probe_asks_yt_dlp(fake_ydl):
    ctx = FakeContext(
        earlier=_earlier(dt.timedelta(hours=3)),
        answers={oembed_url(WATCH): fetched(oembed_url(WATCH), 401)},
    )
    result = check(video_link(), ctx)
    assert len(fake_ydl.instances[0].calls) == 1
    assert result.status is Status.OK and result.title == "MobileViT"


def test_stale_metadata_calls_yt_dlp_again(fake_ydl):
    ctx = FakeContext(earlier=_earlier(dt.timedelta(days=30)))
    result = check(video_link(), ctx)
    assert len(fake_ydl.instances[0].calls) == 1
    assert ctx.requested == []  # no oEmbed needed when yt-dlp answered
    assert result.metadata_fetched_at != ctx.earlier.metadata_fetched_at


def test_fresh_metadata_of_a_video_on_another_host_needs_one_http_check_not_yt_dlp(fake_ydl):
    page = "https://talks.example.org/tvm"
    link = video_link(page)
    earlier = _earlier(dt.timedelta(days=1))
    earlier.link = link
    ctx = FakeContext(earlier=earlier, answers={page: fetched(page, 200)})
    result = check(link, ctx)
    assert fake_ydl.instances == []
    assert ctx.requested == [page]
    assert result.status is Status.OK
    assert (result.title, result.duration) == ("MobileViT", 3723)
    assert result.metadata_fetched_at == earlier.metadata_fetched_at

    gone = FakeContext(earlier=earlier, answers={page: fetched(page, 404)})
    assert check(link, gone).status is Status.BROKEN
    assert fake_ydl.instances == []


def test_previous_without_a_fetch_time_is_not_trusted(fake_ydl):
    earlier = _earlier(dt.timedelta(days=1))
    earlier.metadata_fetched_at = None
    check(video_link(), FakeContext(earlier=earlier))
    assert len(fake_ydl.instances[0].calls) == 1


def test_a_yt_dlp_worker_killed_under_the_call_leaves_the_video_unverified(fake_ydl):
    class KilledWorker(FakeContext):
        async def run_isolated(self, fn, *args, slot_for=None):
            # What the engine's WorkerPool raises when the process dies (e.g. out of memory).
            raise ChildProcessError("the worker process died during the call (exit code -9)")

    result = check(video_link("https://talks.example.org/v"), KilledWorker())
    assert result.status is Status.UNVERIFIED
    assert result.detail == (
        "yt-dlp stopped unexpectedly: the worker process died during the call (exit code -9)"
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://m.youtube.com/@somechannel",
        "https://youtu.be/wzy1QMci_Zs",
        "https://www.youtube.com/watch?v=wzy1QMci_Zs",
    ],
)
def test_yt_dlp_takes_the_politeness_slot_of_the_host_it_asks(url):
    from crawler.services.youtube.service import _slot_url

    link = make_link("s", "S", "2021-01-01", "video", url)
    assert _slot_url(link, url) == "https://www.youtube.com/"


def test_a_video_elsewhere_takes_the_slot_of_its_own_host():
    from crawler.services.youtube.service import _slot_url

    url = "http://127.0.0.1:8080/talk"
    assert _slot_url(make_link("s", "S", "2021-01-01", "video", url), url) == url
