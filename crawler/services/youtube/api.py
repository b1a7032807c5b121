"""The YouTube Data API: definitive verdicts on YouTube videos, asked before yt-dlp when a key
is set (``Settings.youtube_api_key``, from ``YOUTUBE_API_KEY``).

YouTube answers datacenter addresses (CI runners) with its bot wall; the API answers them with
what it knows of each video. ``videos.list`` takes up to 50 ids a call for one quota unit
(10,000 a day by default), so a run asks once per 50 of its videos: the service is told the
run's videos before the checks (``VideoApi.expect``), and the first check of a video not yet
asked about asks for it and up to 49 others still pending (``VideoApi.lookup``).

The key travels in the ``X-Goog-Api-Key`` header, never in the URL: URLs are recorded (final
URLs, redirect hops) and logged (httpx's request lines with ``-v``), headers are not. Words
from the API are cleaned of the key all the same (``_scrub``).

The API's own failures (quota used up, a key refused, 5xx, timeouts) never judge a video: the
API is then not asked again in the run, its videos go to the next source, and ``failure`` says
once, plainly, what happened to the key.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from crawler.model import Link, LinkResult, Source, Status
from crawler.services.base import CheckContext, FetchResult
from crawler.services.verdicts import status_words
from crawler.services.youtube.metadata import from_info

REAL_BASE = "https://www.googleapis.com/youtube/v3"
# For tests only: the base URL of a local server playing the API (e.g.
# "http://127.0.0.1:8000/youtube/v3"). Read in ``api_base`` and nowhere else.
TEST_BASE_ENV = "CRAWLER_TEST_YOUTUBE_API"
BATCH = 50  # ids per videos.list call: the API's maximum, one quota unit
MAX_BYTES = 1024 * 1024  # 50 videos' trimmed answers are ~20 KB
# Only what the verdict reads (a partial response): no descriptions, thumbnails or tags.
FIELDS = (
    "items(id,snippet(title,channelTitle,publishedAt),contentDetails(duration),"
    "status(uploadStatus,privacyStatus,embeddable,rejectionReason,failureReason))"
)
ABSENT = "no public video with this id: deleted, private or its account closed"

# What an error's reason means for the key, in plain words.
_REASONS = {
    "quotaExceeded": "its daily quota is used up (quotaExceeded)",
    "dailyLimitExceeded": "its daily quota is used up (dailyLimitExceeded)",
    "rateLimitExceeded": "it was rate-limited (rateLimitExceeded)",
    "userRateLimitExceeded": "it was rate-limited (userRateLimitExceeded)",
    "keyInvalid": "the key is not valid (keyInvalid): check the secret",
    "API_KEY_INVALID": "the key is not valid (keyInvalid): check the secret",
    "keyExpired": "the key has expired (keyExpired)",
    "accessNotConfigured": (
        "the key's project has not enabled the YouTube Data API v3 (accessNotConfigured)"
    ),
    "SERVICE_DISABLED": (
        "the key's project has not enabled the YouTube Data API v3 (accessNotConfigured)"
    ),
    "ipRefererBlocked": "the key's restrictions refuse this caller (ipRefererBlocked)",
    "API_KEY_SERVICE_BLOCKED": "the key is restricted to other APIs (API_KEY_SERVICE_BLOCKED)",
}
_DURATION = re.compile(
    r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?", re.ASCII
)


def api_base() -> str:
    return (os.environ.get(TEST_BASE_ENV) or REAL_BASE).rstrip("/")


def iso_seconds(text: Any) -> int | None:
    """``contentDetails.duration`` (ISO 8601, "PT1H2M3S") in seconds; None for anything else,
    and for 0 ("P0D": a live stream or a premiere not started)."""
    match = _DURATION.fullmatch(text) if isinstance(text, str) and text != "P" else None
    if match is None or text.endswith("T"):
        return None
    weeks, days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = round((((weeks * 7 + days) * 24 + hours) * 60 + minutes) * 60 + seconds)
    return total or None


def verdict(link: Link, item: dict[str, Any] | None) -> LinkResult:
    """The verdict on a video from its ``videos.list`` item (None: absent from ``items``)."""
    if item is None:
        return _api_result(link, Status.BROKEN, ABSENT)
    status = _obj(item.get("status"))
    upload = status.get("uploadStatus")
    if upload in ("rejected", "deleted", "failed"):
        why = status.get("rejectionReason") or status.get("failureReason")
        words = f"YouTube {upload} the upload" if upload != "deleted" else "the video was deleted"
        return _api_result(link, Status.BROKEN, f"{words}" + (f" ({why})" if why else ""))
    if status.get("privacyStatus") == "private":
        return _api_result(link, Status.BROKEN, "the video is private")
    snippet = _obj(item.get("snippet"))
    published = snippet.get("publishedAt")
    day = published[:10].replace("-", "") if isinstance(published, str) else None
    info = {
        "title": snippet.get("title"),
        "uploader": snippet.get("channelTitle"),
        "upload_date": day,
        "duration": iso_seconds(_obj(item.get("contentDetails")).get("duration")),
    }
    result = from_info(link, info)  # bounded as yt-dlp's answers are
    result.detail = "video found (YouTube Data API)"
    result.source = Source.API
    if status.get("embeddable") is False:
        result.note = "not embeddable: it plays on YouTube only"
    return result


def _api_result(link: Link, status: Status, detail: str) -> LinkResult:
    return LinkResult(
        link=link, status=status, detail=f"{detail} (YouTube Data API)", source=Source.API
    )


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class VideoApi:
    """The API for one run: the videos it will ask about, the answers, and its failure."""

    def __init__(self, key: str, base: str | None = None) -> None:
        self._key = key
        self._base = base or api_base()
        self._pending: dict[str, None] = {}  # ids not asked yet, in catalogue order
        self._answers: dict[str, dict[str, Any] | None] = {}  # None: absent from ``items``
        self._asking: dict[str, asyncio.Future[None]] = {}
        # One call at a time: a call queued behind one that found the quota gone is not sent.
        self._one_call = asyncio.Lock()
        self.failure: str | None = None  # plain words, once the API is given up for the run

    def expect(self, video_ids: Iterable[str]) -> None:
        """The run's videos, so that one call asks about 50 of them."""
        for video_id in video_ids:
            if video_id not in self._answers:
                self._pending[video_id] = None

    async def lookup(self, link: Link, video_id: str, ctx: CheckContext) -> LinkResult | None:
        """The API's verdict on ``video_id``; None when the API cannot give one (then the next
        source is asked)."""
        if self.failure is None and video_id not in self._answers:
            asking = self._asking.get(video_id)
            if asking is None:
                await self._ask(video_id, ctx)
            else:  # another link's call asks about it: wait for that one, not cancel it
                await asyncio.shield(asking)
        if video_id not in self._answers:  # the API failed (or its call ran out of time)
            return None
        return verdict(link, self._answers[video_id])

    async def _ask(self, video_id: str, ctx: CheckContext) -> None:
        self._pending.pop(video_id, None)
        batch = [video_id]
        while self._pending and len(batch) < BATCH:
            other = next(iter(self._pending))
            del self._pending[other]
            if other not in self._answers and other not in self._asking:
                batch.append(other)
        done = asyncio.get_running_loop().create_future()
        for asked in batch:
            self._asking[asked] = done
        try:
            async with self._one_call:
                if self.failure is not None:
                    return
                query = urlencode({"part": "snippet,contentDetails,status", "id": ",".join(batch)})
                answer = await ctx.fetch(
                    f"{self._base}/videos?{query}&fields={FIELDS}",
                    headers={"Accept": "application/json", "X-Goog-Api-Key": self._key},
                    max_bytes=MAX_BYTES,
                    follow_redirects=False,
                )
                self._read(batch, answer)
        finally:  # also when this link ran out of time: the others then go to the next source
            for asked in batch:
                self._asking.pop(asked, None)
            done.set_result(None)

    def _read(self, batch: list[str], answer: FetchResult) -> None:
        body = _json(answer.body)
        if answer.status != 200 or not isinstance(body.get("items"), list):
            self._give_up(answer, body)
            return
        items = {i.get("id"): i for i in body["items"] if isinstance(i, dict)}
        for asked in batch:
            self._answers[asked] = items.get(asked)

    def _give_up(self, answer: FetchResult, body: dict[str, Any]) -> None:
        if self.failure is not None:
            return
        error = _obj(body.get("error"))
        reasons = [_obj(e).get("reason") for e in error.get("errors") or ()]
        reasons += [_obj(d).get("reason") for d in error.get("details") or ()]
        why = next((_REASONS[r] for r in reasons if r in _REASONS), None)
        status = answer.status
        if why is None and status is None:
            why = f"it could not be reached ({answer.error or 'no answer'})"
        elif why is None and status == 200:
            why = "its answer was not a video list"
        elif why is None and status is not None:
            reason = next((r for r in reasons if isinstance(r, str)), None)
            why = f"it answered {status_words(status)}" + (f" ({reason})" if reason else "")
        self.failure = _scrub(
            f"YouTube Data API not used for the rest of this run: {why}; "
            "its videos were checked with yt-dlp and oEmbed instead",
            self._key,
        )


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _scrub(text: str, key: str) -> str:
    """``text`` without the key (should the words of an error ever quote it)."""
    return text.replace(key, "[the key]") if key else text
