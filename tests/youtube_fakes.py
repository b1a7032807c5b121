"""yt-dlp mocked at the ``YoutubeDL`` boundary, raising yt-dlp's own errors, and a scripted
engine: the fakes of the ``tests/test_services_youtube_*.py`` files (a pytest plugin, loaded
by ``conftest.py``, for its ``fake_ydl`` fixture).

The error texts the tests use are the ones yt-dlp really prints (YouTube's playability reason,
joined with yt-dlp's hints), and every ``DownloadError`` is built by a real
``YoutubeDL.report_error``, exactly as ``YoutubeDL.extract_info`` wraps an ``ExtractorError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
import yt_dlp
from yt_dlp.networking import Response
from yt_dlp.networking.exceptions import HTTPError, TransportError
from yt_dlp.utils import DownloadError, ExtractorError, GeoRestrictedError

from crawler import safety
from crawler.config import Settings
from crawler.links import make_link
from crawler.model import LinkResult
from crawler.services.base import FetchResult
from crawler.services.youtube import YouTubeService

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
