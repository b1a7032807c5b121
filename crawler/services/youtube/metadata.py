"""What a video is, read from yt-dlp's info dict: title, duration, uploader and upload date,
each bounded (a page says what it likes), and the verdict on a "direct link" (a file, not a
page about a video). Also the metadata cache: when a previous run's metadata is fresh enough to
reuse, and how it is carried into a new result.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from crawler.model import Link, LinkResult, Status
from crawler.services.base import CheckContext, Remembered

# A page says what it likes: a title as long as the page, a duration of 10^400 seconds.
MAX_TEXT = 300  # characters of a title or uploader name kept
MAX_DURATION = 31 * 24 * 3600  # longer is no talk's length (YouTube caps uploads at 12 h)


def bounded_text(value: Any) -> str | None:
    """A title or name from a page: stripped, cut to ``MAX_TEXT``; None when empty."""
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


def from_info(link: Link, info: dict[str, Any]) -> LinkResult:
    """The verdict on a video yt-dlp read: ``ok``, with what it says about the video."""
    kind = info.get("_type") or "video"
    detail = "video found" if kind in ("video", "url", "url_transparent") else f"{kind} found"
    return LinkResult(
        link=link,
        status=Status.OK,
        detail=detail,
        title=bounded_text(info.get("title")),
        duration=_seconds(info.get("duration")),
        uploader=bounded_text(info.get("uploader") or info.get("channel")),
        upload_date=_upload_date(info),
        metadata_fetched_at=_utc_now(),
        note=f"not a single video but a {kind}" if kind in ("playlist", "multi_video") else None,
    )


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


def direct_file(link: Link, content_type: str | None) -> LinkResult:
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


# --- the metadata cache ---------------------------------------------------------------


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


def metadata_is_fresh(previous: Remembered | None, ctx: CheckContext) -> bool:
    """True when ``previous`` has a title and duration younger than the run's maximum age."""
    if previous is None or not previous.title or previous.duration is None:
        return False
    fetched = _parse_utc(previous.metadata_fetched_at)
    if fetched is None:
        return False
    age = dt.datetime.now(dt.UTC) - fetched
    return age < dt.timedelta(days=ctx.settings.metadata_max_age_days)


def carry_metadata(result: LinkResult, previous: Remembered | None) -> None:
    """Copy what an earlier run learnt (title, duration, …) into ``result`` where it is empty."""
    if previous is None:
        return
    result.title = result.title or previous.title
    result.duration = result.duration if result.duration is not None else previous.duration
    result.uploader = result.uploader or previous.uploader
    result.upload_date = result.upload_date or previous.upload_date
    if previous.duration is not None or previous.upload_date:
        result.metadata_fetched_at = previous.metadata_fetched_at
