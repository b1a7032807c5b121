"""yt-dlp's error messages → statuses (``youtube/messages.py``): the ``MESSAGE_RULES`` table
and the plain words the report and the terminal show instead of yt-dlp's advice."""

from __future__ import annotations

import dataclasses
import json

import pytest
from youtube_fakes import (
    BOT_WALL,
    COOKIE_HINT,
    VIDEO_ID,
    FakeContext,
    check,
    http_error,
    network_error,
    video_link,
    wrap,
    youtube_error,
)
from yt_dlp.utils import ExtractorError, GeoRestrictedError, UnsupportedError

from crawler.model import LinkResult, Status
from crawler.services.youtube.messages import MESSAGE_RULES, classify_message


def test_wrapped_errors_look_like_yt_dlp_output():
    assert (
        str(youtube_error("Video unavailable")) == f"ERROR: [youtube] {VIDEO_ID}: Video unavailable"
    )
    assert str(http_error(404, "Not Found")) == (
        "ERROR: [generic] talk: Unable to download webpage: HTTP Error 404: Not Found "
        "(caused by <HTTPError 404: Not Found>)"
    )


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


# --- plain words: yt-dlp's advice to its own users stays in latest.json ---------------------

# extractor/youtube/_video.py, for "This content isn't available, try again later".
RATE_LIMITED_BARE = (
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

    from crawler.console import Output
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
        (youtube_error(RATE_LIMITED_BARE), "YouTube rate-limited this session"),
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
