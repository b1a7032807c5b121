"""Videos: YouTube links and every catalogue ``video`` link, judged with yt-dlp's metadata.

The check asks, in this order: the YouTube Data API, when a key is set (``api.py``: one
request per 50 of the run's videos, a definitive verdict with the title and duration); the
previous run's metadata, while it is fresh
(``Settings.metadata_max_age_days``: then only a cheap probe is made, oEmbed for YouTube, one
plain HTTP check elsewhere); yt-dlp, in a worker process (``worker.extract_video``); and, when
YouTube refused yt-dlp (its bot check, common on CI runners), YouTube's oEmbed endpoint
(``oembed.py``). What yt-dlp's errors mean is decided in ``messages.py``; what its answers
say of the video in ``metadata.py``.

yt-dlp only reads metadata here (title, duration, uploader, upload date): no media is ever
downloaded and a ``watch?v=…&list=…`` link is checked as the one video, never as its playlist.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import ClassVar

from crawler.config import HostLimits, Settings
from crawler.hosts import LinkKind, youtube_video_id
from crawler.links import requested_host
from crawler.model import Field, Link, LinkResult, Source, Status
from crawler.services.base import CheckContext, FetchResult, Remembered, Service
from crawler.services.generic import GenericService
from crawler.services.verdicts import unverified_from_fetch
from crawler.services.youtube.api import VideoApi
from crawler.services.youtube.messages import from_error
from crawler.services.youtube.metadata import (
    carry_metadata,
    direct_file,
    from_info,
    metadata_is_fresh,
)
from crawler.services.youtube.oembed import oembed_fallback, probe_with_cache
from crawler.services.youtube.worker import MAX_BYTES, extract_video


def _video_id(link: Link) -> str | None:
    return youtube_video_id(link.url) if link.kind is LinkKind.YOUTUBE else None


def canonical_video_url(link: Link) -> str:
    """What yt-dlp is asked about: ``watch?v=ID`` for YouTube videos (drops ``&list=``)."""
    video_id = _video_id(link)
    return f"https://www.youtube.com/watch?v={video_id}" if video_id else link.url


def _slot_url(link: Link, url: str) -> str:
    """Whose politeness slot a yt-dlp call takes: the host it asks (``requested_host``)."""
    if link.kind is LinkKind.YOUTUBE:
        return f"https://{requested_host(link)}/"
    return url


class YouTubeService(Service):
    """yt-dlp for YouTube links and any ``video`` link (other hosts via its generic extractor)."""

    name = "youtube"
    # YouTube rate-limits (429, then the bot wall) datacenter IPs that ask quickly: one video
    # (a yt-dlp call is several requests) or oEmbed probe a second, two at a time.
    host_limits: ClassVar[Mapping[str, HostLimits]] = {
        "youtube.com": HostLimits(per_host=2, min_interval=1.0),
        "youtu.be": HostLimits(per_host=2, min_interval=1.0),
        # The Data API: a call asks about 50 videos, so one at a time is plenty.
        "googleapis.com": HostLimits(per_host=1, min_interval=1.0),
    }

    def __init__(self) -> None:
        self._api: VideoApi | None = None  # this run's, when a key is set

    def expect(self, links: Sequence[Link], settings: Settings) -> None:
        api = self._video_api(settings)
        if api is not None:
            api.expect(vid for link in links if (vid := _video_id(link)) and self.handles(link))

    def _video_api(self, settings: Settings) -> VideoApi | None:
        if self._api is None and settings.youtube_api_key:
            self._api = VideoApi(settings.youtube_api_key)
        return self._api

    def handles(self, link: Link) -> bool:
        return link.kind is LinkKind.YOUTUBE or link.field == Field.VIDEO

    async def check(self, link: Link, ctx: CheckContext) -> LinkResult:
        video_id = _video_id(link)
        api = self._video_api(ctx.settings) if video_id else None
        if api is not None and video_id:
            answered = await api.lookup(link, video_id, ctx)
            if answered is not None:
                return answered
        result = await self._check_without_api(link, ctx)
        if api is not None and api.failure:
            result.run_note = api.failure
        return result

    async def _check_without_api(self, link: Link, ctx: CheckContext) -> LinkResult:
        """yt-dlp, oEmbed and the previous run's metadata, in the order the module says."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        url = canonical_video_url(link)
        # yt-dlp opens its own connections, past the engine's guard: ask the guard first (it
        # resolves the name, so a public-looking name for a private address is refused too,
        # and a name that does not resolve is not handed to yt-dlp to fail slowly again).
        # Where yt-dlp is led after that (redirects, its own DNS answers) is vetted in its
        # worker, connection by connection (``extract_video``).
        blocked = await ctx.guard(url)
        if blocked is not None:
            return unverified_from_fetch(link, blocked)
        is_youtube = url != link.url or youtube_video_id(link.url) is not None
        previous = ctx.previous(link)
        if previous is not None and metadata_is_fresh(previous, ctx):
            if is_youtube:
                cached = await probe_with_cache(link, url, previous, ctx)
            else:
                cached = await self._probe_page_with_cache(link, previous, ctx)
            if cached is not None:
                return cached

        proxy = ctx.proxy_for(url)
        ca_bundle = ctx.ca_bundle
        settings = ctx.settings
        # yt-dlp's time ends a little before the link's (``run_isolated``): then its worker
        # is stopped and these words, not the engine's "gave up", are reported.
        try:
            # A connection the server dropped is worth one more try (the engine retries
            # its own requests; yt-dlp's are retried here).
            for _ in range(2):
                # One of the host's slots while yt-dlp talks to it: per-host limits and
                # Retry-After pauses hold for yt-dlp's own connections too. The slot is the
                # host yt-dlp asks (m.youtube.com and youtu.be links at www.youtube.com).
                extraction = await ctx.run_isolated(
                    extract_video,
                    url,
                    proxy,
                    ca_bundle,
                    settings.read_timeout,
                    settings.allow_private,
                    slot_for=_slot_url(link, url),
                )
                if not extraction.network:
                    break
        except TimeoutError:
            took = loop.time() - started
            return LinkResult(
                link=link,
                status=Status.UNVERIFIED,
                detail=f"gave up after {took:.3g} s: yt-dlp did not finish reading the video",
                network_error=True,
            )
        except ChildProcessError as exc:  # killed from outside, e.g. out of memory
            return LinkResult(
                link=link, status=Status.UNVERIFIED, detail=f"yt-dlp stopped unexpectedly: {exc}"
            )
        if extraction.refused:
            refused = FetchResult(url, url, error=extraction.error, error_kind="refused")
            return unverified_from_fetch(link, refused)
        if extraction.too_large:
            return LinkResult(
                link=link,
                status=Status.UNVERIFIED,
                detail=(
                    f"not checked: the page is larger than {MAX_BYTES // 2**20} MiB "
                    "(yt-dlp reads at most that much of a page)"
                ),
            )
        if extraction.info is not None:
            if extraction.info.get("direct"):
                answered = direct_file(link, extraction.content_type)
            else:
                answered = from_info(link, extraction.info)
            answered.source = Source.YT_DLP
            return answered
        result = from_error(link, extraction, previous)
        result.source = Source.YT_DLP
        if is_youtube and result.status is Status.UNVERIFIED and not result.network_error:
            return await oembed_fallback(link, url, result, previous, ctx)
        return result

    @staticmethod
    async def _probe_page_with_cache(
        link: Link, previous: Remembered, ctx: CheckContext
    ) -> LinkResult | None:
        """A video page on another host: one plain HTTP check instead of yt-dlp while the
        metadata is fresh; None when that check settles nothing (then yt-dlp is asked)."""
        page = await GenericService().check(link, ctx)
        if page.status is Status.BROKEN:
            return page
        if page.status not in (Status.OK, Status.REDIRECTED):
            return None
        carry_metadata(page, previous)
        page.source = Source.PREVIOUS
        page.detail = f"{page.detail}; title and duration reused from a recent run"
        return page
