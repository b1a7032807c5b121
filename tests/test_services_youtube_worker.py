"""The yt-dlp call in its worker process (``youtube/worker.py``): how yt-dlp is set up, what
leaves the process, where yt-dlp may be led, and which "see that URL" answers are followed."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pages import talk_page
from youtube_fakes import WATCH, FakeContext, check, video_link, youtube_error

from crawler import safety
from crawler.config import Settings
from crawler.model import Status
from crawler.services.youtube import YouTubeService

# --- success -----------------------------------------------------------------------------


def test_metadata_comes_from_yt_dlp_without_download_or_processing(fake_ydl):
    result = check(video_link(), FakeContext())
    assert result.status is Status.OK
    assert (result.title, result.duration) == ("MobileViT", 3723)
    assert (result.uploader, result.upload_date) == ("DL Compiler Study", "20220822")
    assert result.metadata_fetched_at and result.metadata_fetched_at.endswith("Z")
    [ydl] = fake_ydl.instances
    assert ydl.calls == [(WATCH, {"download": False, "process": False})]
    assert ydl.params["skip_download"] and ydl.params["noplaylist"] and ydl.params["quiet"]
    assert ydl.params["no_warnings"] and ydl.params["logger"] is not None
    assert ydl.params["socket_timeout"] == Settings().read_timeout


def test_only_the_fields_the_verdict_reads_leave_the_worker_process(fake_ydl):
    import pickle

    from crawler.services.youtube.worker import extract_video

    full = {"_type": "video", "title": "MobileViT", "duration": 60, "formats": [{}] * 50}
    fake_ydl.script = lambda url: {**full, "__post_extractor": lambda: None}  # as YouTube's
    extraction = extract_video(WATCH, None, None, 5.0)
    assert extraction.info == {"_type": "video", "title": "MobileViT", "duration": 60}
    assert pickle.loads(pickle.dumps(extraction)) == extraction  # it crosses a process boundary


def test_proxy_and_ca_bundle_reach_yt_dlp(fake_ydl):
    ctx = FakeContext(proxy="http://127.0.0.1:3128", ca="/tmp/test-ca.pem")
    check(video_link(), ctx)
    params = fake_ydl.instances[0].params
    assert params["proxy"] == "http://127.0.0.1:3128"
    assert "no-certifi" in params["compat_opts"]


def test_without_proxy_yt_dlp_is_told_not_to_use_one(fake_ydl):
    check(video_link(), FakeContext())
    params = fake_ydl.instances[0].params
    assert params["proxy"] == ""  # '' is yt-dlp's "no proxy"; None would re-read the env
    assert "no-certifi" not in params["compat_opts"]


def test_yt_dlp_uses_the_http_handler_whose_reads_are_bounded(fake_ydl):
    # Its requests/curl_cffi handlers, when installed, would be preferred and read unbounded.
    check(video_link(), FakeContext())
    assert "prefer-legacy-http-handler" in fake_ydl.instances[0].params["compat_opts"]


def test_one_youtubedl_per_worker_thread_is_reused(fake_ydl):
    service = YouTubeService()
    ctx = FakeContext()

    async def twice():
        await service.check(video_link(), ctx)
        await service.check(video_link("https://youtu.be/wzy1QMci_Zs"), ctx)

    asyncio.run(twice())
    ctx.executor.shutdown()
    [ydl] = fake_ydl.instances
    assert len(ydl.calls) == 2


# --- where yt-dlp is led: every connection it opens is vetted -----------------------------


@pytest.fixture
def redirect_to_internal(httpserver, monkeypatch):
    """A public-looking page (127.0.0.1 counts as public here) that redirects to a video page
    on an internal address (127.0.0.2): a redirect the engine's guard never sees."""
    monkeypatch.setattr(
        safety, "address_kind", lambda a: "private" if a.startswith("127.0.0.2") else None
    )
    from pytest_httpserver import HTTPServer

    internal = HTTPServer(host="127.0.0.2", port=0)
    internal.expect_request("/talk").respond_with_data(
        talk_page("Internal", "http://127.0.0.2/talk.mp4", duration="PT1M"),
        content_type="text/html",
    )
    internal.start()
    target = f"http://127.0.0.2:{internal.port}/talk"
    httpserver.expect_request("/talk").respond_with_data("", 302, {"Location": target})
    yield f"http://127.0.0.1:{httpserver.port}/talk", internal
    internal.clear()
    internal.stop()


