"""What yt-dlp's error messages mean for a link: one table, ``MESSAGE_RULES``, from its error
text (and its warnings on the way) to a status and plain words for the report.

latest.json keeps yt-dlp's whole message; the report and the terminal say what is wrong in the
crawler's words, without yt-dlp's advice to its own users (``without_advice``).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from crawler.model import Link, LinkResult, Status
from crawler.services.base import Remembered
from crawler.services.youtube.metadata import carry_metadata
from crawler.services.youtube.worker import Extraction


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


def from_error(link: Link, extraction: Extraction, previous: Remembered | None) -> LinkResult:
    """The verdict on a yt-dlp call that failed: the first rule matching its warnings'
    throttling or its error, else ``unverified`` quoting yt-dlp."""
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
        carry_metadata(result, previous)
    return result


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
