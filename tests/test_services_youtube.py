"""YouTubeService: yt-dlp mocked at the ``YoutubeDL`` boundary, raising yt-dlp's own errors.

The error texts below are the ones yt-dlp really prints (YouTube's playability reason, joined
with yt-dlp's hints), and every ``DownloadError`` is built by a real ``YoutubeDL.report_error``,
exactly as ``YoutubeDL.extract_info`` wraps an ``ExtractorError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import io
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
import yt_dlp
from pages import talk_page
from yt_dlp.networking import Response
from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.utils import DownloadError, ExtractorError, GeoRestrictedError, UnsupportedError

from crawler import safety
from crawler.links import make_link
from crawler.model import LinkResult, Status
from crawler.services.base import FetchResult, Settings
from crawler.services.youtube import MESSAGE_RULES, YouTubeService, classify_message, oembed_url

RealYoutubeDL = yt_dlp.YoutubeDL
VIDEO_ID = "dVH02_O2MzQ"
WATCH = f"https://www.youtube.com/watch?v={VIDEO_ID}"
COOKIE_HINT = (
    "Use --cookies-from-browser or --cookies for the authentication. See  "
    "https://github.com/yt-dlp/yt-dlp/wiki/FAQ#how-do-i-pass-cookies-to-yt-dlp  for how to "
    "manually pass cookies. Also see  "
    "https://github.com/yt-dlp/yt-dlp/wiki/Extractors#exporting-youtube-cookies  for tips on "
    "effectively exporting YouTube cookies"
)
BOT_WALL = f"Sign in to confirm you’re not a bot. {COOKIE_HINT}"


class _Silent:
    def debug(self, msg: str) -> None: ...
    def info(self, msg: str) -> None: ...
    def warning(self, msg: str) -> None: ...
    def error(self, msg: str) -> None: ...


def wrap(error: ExtractorError) -> DownloadError:
    """The DownloadError a real YoutubeDL raises for ``error`` (_handle_extraction_exceptions)."""
    ydl = RealYoutubeDL({"quiet": True, "logger": _Silent()})
    try:
        try:
            raise error
        except GeoRestrictedError as exc:
            ydl.report_error(exc.msg + "\nYou might want to use a VPN or a proxy server.")
        except ExtractorError as exc:
            ydl.report_error(str(exc), exc.format_traceback())
    except DownloadError as wrapped:
        return wrapped
    raise AssertionError("report_error did not raise")


def youtube_error(reason: str, video_id: str = VIDEO_ID) -> DownloadError:
    # raise_no_formats(reason, expected=True) in extractor/youtube/_video.py
    return wrap(ExtractorError(reason, expected=True, video_id=video_id, ie="youtube"))


def http_error(status: int, reason: str, video_id: str = "talk") -> DownloadError:
    response = Response(io.BytesIO(b""), "http://127.0.0.1/talk", {}, status=status, reason=reason)
    try:
        raise HTTPError(response)
    except HTTPError as cause:  # _request_webpage builds its error inside this except
        error = ExtractorError(
            f"Unable to download webpage: {cause}", cause=cause, video_id=video_id, ie="generic"
        )
    return wrap(error)


def network_error() -> DownloadError:
    try:
        raise TransportError(cause=ConnectionRefusedError(111, "Connection refused"))
    except TransportError as cause:
        error = ExtractorError(
            f"Unable to download webpage: {cause}", cause=cause, video_id="talk", ie="generic"
        )
    return wrap(error)


def test_wrapped_errors_look_like_yt_dlp_output():
    assert (
        str(youtube_error("Video unavailable")) == f"ERROR: [youtube] {VIDEO_ID}: Video unavailable"
    )
    assert str(http_error(404, "Not Found")) == (
        "ERROR: [generic] talk: Unable to download webpage: HTTP Error 404: Not Found "
        "(caused by <HTTPError 404: Not Found>)"
    )


# --- the fakes --------------------------------------------------------------------------


class FakeYDL:
    """Stands in for ``yt_dlp.YoutubeDL``: records params and calls, plays a script."""

    instances: ClassVar[list[FakeYDL]] = []
    script: ClassVar[Any] = None  # callable(url) -> info dict, or an exception to raise
    warnings: ClassVar[list[str]] = []

    def __init__(self, params: dict[str, Any]):
        self.params = params
        self.calls: list[tuple[str, dict[str, Any]]] = []
        FakeYDL.instances.append(self)

    def extract_info(self, url: str, **kwargs: Any) -> dict[str, Any]:
        self.calls.append((url, kwargs))
        for warning in FakeYDL.warnings:
            self.params["logger"].warning(warning)
        outcome = FakeYDL.script
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome(url)


@pytest.fixture
def fake_ydl(monkeypatch):
    FakeYDL.instances = []
    FakeYDL.warnings = []
    FakeYDL.script = lambda url: {
        "_type": "video",
        "id": VIDEO_ID,
        "title": "MobileViT",
        "duration": 3723.4,
        "uploader": "DL Compiler Study",
        "upload_date": "20220822",
    }
    monkeypatch.setattr(yt_dlp, "YoutubeDL", FakeYDL)
    return FakeYDL


def fetched(url: str, status: int | None, body: bytes = b"", error: str | None = None):
    return FetchResult(
        url=url,
        final_url=url,
        status=status,
        body=body,
        error=error,
        error_kind="network" if error else None,
    )


@dataclass
class FakeContext:
    """What the engine offers a service, with canned answers."""

    settings: Settings = field(default_factory=lambda: Settings(link_timeout=10.0))
    answers: dict[str, FetchResult] = field(default_factory=dict)
    earlier: LinkResult | None = None
    proxy: str | None = None
    ca: str | None = None
    requested: list[str] = field(default_factory=list)
    executor: ThreadPoolExecutor = field(default_factory=lambda: ThreadPoolExecutor(1))

    async def fetch(self, url: str, **kwargs: Any) -> FetchResult:
        self.requested.append(url)
        return self.answers.get(url) or fetched(url, None, error="connection refused")

    async def _in_thread(self, fn, *args):
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def run_isolated(self, fn, *args, slot_for=None):
        # A thread, not a process: the monkeypatched ``yt_dlp.YoutubeDL`` must stay in force.
        if slot_for is None:
            return await self._in_thread(fn, *args)
        async with self.host_slot(slot_for):
            return await self._in_thread(fn, *args)

    def previous(self, link):
        return self.earlier

    def proxy_for(self, url: str) -> str | None:
        return self.proxy

    @contextlib.asynccontextmanager
    async def host_slot(self, url: str):
        self.slots_taken = getattr(self, "slots_taken", 0) + 1
        yield

    async def guard(self, url: str) -> FetchResult | None:
        # The engine's guard, judging host names without lookups (literal IPs, local names).
        refusal = safety.scheme_refusal(url)
        if refusal is None and not self.settings.allow_private:
            refusal = safety.host_refusal(urlsplit(url).hostname or "")
        if refusal is None:
            return None
        return FetchResult(url=url, final_url=url, error=refusal, error_kind="refused")

    @property
    def ca_bundle(self) -> str | None:
        return self.ca


def oembed_ok(title: str = "MobileViT (oEmbed)", author: str = "DL Compiler Study") -> bytes:
    return json.dumps({"title": title, "author_name": author, "type": "video"}).encode()


def video_link(url: str = f"https://youtu.be/{VIDEO_ID}", field_name: str = "video"):
    return make_link("2022-08-22-mobilevit", "MobileViT", "2022-08-22", field_name, url)


def check(link, ctx: FakeContext, service: YouTubeService | None = None) -> LinkResult:
    try:
        return asyncio.run((service or YouTubeService()).check(link, ctx))
    finally:
        ctx.executor.shutdown()


# --- which links -------------------------------------------------------------------------


def test_handles_youtube_links_and_every_video_link():
    service = YouTubeService()
    assert service.handles(video_link())
    assert service.handles(video_link("https://www.youtube.com/@someone", "presenter"))
    assert service.handles(video_link("https://vimeo.com/123456"))
    assert not service.handles(video_link("https://example.org/slides.pdf", "slides"))


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

    from crawler.services.youtube import extract_video

    full = {"_type": "video", "title": "MobileViT", "duration": 60, "formats": [{}] * 50}
    fake_ydl.script = lambda url: {**full, "__post_extractor": lambda: None}  # as YouTube's
    extraction = extract_video(WATCH, None, None, 5.0)
    assert extraction.info == {"_type": "video", "title": "MobileViT", "duration": 60}
    assert pickle.loads(pickle.dumps(extraction)) == extraction  # it crosses a process boundary


def test_playlist_link_is_checked_as_its_one_video(fake_ydl):
    url = "https://www.youtube.com/watch?v=Hxrw4cDM0Tw&list=UU03m_PqzOeNJPmZyyY2dRQw&index=2"
    check(video_link(url), FakeContext())
    [ydl] = fake_ydl.instances
    assert [c[0] for c in ydl.calls] == ["https://www.youtube.com/watch?v=Hxrw4cDM0Tw"]
    assert ydl.params["noplaylist"] is True


def test_generic_page_upload_date_is_derived_from_the_json_ld_timestamp(fake_ydl):
    fake_ydl.script = lambda url: {"_type": "video", "title": "Talk", "timestamp": 1614214800}
    result = check(video_link("https://talks.example.org/tvm"), FakeContext())
    assert fake_ydl.instances[0].calls[0][0] == "https://talks.example.org/tvm"
    assert (result.status, result.title, result.upload_date) == (Status.OK, "Talk", "20210225")


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


def test_private_address_is_skipped_unless_allowed(fake_ydl):
    link = video_link("http://127.0.0.1:8080/talk.html")
    assert check(link, FakeContext()).status is Status.SKIPPED
    assert fake_ydl.instances == []
    allowed = FakeContext(settings=Settings(allow_private=True))
    assert check(link, allowed).status is Status.OK


# --- the message table -------------------------------------------------------------------

RATE_LIMITED = (
    "Video unavailable. This content isn't available, try again later. The current session has "
    "been rate-limited by YouTube for up to an hour. It is recommended to use `-t sleep` to add "
    "a delay between video requests to avoid exceeding the rate limit. For more information, "
    "refer to  https://github.com/yt-dlp/yt-dlp/wiki/Extractors#this-content-isnt-available-try-again-later"
)

MAPPING = [
    # (yt-dlp's error, status, words the detail must contain, network_error)
    (youtube_error("Video unavailable"), Status.BROKEN, "unavailable", False),
    (
        youtube_error("Video unavailable. This video has been removed by the uploader"),
        Status.BROKEN,
        "uploader removed",
        False,
    ),
    (
        youtube_error(
            f"Private video. Sign in if you've been granted access to this video. {COOKIE_HINT}"
        ),
        Status.BROKEN,
        "private",
        False,
    ),
    (youtube_error("Video unavailable. This video is private"), Status.BROKEN, "private", False),
    (
        youtube_error(
            "Video unavailable. This video is no longer available because the YouTube account "
            "associated with this video has been terminated."
        ),
        Status.BROKEN,
        "terminated",
        False,
    ),
    (
        youtube_error(
            "Video unavailable. This video is no longer available due to a copyright claim by "
            "Example Records"
        ),
        Status.BROKEN,
        "copyright",
        False,
    ),
    (
        youtube_error("This video has been removed for violating YouTube's Terms of Service"),
        Status.BROKEN,
        "policy",
        False,
    ),
    (youtube_error(BOT_WALL), Status.UNVERIFIED, "bot check", False),
    (youtube_error(RATE_LIMITED), Status.UNVERIFIED, "rate-limited", False),
    (
        youtube_error(
            "Sign in to confirm your age. This video may be inappropriate for some users. "
            + COOKIE_HINT
        ),
        Status.OK,
        "age-restricted",
        False,
    ),
    (
        youtube_error(
            "Join this channel to get access to members-only content like this video, and other "
            "exclusive perks."
        ),
        Status.OK,
        "members-only",
        False,
    ),
    (
        wrap(GeoRestrictedError("The uploader has not made this video available in your country")),
        Status.UNVERIFIED,
        "country",
        False,
    ),
    (http_error(404, "Not Found"), Status.BROKEN, "404", False),
    (http_error(410, "Gone"), Status.BROKEN, "410", False),
    (http_error(503, "Service Unavailable"), Status.UNVERIFIED, "server error", False),
    (http_error(429, "Too Many Requests"), Status.UNVERIFIED, "429", False),
    (network_error(), Status.UNVERIFIED, "network error", True),
    (
        wrap(UnsupportedError("https://talks.example.org/tvm")),
        Status.UNVERIFIED,
        "no video that yt-dlp can read",
        False,
    ),
]


@pytest.mark.parametrize(
    ("error", "status", "words", "network"),
    MAPPING,
    ids=[str(e).split(": ", 2)[-1][:40] for e, *_ in MAPPING],
)
def test_each_yt_dlp_error_maps_to_its_status(fake_ydl, error, status, words, network):
    fake_ydl.script = error
    result = check(video_link(), FakeContext())  # oEmbed unreachable: no rescue
    assert result.status is status
    assert words in result.detail
    assert result.network_error is network
    if status is Status.OK:
        assert result.note in ("age-restricted", "members-only")


def test_unknown_error_is_unverified_and_quotes_yt_dlp(fake_ydl):
    assert classify_message("Failed to extract any player response") is None
    fake_ydl.script = youtube_error("Failed to extract any player response")
    result = check(video_link(), FakeContext())
    assert result.status is Status.UNVERIFIED
    assert "yt-dlp could not read the video" in result.detail
    assert "Failed to extract any player response" in result.detail


def test_the_bot_wall_is_not_mistaken_for_a_private_video():
    # Both texts say "Sign in"; only the private one is definitive.
    assert classify_message(BOT_WALL).status is Status.UNVERIFIED
    assert classify_message(BOT_WALL.replace("’", "'")).status is Status.UNVERIFIED
    private = "Private video. Sign in if you've been granted access to this video"
    assert classify_message(private).status is Status.BROKEN
    assert classify_message(RATE_LIMITED).status is Status.UNVERIFIED  # despite "unavailable"
    assert MESSAGE_RULES.index(classify_message(BOT_WALL)) == 0


def test_restricted_video_keeps_metadata_from_an_earlier_run(fake_ydl):
    fake_ydl.script = youtube_error(f"Sign in to confirm your age. {COOKIE_HINT}")
    earlier = LinkResult(video_link(), Status.OK, "ok", title="Old title", duration=600)
    result = check(video_link(), FakeContext(earlier=earlier))
    assert (result.status, result.note) == (Status.OK, "age-restricted")
    assert (result.title, result.duration) == ("Old title", 600)


def test_a_429_seen_only_in_warnings_makes_the_failure_unverified(fake_ydl):
    fake_ydl.warnings = [
        f"[youtube] {VIDEO_ID}: Unable to download API page: HTTP Error 429: Too Many Requests "
        "(caused by <HTTPError 429: Too Many Requests>)"
    ]
    fake_ydl.script = youtube_error("Video unavailable")
    result = check(video_link(), FakeContext())
    assert result.status is Status.UNVERIFIED
    assert "429" in result.detail


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


# --- plain words: yt-dlp's advice to its own users stays in latest.json ---------------------

# extractor/youtube/_video.py, for "This content isn't available, try again later".
RATE_LIMITED = (
    "This content isn't available, try again later. The current session has been "
    "rate-limited by YouTube for up to an hour. It is recommended to use `-t sleep` to add a "
    "delay between video requests to avoid exceeding the rate limit. For more information, "
    "refer to  https://github.com/yt-dlp/yt-dlp/wiki/Extractors#this-content-isnt-available-"
    "try-again-later"
)
ADVICE = ("--cookies", "github.com", "-t sleep", "please report", "yt-dlp -U", "FAQ")


def report_words(result: LinkResult) -> tuple[str, str, str]:
    """What latest.md's "What is wrong", the terminal and latest.json say about ``result``."""
    from report_samples import simple_report

    from crawler.cli import Output
    from crawler.report import json as json_report
    from crawler.report import markdown

    report = simple_report({("MobileViT", "video"): Status.OK})
    report.results = [dataclasses.replace(result, link=report.results[0].link)]
    table = markdown.render(report)
    terminal = Output(quiet=False, verbose=False).result_line(report.results[0])
    [record] = json.loads(json_report.render(report))["links"]
    return table, terminal, record["detail"]


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (youtube_error(BOT_WALL), "YouTube answered with its bot check"),
        (youtube_error(RATE_LIMITED), "YouTube rate-limited this session"),
        (  # raise_login_required() in extractor/common.py
            youtube_error(f"This video is only available for registered users. {COOKIE_HINT}"),
            "the site asks to sign in before showing the video",
        ),
    ],
)
def test_the_report_and_the_terminal_say_what_is_wrong_without_yt_dlp_s_advice(
    fake_ydl, error, words
):
    fake_ydl.script = error
    result = check(video_link("https://talks.example.org/v"), FakeContext())
    table, terminal, detail = report_words(result)
    assert words in result.plain_detail
    for shown in (result.plain_detail, terminal, table):
        assert not [a for a in ADVICE if a in shown], shown
    assert any(a in detail for a in ADVICE)  # latest.json keeps yt-dlp's whole message


