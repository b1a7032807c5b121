"""Videos: YouTube links and every catalogue ``video`` link, judged with yt-dlp's metadata.

yt-dlp only reads metadata here (title, duration, uploader, upload date): no media is ever
downloaded and a ``watch?v=…&list=…`` link is checked as the one video, never as its playlist.
What yt-dlp's error texts mean is decided in one table, ``MESSAGE_RULES``, below.

YouTube often answers datacenter addresses (CI runners) with a bot check; the service then asks
YouTube's oEmbed endpoint, which still answers, whether the video exists. While a previous run's
metadata is fresh (``Settings.metadata_max_age_days``), only that cheap oEmbed probe is made.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar, NamedTuple
from urllib.parse import urlencode

from crawler.hosts import LinkKind, youtube_video_id
from crawler.model import Field, Link, LinkResult, Status
from crawler.services.base import (
    CheckContext,
    FetchResult,
    HostLimits,
    Remembered,
    Service,
    unverified_from_fetch,
)
from crawler.services.generic import GenericService
from crawler.services.ytdlp_worker import MAX_BYTES, Extraction, extract_video

OEMBED_ENDPOINT = "https://www.youtube.com/oembed"


class Rule(NamedTuple):
    """One row of the message table: a yt-dlp error text and what it means for the link."""

    pattern: str  # regular expression, matched case-insensitively
    status: Status
    detail: str  # plain words for the report; for ``ok`` rows also the ``note``
    network: bool = False  # the failure was the network itself, not a server's answer


# The real texts come from YouTube (its playability "reason" + "subreason", joined by ". ")
# and from yt-dlp itself (extractor/youtube/_video.py, extractor/common.py, networking/).
# First match wins, so order matters:
#  - throttling and the bot check come first: "Video unavailable. This content isn't available,
#    try again later" is a rate limit, and "Sign in to confirm you’re not a bot" is not a
#    private video (YouTube writes "you’re" with U+2019);
#  - restrictions (age, members, country) come before the definitive rows they resemble;
#  - "Private video. Sign in if you've been granted access…" comes before the sign-in wall.
MESSAGE_RULES: tuple[Rule, ...] = (
    Rule(
        r"confirm you[’']re not a bot",
        Status.UNVERIFIED,
        "YouTube answered with its bot check (“Sign in to confirm you’re not a bot”)",
    ),
    Rule(
        r"content isn[’']t available, try again later|rate-limited by youtube|try again later",
        Status.UNVERIFIED,
        "YouTube rate-limited this session (“try again later”)",
    ),
    Rule(r"HTTP Error 429", Status.UNVERIFIED, "too many requests (HTTP 429)"),
    Rule(
        r"captcha|your IP is likely being blocked|not available on this app",
        Status.UNVERIFIED,
        "YouTube refused to answer this client (captcha or blocked address)",
    ),
    Rule(
        r"confirm your age|age-restricted|inappropriate for some users",
        Status.OK,
        "age-restricted: YouTube shows it only to signed-in adults",
    ),
    Rule(
        r"members-only|channel's members|members on level",
        Status.OK,
        "members-only: YouTube shows it only to the channel's members",
    ),
    Rule(
        r"available in your country|in your country on copyright grounds|geo.?restrict",
        Status.UNVERIFIED,
        "blocked in the country this check ran from",
    ),
    Rule(r"private video|this video is private", Status.BROKEN, "the video is private"),
    Rule(
        r"account associated with this video has been terminated",
        Status.BROKEN,
        "the uploader's YouTube account was terminated",
    ),
    Rule(r"removed by the uploader", Status.BROKEN, "the uploader removed the video"),
    Rule(
        r"copyright",
        Status.BROKEN,
        "the video was taken down on copyright grounds",
    ),
    Rule(
        r"removed for violating|violat\w* youtube",
        Status.BROKEN,
        "YouTube removed the video for a policy violation",
    ),
    Rule(
        r"video unavailable|this video is (?:no longer |not )?available|this video does not exist",
        Status.BROKEN,
        "YouTube says the video is unavailable",
    ),
    Rule(r"HTTP Error (?:404|410)\b", Status.BROKEN, "the video page is gone (HTTP 404/410)"),
    Rule(
        r"sign in|login required|log in|requires authentication|cookies for the authentication",
        Status.UNVERIFIED,
        "the site asks to sign in before showing the video",
    ),
    Rule(r"HTTP Error 5\d\d", Status.UNVERIFIED, "the video site had a server error (HTTP 5xx)"),
    Rule(r"HTTP Error 40[13]", Status.UNVERIFIED, "the video site refused access (HTTP 401/403)"),
    Rule(
        r"Unsupported URL",
        # The page answered, so the link is not dead, but it has no video yt-dlp can read.
        Status.UNVERIFIED,
        "the page has no video that yt-dlp can read (unsupported page)",
    ),
    Rule(
        r"timed out|urlopen error|Connection (?:refused|reset|aborted)|Name or service not known"
        r"|name resolution|Network is unreachable|Tunnel connection failed|ProxyError|SSL|"
        r"CERTIFICATE_VERIFY_FAILED|TransportError",
        Status.UNVERIFIED,
        "network error while reading the video",
        network=True,
    ),
)

# Rows that override the error itself when they show up only in yt-dlp's warnings: a 429 or a
# bot check on the way usually explains the final error ("Failed to extract any player response").
_THROTTLE_RULES = MESSAGE_RULES[:4]


def classify_message(text: str) -> Rule | None:
    """The first rule of ``MESSAGE_RULES`` matching ``text``, or None."""
    for rule in MESSAGE_RULES:
        if re.search(rule.pattern, text, re.IGNORECASE):
            return rule
    return None


def canonical_video_url(link: Link) -> str:
    """What yt-dlp is asked about: ``watch?v=ID`` for YouTube videos (drops ``&list=``)."""
    video_id = youtube_video_id(link.url) if link.kind is LinkKind.YOUTUBE else None
    return f"https://www.youtube.com/watch?v={video_id}" if video_id else link.url


def oembed_url(watch_url: str) -> str:
    return f"{OEMBED_ENDPOINT}?{urlencode({'url': watch_url, 'format': 'json'})}"


def ytdlp_budget(link_timeout: float, spent: float) -> float:
    """yt-dlp's time for a link: what is left of the link's budget, less a margin so that
    yt-dlp's own limit fires first (one timer on the same loop: a small margin suffices)."""
    return max(0.0, link_timeout - spent - min(1.0, link_timeout / 10))


