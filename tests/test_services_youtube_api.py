"""The YouTube Data API source (``youtube/api.py``): what each answer means for a video, one
call per 50 of the run's videos, and the API's own failures, which never judge a video.

Through the real engine over respx; the next sources (yt-dlp, oEmbed) are a recorder here
(``Fallback``), or the faked ``YoutubeDL`` where the whole order of sources is the point.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import respx
from service_fakes import ENGINE_SETTINGS, check_all_through_engine
from youtube_fakes import BOT_WALL, VIDEO_ID, FakeContext, check, fetched, youtube_error

from crawler.config import HostLimits, Settings, limits_for
from crawler.findings import wrong_videos
from crawler.links import make_link
from crawler.model import FindingKind, Link, LinkResult, Source, Status
from crawler.services.youtube.api import ABSENT, REAL_BASE, iso_seconds, verdict
from crawler.services.youtube.service import YouTubeService

KEY = "AIzaSy-test-key-0123456789abcdefghijk"
VIDEOS = f"{REAL_BASE}/videos"
SETTINGS = Settings(
    connect_timeout=1.0, read_timeout=1.0, link_timeout=10.0, retries=1, youtube_api_key=KEY
)


def video_id(n: int) -> str:
    return f"vid{n:08d}"  # 11 characters, as YouTube's ids


def link(n: int, session_title: str = "Talk") -> Link:
    return make_link(
        f"s{n}", session_title, "2024-01-01", "video", f"https://youtu.be/{video_id(n)}"
    )


def item(vid: str, **status: Any) -> dict[str, Any]:
    return {
        "id": vid,
        "snippet": {
            "title": f"Talk {vid}",
            "channelTitle": "DL Compiler Study",
            "publishedAt": "2022-08-22T09:30:00Z",
        },
        "contentDetails": {"duration": "PT1H2M3S"},
        "status": {
            "uploadStatus": "processed",
            "privacyStatus": "public",
            "embeddable": True,
            **status,
        },
    }


def asked_ids(request: httpx.Request) -> list[str]:
    return parse_qs(urlsplit(str(request.url)).query)["id"][0].split(",")


def listing(request: httpx.Request, absent: frozenset[str] = frozenset()) -> httpx.Response:
    """The API's answer: every asked id but the ``absent`` ones."""
    items = [item(vid) for vid in asked_ids(request) if vid not in absent]
    return httpx.Response(200, json={"kind": "youtube#videoListResponse", "items": items})


def api_error(status: int, reason: str, message: str = "refused") -> httpx.Response:
    errors = [{"message": message, "domain": "youtube.quota", "reason": reason}]
    return httpx.Response(
        status, json={"error": {"code": status, "message": message, "errors": errors}}
    )


class Fallback(YouTubeService):
    """The service with the sources after the API replaced by a recorder."""

    def __init__(self) -> None:
        super().__init__()
        self.fell_back: list[str] = []

    async def _check_without_api(self, link: Link, ctx: Any) -> LinkResult:
        self.fell_back.append(link.url)
        return LinkResult(link, Status.UNVERIFIED, "bot wall", source=Source.YT_DLP)


def run(links: list[Link], service: YouTubeService, settings: Settings = SETTINGS):
    return check_all_through_engine(service, links, settings)


# --- what an answer means ----------------------------------------------------------------


def test_a_public_video_is_ok_with_title_channel_date_and_duration():
    result = verdict(link(1), item(video_id(1)))
    assert result.status is Status.OK and result.source is Source.API
    assert (result.title, result.uploader, result.upload_date, result.duration) == (
        f"Talk {video_id(1)}",
        "DL Compiler Study",
        "20220822",
        3723,
    )
    assert result.note is None and result.metadata_fetched_at


def test_an_id_absent_from_items_is_broken():
    result = verdict(link(1), None)
    assert result.status is Status.BROKEN and result.source is Source.API
    assert ABSENT in result.detail


@pytest.mark.parametrize(
    ("upload", "reason", "words"),
    [
        ("rejected", {"rejectionReason": "copyright"}, "YouTube rejected the upload (copyright)"),
        ("failed", {"failureReason": "codec"}, "YouTube failed the upload (codec)"),
        ("deleted", {}, "the video was deleted"),
    ],
)
def test_a_rejected_failed_or_deleted_upload_is_broken_with_the_reason(upload, reason, words):
    result = verdict(link(1), item(video_id(1), uploadStatus=upload, **reason))
    assert result.status is Status.BROKEN and words in result.detail


