"""The newest Wayback Machine snapshot (``crawler/suggest/wayback.py``): asked once, the
redirect read and not followed; any other answer means no suggestion, and no answer, a rate
limit or a server error means the Wayback Machine cannot be asked now."""

from __future__ import annotations

import asyncio

import pytest

from crawler.model import Fix, FixKind, FixSource
from crawler.services.base import FetchResult
from crawler.suggest.wayback import Unavailable, snapshot

URL = "https://example.org/talk.pdf"
ASKED = f"https://web.archive.org/web/{URL}"


class OneAnswer:
    def __init__(self, answer: FetchResult):
        self.answer = answer
        self.asked: list[tuple[str, bool]] = []

    async def fetch(self, url: str, *, follow_redirects: bool = True, **kwargs) -> FetchResult:
        self.asked.append((url, follow_redirects))
        return self.answer


def test_a_redirect_names_the_snapshot():
    where = "/web/20240101000000/https://example.org/talk.pdf"
    ctx = OneAnswer(FetchResult(ASKED, ASKED, status=302, headers={"location": where}))
    fix = asyncio.run(snapshot(ctx, "https://web.archive.org", URL))  # type: ignore[arg-type]
    assert fix == Fix(f"https://web.archive.org{where}", FixKind.SUGGESTED, FixSource.WAYBACK)
    assert ctx.asked == [(ASKED, False)]


@pytest.mark.parametrize(
    "answer",
    [
        FetchResult(ASKED, ASKED, status=404),
        FetchResult(ASKED, ASKED, status=200),  # no redirect: no snapshot named
        FetchResult(ASKED, ASKED, status=302),  # a redirect to nowhere
        FetchResult(ASKED, ASKED, status=302, headers={"location": "ftp://x/\x01"}),  # no URL
    ],
)
def test_anything_else_is_no_suggestion(answer):
    assert asyncio.run(snapshot(OneAnswer(answer), "https://web.archive.org", URL)) is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (FetchResult(ASKED, ASKED, status=429, headers={"retry-after": "60"}), "HTTP 429"),
        (FetchResult(ASKED, ASKED, status=503), "HTTP 503"),
        (FetchResult(ASKED, ASKED, error="timed out", error_kind="timeout"), "timed out"),
        (
            FetchResult(ASKED, ASKED, error="web.archive.org: no such host", error_kind="network"),
            "no such host",
        ),
    ],
)
def test_no_answer_a_rate_limit_or_a_server_error_means_it_cannot_be_asked_now(answer, said):
    with pytest.raises(Unavailable, match=said):
        asyncio.run(snapshot(OneAnswer(answer), "https://web.archive.org", URL))  # type: ignore[arg-type]