# What a "direct link" (a file, not a page about a video) serves, by its content type.
MEDIA_TYPE = re.compile(r"(?:video|audio)/|application/(?:ogg|(?:vnd\.apple\.|x-)?mpegurl)$")
_FILE_WORDS = {
    "application/pdf": "a PDF document",
    "text/plain": "a text file",
    "application/json": "a JSON document",
    "application/zip": "a ZIP archive",
}
# Types a server sends when it does not know or say better: not a definitive "not a video".
_VAGUE_TYPES = ("", "application/octet-stream", "binary/octet-stream", "text/html")


def _direct_file(link: Link, content_type: str | None) -> LinkResult:
    """The verdict on a link yt-dlp calls a "direct link": a file, not a page about a video."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if MEDIA_TYPE.match(kind):
        return LinkResult(
            link=link,
            status=Status.OK,
            detail=f"a media file ({kind}): the link serves the video itself, without a title",
        )
    if kind in _VAGUE_TYPES:
        what = "a page that is not HTML" if kind == "text/html" else "a file of unknown type"
        shown = kind or "no content type"
        return LinkResult(
            link=link,
            status=Status.UNVERIFIED,
            detail=f"no video found: the link serves {what} ({shown}), not a video page",
        )
    what = _FILE_WORDS.get(kind) or ("an image" if kind.startswith("image/") else "a file")
    # A file of a known other type is a definitive answer: the catalogue names the wrong link.
    return LinkResult(link=link, status=Status.BROKEN, detail=f"not a video: {what} ({kind})")


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_utc(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


class YouTubeService(Service):
    """yt-dlp for YouTube links and any ``video`` link (other hosts via its generic extractor)."""

    name = "youtube"
    # YouTube rate-limits (429, then the bot wall) datacenter IPs that ask quickly: one video
    # (a yt-dlp call is several requests) or oEmbed probe a second, two at a time.
    host_limits: ClassVar[Mapping[str, HostLimits]] = {
        "youtube.com": HostLimits(per_host=2, min_interval=1.0),
        "youtu.be": HostLimits(per_host=2, min_interval=1.0),
    }

    def handles(self, link: Link) -> bool:
        return link.kind is LinkKind.YOUTUBE or link.field == Field.VIDEO

    async def check(self, link: Link, ctx: CheckContext) -> LinkResult:
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
        if previous is not None and self._metadata_is_fresh(previous, ctx):
            if is_youtube:
                cached = await self._probe_with_cache(link, url, previous, ctx)
            else:
                cached = await self._probe_page_with_cache(link, previous, ctx)
            if cached is not None:
                return cached

        proxy = ctx.proxy_for(url)
        ca_bundle = ctx.ca_bundle
        settings = ctx.settings
        # yt-dlp's time ends before the engine's budget for the link (which began with this
        # check): then its worker is stopped and these words, not "gave up", are reported.
        budget = ytdlp_budget(settings.link_timeout, loop.time() - started)
        try:
            async with asyncio.timeout(budget):
                # A connection the server dropped is worth one more try (the engine retries
                # its own requests; yt-dlp's are retried here).
                for _ in range(2):
                    # One of the host's slots while yt-dlp talks to it: per-host limits and
                    # Retry-After pauses hold for yt-dlp's own connections too.
                    extraction = await ctx.run_isolated(
                        extract_video,
                        url,
                        proxy,
                        ca_bundle,
                        settings.read_timeout,
                        settings.allow_private,
                        slot_for=url,
                    )
                    if not extraction.network:
                        break
        except TimeoutError:
            return LinkResult(
                link=link,
                status=Status.UNVERIFIED,
                detail=f"gave up after {budget:.3g} s: yt-dlp did not finish reading the video",
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
                return _direct_file(link, extraction.content_type)
            return self._from_info(link, extraction.info)
        result = self._from_error(link, extraction, previous)
        if is_youtube and result.status is Status.UNVERIFIED and not result.network_error:
            return await self._oembed_fallback(link, url, result, previous, ctx)
        return result

    # --- verdicts -------------------------------------------------------------------------

    def _from_info(self, link: Link, info: dict[str, Any]) -> LinkResult:
        kind = info.get("_type") or "video"
        detail = "video found" if kind in ("video", "url", "url_transparent") else f"{kind} found"
        return LinkResult(
            link=link,
            status=Status.OK,
            detail=detail,
            title=_text(info.get("title")),
            duration=_seconds(info.get("duration")),
            uploader=_text(info.get("uploader") or info.get("channel")),
            upload_date=_upload_date(info),
            metadata_fetched_at=_utc_now(),
            note=f"not a single video but a {kind}"
            if kind in ("playlist", "multi_video")
            else None,
        )

    def _from_error(
        self, link: Link, extraction: Extraction, previous: Remembered | None
    ) -> LinkResult:
        error = extraction.error or "yt-dlp failed without a message"
        rule = None
        for warning in extraction.warnings:
            rule = next(
                (r for r in _THROTTLE_RULES if re.search(r.pattern, warning, re.IGNORECASE)),
                None,
            )
            if rule:
                break
        rule = rule or classify_message(error)
        if extraction.network and (rule is None or rule.status is not Status.UNVERIFIED):
            rule = MESSAGE_RULES[-1]
        # latest.json keeps yt-dlp's whole message; the report and the terminal say what is
        # wrong in the crawler's words, without yt-dlp's advice to its own users.
        if rule is None:
            return LinkResult(
                link=link,
                status=Status.UNVERIFIED,
                detail=f"yt-dlp could not read the video: {_short(error)}",
                reason=f"yt-dlp could not read the video: {_short(without_advice(error))}",
                http_status=extraction.http_status,
            )
        result = LinkResult(
            link=link,
            status=rule.status,
            detail=f"{rule.detail} — yt-dlp: {_short(error)}",
            reason=rule.detail,
            http_status=extraction.http_status,
            network_error=rule.network or extraction.network,
        )
        if rule.status is Status.OK:
            # Restricted but there: keep what an earlier run learnt about it.
            result.note = rule.detail.split(":")[0]
            result.detail = f"the video exists but is restricted ({rule.detail})"
            result.reason = None
            _carry_metadata(result, previous)
        return result

    # --- oEmbed ---------------------------------------------------------------------------

    async def _oembed(self, watch_url: str, ctx: CheckContext) -> tuple[int | None, dict | None]:
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

    async def _oembed_fallback(
        self,
        link: Link,
        watch_url: str,
        blocked: LinkResult,
        previous: Remembered | None,
        ctx: CheckContext,
    ) -> LinkResult:
        status, data = await self._oembed(watch_url, ctx)
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
                title=_text(data.get("title")),
                uploader=_text(data.get("author_name")),
            )
            _carry_metadata(result, previous)
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

    # --- the metadata cache ---------------------------------------------------------------

    @staticmethod
    def _metadata_is_fresh(previous: Remembered | None, ctx: CheckContext) -> bool:
        if previous is None or not previous.title or previous.duration is None:
            return False
        fetched = _parse_utc(previous.metadata_fetched_at)
        if fetched is None:
            return False
        age = dt.datetime.now(dt.UTC) - fetched
        return age < dt.timedelta(days=ctx.settings.metadata_max_age_days)

    async def _probe_with_cache(
        self, link: Link, watch_url: str, previous: Remembered, ctx: CheckContext
    ) -> LinkResult | None:
        """oEmbed only, reusing fresh metadata; None when the probe settles nothing."""
        status, data = await self._oembed(watch_url, ctx)
        if data is not None:
            result = LinkResult(
                link=link,
                status=Status.OK,
                detail="the video exists (oEmbed); title and duration reused from a recent run",
            )
            _carry_metadata(result, previous)
            result.title = _text(data.get("title")) or result.title
            return result
        if status == 404:
            return LinkResult(
                link=link,
                status=Status.BROKEN,
                detail="YouTube's oEmbed says there is no such video (404)",
            )
        # 401/403 (private or not embeddable) or no answer: ask yt-dlp, which can tell.
        return None

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
        _carry_metadata(page, previous)
        page.detail = f"{page.detail}; title and duration reused from a recent run"
        return page


def _carry_metadata(result: LinkResult, previous: Remembered | None) -> None:
    """Copy what an earlier run learnt (title, duration, …) into ``result`` where it is empty."""
    if previous is None:
        return
    result.title = result.title or previous.title
    result.duration = result.duration if result.duration is not None else previous.duration
    result.uploader = result.uploader or previous.uploader
    result.upload_date = result.upload_date or previous.upload_date
    if previous.duration is not None or previous.upload_date:
        result.metadata_fetched_at = previous.metadata_fetched_at


# What yt-dlp tells its own users to do: its command-line flags, its FAQ and issue tracker.
_ADVICE = re.compile(
    r"--[a-z]|`-t |https?://github\.com/yt-dlp|please report this issue|yt-dlp -U"
    r"|You might want to use a VPN",
    re.IGNORECASE,
)


def without_advice(message: str) -> str:
    """yt-dlp's error ``message`` without the sentences addressed to yt-dlp's users, its
    "[extractor] id:" prefix and its "(caused by <…>)" suffix."""
    message = re.sub(r"^\[[\w:.-]+\] [^:\s]+: ", "", message.strip())
    message = re.sub(r"\s*\(caused by <.*?>\)", "", message)
    # bug_reports_message() always ends the text: "; please report this issue on … yt-dlp -U".
    message = re.sub(r";?\s*please report this issue.*", "", message, flags=re.I | re.S)
    sentences = re.split(r"(?<=[.!?])\s+", message)
    kept = " ".join(s for s in sentences if not _ADVICE.search(s)).strip()
    return kept or "no reason given"


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# A page says what it likes: a title as long as the page, a duration of 10^400 seconds.
MAX_TEXT = 300  # characters of a title or uploader name kept
MAX_DURATION = 31 * 24 * 3600  # longer is no talk's length (YouTube caps uploads at 12 h)


def _text(value: Any) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    return (text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…") or None


def _seconds(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not 0 <= value <= MAX_DURATION:  # also false for NaN; infinity is out of range
        return None
    return round(value)


def _upload_date(info: dict[str, Any]) -> str | None:
    date = info.get("upload_date")
    if isinstance(date, str) and re.fullmatch(r"\d{8}", date):
        return date
    # With process=False yt-dlp does not derive upload_date from timestamp (JSON-LD pages).
    stamp = info.get("timestamp")
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        try:
            return dt.datetime.fromtimestamp(stamp, dt.UTC).strftime("%Y%m%d")
        except (OverflowError, ValueError, OSError):  # beyond the calendar (or NaN)
            return None
    return None