def test_a_private_video_is_broken():
    result = verdict(link(1), item(video_id(1), privacyStatus="private"))
    assert result.status is Status.BROKEN and "private" in result.detail


def test_an_unlisted_video_still_in_processing_is_ok():
    result = verdict(link(1), item(video_id(1), privacyStatus="unlisted", uploadStatus="uploaded"))
    assert result.status is Status.OK


def test_a_video_that_may_not_be_embedded_is_ok_with_a_note():
    result = verdict(link(1), item(video_id(1), embeddable=False))
    assert result.status is Status.OK and result.title
    assert result.note and "not embeddable" in result.note


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT1H2M3S", 3723),
        ("PT45M", 2700),
        ("PT59S", 59),
        ("P1DT2H", 93600),
        ("PT1M30.5S", 90),
        ("P0D", None),  # a live stream or premiere not started
        ("PT", None),
        ("1:02:03", None),
        (3723, None),
        (None, None),
    ],
)
def test_iso_8601_durations_in_seconds(text, seconds):
    assert iso_seconds(text) == seconds


def test_the_api_title_tells_a_wrong_video_as_yt_dlps_does():
    talk = link(1, session_title="Ansor: Generating High-Performance Tensor Programs")
    answer = item(video_id(1))
    answer["snippet"]["title"] = "Cooking pasta at home"
    findings = wrong_videos([verdict(talk, answer)])
    assert [f.kind for f in findings] == [FindingKind.WRONG_VIDEO]
    assert "Cooking pasta" in findings[0].message


# --- one call per 50 videos --------------------------------------------------------------


def test_120_videos_take_3_calls_of_at_most_50_ids_with_the_key_in_a_header():
    links = [link(n) for n in range(120)]
    service = Fallback()
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(url__startswith=VIDEOS).mock(side_effect=listing)
        results = run(links, service)
    batches = [asked_ids(call.request) for call in route.calls]
    assert len(batches) == 3 and all(len(b) <= 50 for b in batches)
    assert sorted(vid for b in batches for vid in b) == sorted(video_id(n) for n in range(120))
    for call in route.calls:
        assert call.request.headers["x-goog-api-key"] == KEY
        assert KEY not in str(call.request.url)
        assert parse_qs(urlsplit(str(call.request.url)).query)["part"] == [
            "snippet,contentDetails,status"
        ]
    assert [r.status for r in results] == [Status.OK] * 120
    assert {r.source for r in results} == {Source.API}
    assert results[7].title == f"Talk {video_id(7)}" and results[7].duration == 3723
    assert service.fell_back == []


def test_a_video_the_api_does_not_know_is_broken_and_the_others_ok():
    links = [link(n) for n in range(3)]
    with respx.mock() as mock:
        mock.get(url__startswith=VIDEOS).mock(
            side_effect=lambda request: listing(request, absent=frozenset({video_id(1)}))
        )
        results = run(links, Fallback())
    assert [r.status for r in results] == [Status.OK, Status.BROKEN, Status.OK]


def test_without_a_key_the_api_is_never_asked():
    service = Fallback()
    with respx.mock(assert_all_called=False) as mock:
        route = mock.get(url__startswith=VIDEOS).mock(side_effect=listing)
        results = run([link(1)], service, ENGINE_SETTINGS)
    assert not route.called and service.fell_back == [link(1).url]
    assert results[0].run_note is None


# --- the API's own failures ----------------------------------------------------------------


