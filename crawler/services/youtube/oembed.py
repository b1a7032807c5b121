"""YouTube's oEmbed endpoint: whether a video exists when yt-dlp cannot tell.

YouTube often answers datacenter addresses (CI runners) with a bot check; oEmbed still answers:
200 with the title for a video that exists and may be embedded, 404 for one that does not,
401/403 for a private or non-embeddable one. It is asked after yt-dlp was refused
(``oembed_fallback``), and instead of yt-dlp while a previous run's metadata is fresh
(``probe_with_cache``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from crawler.model import Link, LinkResult, Source, Status
from crawler.services.base import CheckContext, Remembered
from crawler.services.youtube.metadata import bounded_text, carry_metadata

OEMBED_ENDPOINT = "https://www.youtube.com/oembed"


def oembed_url(watch_url: str) -> str:
    return f"{OEMBED_ENDPOINT}?{urlencode({'url': watch_url, 'format': 'json'})}"


async def ask_oembed(watch_url: str, ctx: CheckContext) -> tuple[int | None, dict[str, Any] | None]:
    """oEmbed's HTTP status and JSON (None when the body is not an oEmbed document)."""
    answer = await ctx.fetch(oembed_url(watch_url), headers={"Accept": "application/json"})
    data = None
    if answer.ok:
        try:
            parsed = json.loads(answer.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            parsed = None
        # YouTube once answered private videos with 200 and the bare text "Forbidden".
        if isinstance(parsed, dict) and parsed.get("title"):
            data = parsed
    return answer.status, data


async def oembed_fallback(
    link: Link,
    watch_url: str,
    blocked: LinkResult,
    previous: Remembered | None,
    ctx: CheckContext,
) -> LinkResult:
    """The verdict after yt-dlp was refused (``blocked``, the verdict so far): oEmbed's."""
    status, data = await ask_oembed(watch_url, ctx)
    if data is not None:
        result = LinkResult(
            link=link,
            status=Status.OK,
            detail=(
                "the video exists and is embeddable (metadata from YouTube's oEmbed, since "
                f"yt-dlp was refused: {blocked.detail})"
            ),
            reason=(
                "the video exists and is embeddable (metadata from YouTube's oEmbed, since "
                f"yt-dlp was refused: {blocked.plain_detail})"
            ),
            title=bounded_text(data.get("title")),
            uploader=bounded_text(data.get("author_name")),
            source=Source.OEMBED,
        )
        carry_metadata(result, previous)
        return result
    if status == 404:
        # oEmbed answers 404 only for videos that do not exist (removed or never existed);
        # private and non-embeddable videos get 401/403. That is a definitive answer.
        return LinkResult(
            link=link,
            status=Status.BROKEN,
            detail=(
                "YouTube's oEmbed says there is no such video (404); yt-dlp was refused: "
                f"{blocked.detail}"
            ),
            reason=(
                "YouTube's oEmbed says there is no such video (404); yt-dlp was refused: "
                f"{blocked.plain_detail}"
            ),
            source=Source.OEMBED,
        )
    if status in (401, 403):
        what = f"oEmbed answered {status}: private or not embeddable, cannot tell which"
    elif status is None:
        what = "oEmbed was unreachable too"
    else:
        what = f"oEmbed answered {status} without an oEmbed document"
    blocked.detail = f"{blocked.detail}; {what}"
    blocked.reason = f"{blocked.plain_detail}; {what}" if blocked.reason else None
    return blocked


async def probe_with_cache(
    link: Link, watch_url: str, previous: Remembered, ctx: CheckContext
) -> LinkResult | None:
    """oEmbed only, reusing fresh metadata; None when the probe settles nothing."""
    status, data = await ask_oembed(watch_url, ctx)
    if data is not None:
        result = LinkResult(
            link=link,
            status=Status.OK,
            detail="the video exists (oEmbed); title and duration reused from a recent run",
            source=Source.PREVIOUS,
        )
        carry_metadata(result, previous)
        result.title = bounded_text(data.get("title")) or result.title
        return result
    if status == 404:
        return LinkResult(
            link=link,
            status=Status.BROKEN,
            detail="YouTube's oEmbed says there is no such video (404)",
            source=Source.OEMBED,
        )
    # 401/403 (private or not embeddable) or no answer: ask yt-dlp, which can tell.
    return None
