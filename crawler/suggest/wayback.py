"""The newest Wayback Machine snapshot of a URL, as a suggested fix.

``GET https://web.archive.org/web/<url>`` answers with a redirect to the newest snapshot
(``/web/20240101000000/<url>``), read, not followed; 404 means none, and so does any other
answer. No answer at all, a rate limit or a server error means the Wayback Machine cannot be
asked now (``Unavailable``): the run asks it no more (``suggest_all``). Never an invented one.
"""

from __future__ import annotations

from urllib.parse import urljoin

from crawler.fields import url_problem
from crawler.model import Fix, FixKind, FixSource
from crawler.services.base import CheckContext

SNAPSHOT_STATUSES = frozenset({301, 302, 303, 307, 308})


class Unavailable(Exception):
    """The Wayback Machine gave no answer, a rate limit or a server error (after the engine's
    retries): the next question would fare no better."""


def _unavailable(status: int | None) -> bool:
    return status is None or status == 429 or status >= 500


async def snapshot(ctx: CheckContext, base: str, url: str) -> Fix | None:
    asked = f"{base}/web/{url}"
    answer = await ctx.fetch(asked, follow_redirects=False, max_bytes=0)
    if _unavailable(answer.status):
        raise Unavailable(answer.error or f"HTTP {answer.status}")
    location = answer.headers.get("location") if answer.status in SNAPSHOT_STATUSES else None
    if not location:
        return None
    found = urljoin(asked, location)
    # A header is not a URL yet: one the catalogue could not hold is no suggestion.
    if url_problem(found) is not None:
        return None
    return Fix(found, FixKind.SUGGESTED, FixSource.WAYBACK)