def test_quota_used_up_mid_run_sends_the_rest_to_the_next_source_and_breaks_nothing():
    links = [link(n) for n in range(120)]
    calls = []

    def api(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return listing(request) if len(calls) == 1 else api_error(403, "quotaExceeded")

    service = Fallback()
    with respx.mock() as mock:
        route = mock.get(url__startswith=VIDEOS).mock(side_effect=api)
        results = run(links, service)
    # The first 50 were answered; the API is not asked again once its quota is gone.
    assert route.call_count == 2
    assert sum(r.source is Source.API for r in results) == 50
    assert len(service.fell_back) == 70
    assert not any(r.status is Status.BROKEN for r in results)
    notes = {r.run_note for r in results if r.run_note}
    assert len(notes) == 1
    (note,) = notes
    assert "daily quota is used up (quotaExceeded)" in note and KEY not in note


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (api_error(400, "keyInvalid", "API key not valid."), "the key is not valid (keyInvalid)"),
        (api_error(403, "rateLimitExceeded"), "rate-limited (rateLimitExceeded)"),
        (api_error(403, "accessNotConfigured"), "not enabled the YouTube Data API v3"),
        (httpx.Response(503, text="backend error"), "503 Service Unavailable"),
        (httpx.Response(200, text="<html>captive portal</html>"), "not a video list"),
    ],
)
def test_a_refused_key_or_a_failing_api_falls_back_and_says_so_once(answer, words):
    links = [link(n) for n in range(3)]
    service = Fallback()
    with respx.mock() as mock:
        route = mock.get(url__startswith=VIDEOS).mock(return_value=answer)
        results = run(links, service)
    assert route.call_count == 1
    assert len(service.fell_back) == 3
    assert [r.status for r in results] == [Status.UNVERIFIED] * 3
    assert {r.run_note for r in results} == {next(r.run_note for r in results if r.run_note)}
    assert words in (results[0].run_note or "")


def test_an_api_that_does_not_answer_falls_back():
    service = Fallback()
    with respx.mock() as mock:
        mock.get(url__startswith=VIDEOS).mock(side_effect=httpx.ConnectTimeout("timed out"))
        results = run([link(1)], service)
    assert service.fell_back == [link(1).url]
    assert "could not be reached" in (results[0].run_note or "")


def test_a_refused_key_never_appears_in_a_result():
    service = Fallback()
    message = f"API key not valid: {KEY}"  # should Google ever quote it
    with respx.mock() as mock:
        mock.get(url__startswith=VIDEOS).mock(return_value=api_error(400, "badRequest", message))
        (result,) = run([link(1)], service)
    assert KEY not in repr(result)


# --- the order of sources, with yt-dlp itself ---------------------------------------------


def api_url_of(ctx: FakeContext) -> str:
    return next(url for url in ctx.requested if url.startswith(VIDEOS))


def test_with_the_api_answering_yt_dlp_is_not_asked(fake_ydl):
    ctx = FakeContext(settings=SETTINGS)
    talk = make_link("s", "MobileViT", "2022-08-22", "video", f"https://youtu.be/{VIDEO_ID}")
    ctx.fetch = _answering(ctx, httpx.Response(200, json={"items": [item(VIDEO_ID)]}))
    result = check(talk, ctx)
    assert result.status is Status.OK and result.source is Source.API
    assert fake_ydl.instances == [] or all(not y.calls for y in fake_ydl.instances)


def test_with_the_quota_gone_yt_dlp_then_oembed_are_asked(fake_ydl):
    fake_ydl.script = youtube_error(BOT_WALL)
    ctx = FakeContext(settings=SETTINGS)
    talk = make_link("s", "MobileViT", "2022-08-22", "video", f"https://youtu.be/{VIDEO_ID}")
    ctx.fetch = _answering(ctx, api_error(403, "quotaExceeded"))
    result = check(talk, ctx)
    # oEmbed is not answering in this fake: the bot wall's verdict stands, unverified.
    assert result.status is Status.UNVERIFIED and result.source is Source.YT_DLP
    assert "bot check" in result.detail
    assert any("oembed" in url for url in ctx.requested)
    assert "quotaExceeded" in (result.run_note or "")


def _answering(ctx: FakeContext, api_answer: httpx.Response):
    """``ctx.fetch`` answering the API with ``api_answer`` and nothing else."""

    async def fetch(url: str, **kwargs: Any):
        ctx.requested.append(url)
        if url.startswith(VIDEOS):
            return fetched(url, api_answer.status_code, api_answer.content)
        return fetched(url, None, error="connection refused")

    return fetch


def test_the_fake_api_answer_is_json():  # the helpers above build what the API sends
    assert json.loads(api_error(403, "quotaExceeded").content)["error"]["errors"][0]["reason"]


def test_the_api_host_has_its_own_polite_limits():
    limits = limits_for("www.googleapis.com", YouTubeService.host_limits.items())
    assert limits == HostLimits(per_host=1, min_interval=1.0)