def test_an_unexpected_yt_dlp_error_is_shown_without_its_bug_report_request(fake_ydl):
    # expected=False: yt-dlp appends bug_reports_message() (utils/_utils.py).
    fake_ydl.script = wrap(ExtractorError("Unable to extract title", video_id="talk", ie="generic"))
    result = check(video_link("https://talks.example.org/v"), FakeContext())
    assert result.status is Status.UNVERIFIED
    assert result.plain_detail == "yt-dlp could not read the video: Unable to extract title"
    assert "please report this issue" in result.detail and "yt-dlp -U" in result.detail
    table, terminal, _ = report_words(result)
    assert "Unable to extract title" in table and "please report" not in table
    assert terminal.endswith("— yt-dlp could not read the video: Unable to extract title")


def test_the_bot_wall_and_an_unreachable_oembed_in_plain_words(fake_ydl):
    fake_ydl.script = youtube_error(BOT_WALL)
    result = check(video_link(), FakeContext())  # oEmbed unreachable: no answer
    assert result.status is Status.UNVERIFIED
    assert result.plain_detail == (
        "YouTube answered with its bot check (“Sign in to confirm you’re not a bot”); "
        "oEmbed was unreachable too"
    )
    assert "Use --cookies-from-browser" in result.detail  # latest.json keeps it


def test_the_plain_words_survive_latest_json_and_are_absent_when_there_are_none(fake_ydl, tmp_path):
    from report_samples import simple_report

    from crawler.report import json as json_report
    from crawler.store import decode

    fake_ydl.script = youtube_error(BOT_WALL)
    walled = check(video_link("https://talks.example.org/v"), FakeContext())
    report = simple_report({("A", "video"): Status.OK, ("B", "video"): Status.OK})
    report.results[0] = dataclasses.replace(walled, link=report.results[0].link)
    path = tmp_path / "latest.json"
    path.write_text(json_report.render(report), encoding="utf-8")
    first, second = json.loads(path.read_text(encoding="utf-8"))["links"]
    assert first["reason"] == walled.reason and "reason" not in second
    assert decode.load(path) == report  # a shard merge reads them back as they were


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