def test_yt_dlp_led_to_an_internal_address_is_refused_not_fetched(redirect_to_internal):
    url, internal = redirect_to_internal
    ctx = FakeContext(settings=Settings(link_timeout=10.0, allow_private=False))
    result = check(video_link(url), ctx)  # real yt-dlp, in a thread as in its worker
    assert result.status is Status.SKIPPED, result
    assert result.detail == (
        "not checked: yt-dlp was led to 127.0.0.2, a private address "
        "(use --allow-private to check it)"
    ), result
    assert result.title is None
    assert internal.log == []  # the internal server was never asked anything


def test_yt_dlp_follows_the_same_redirect_when_private_addresses_are_allowed(
    redirect_to_internal,
):
    url, internal = redirect_to_internal
    ctx = FakeContext(settings=Settings(link_timeout=10.0, allow_private=True))
    result = check(video_link(url), ctx)
    # The redirect's target was read for its metadata (process=False alone would have left
    # yt-dlp's "see that URL" answer unresolved, without a title).
    assert result.status is Status.OK and result.title == "Internal", result
    assert result.duration == 60 and internal.log


def test_a_page_pointing_elsewhere_is_read_where_it_points(fake_ydl):
    page, player = "https://talks.example.org/tvm", "https://player.example/v/1"

    def script(url: str) -> dict[str, Any]:
        if url == page:  # the page embeds the video; what it says overrides the player
            return {"_type": "url_transparent", "url": player, "uploader": "DL Compiler Study"}
        return {"_type": "video", "id": "1", "title": "TVM talk", "duration": 60, "uploader": "x"}

    fake_ydl.script = script
    result = check(video_link(page), FakeContext())
    assert result.status is Status.OK and result.detail == "video found"
    assert (result.title, result.duration) == ("TVM talk", 60)
    assert result.uploader == "DL Compiler Study"
    [ydl] = fake_ydl.instances
    assert [c[0] for c in ydl.calls] == [page, player]


def test_a_hop_that_fails_keeps_the_page_s_answer(fake_ydl):
    page, player = "https://talks.example.org/tvm", "https://player.example/v/1"
    unavailable = youtube_error("Video unavailable")

    def script(url: str) -> dict[str, Any]:
        if url == page:
            return {"_type": "url", "url": player}
        raise unavailable

    fake_ydl.script = script
    result = check(video_link(page), FakeContext())
    assert result.status is Status.OK and result.title is None  # as before following


def test_an_answer_with_a_title_is_not_followed_to_the_media_file(fake_ydl):
    # A page whose JSON-LD describes its video: yt-dlp points at the .mp4 with the metadata.
    page = "https://talks.example.org/tvm"
    fake_ydl.script = lambda url: {
        "_type": "url_transparent",
        "url": "https://talks.example.org/media/tvm.mp4",
        "title": "TVM talk",
        "duration": 4867,
    }
    result = check(video_link(page), FakeContext())
    assert (result.status, result.title, result.duration) == (Status.OK, "TVM talk", 4867)
    [ydl] = fake_ydl.instances
    assert [c[0] for c in ydl.calls] == [page]


def test_the_worker_module_loads_without_the_service_side():
    # Every yt-dlp worker process imports it (``extract_video`` reaches it by name): the
    # service's verdicts and the engine's contract stay out of those processes.
    import subprocess
    import sys

    code = (
        "import sys, crawler.services.youtube.worker\n"
        "print(sorted(m for m in sys.modules if m.startswith('crawler.')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = out.stdout
    assert "crawler.services.youtube.worker" in loaded
    for side in ("youtube.service", "youtube.messages", "youtube.oembed", "services.base"):
        assert f"crawler.services.{side}'" not in loaded, loaded
