"""SlideShare decks: soft-404s, moved decks, the deck's title, and Cloudflare bot walls.

SlideShare rarely answers 404: a removed or private deck comes back as a 200 page without a
deck, or as a redirect to the home page, a search or a login page. ``soft_404_reason`` is the one
place that decides it. Old ``/USER/SLUG`` links are 301-moved to ``/slideshow/SLUG/ID``: the
shared rules in ``verdicts.http_verdict`` report those as ``redirected`` with the new URL.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import urlsplit

from crawler.config import HostLimits
from crawler.hosts import LinkKind
from crawler.model import Link, LinkResult, Status
from crawler.services.base import CheckContext, FetchResult, Service
from crawler.services.verdicts import http_verdict

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

# --- What SlideShare pages carry -------------------------------------------------------------
# Markers of a page that shows a deck; any one of them is enough. Gathered from SlideShare pages
# as other tools read them: classic pages declare og:type "slideshare:presentation" and embed
# their player (twitter:player → /slideshow/embed_code/...); current (Next.js) pages live at
# /slideshow/SLUG/ID (og:url, canonical) and ship the deck as __NEXT_DATA__ props.pageProps.
# slideshow (gallery-dl's extractor reads it there); a deck's own thumbnail is served from
# cdn.slidesharecdn.com/ss_thumbnails/. Slide images of *related* decks (image.slidesharecdn.com)
# are deliberately not markers: a "removed" page still lists related decks.
DECK_OG_TYPES = ("slideshare:presentation", "presentation", "slideshow")
DECK_URL_MARKERS = ("/slideshow/",)  # in og:url / canonical, not counting /slideshow/embed_code
DECK_EMBED_MARKER = "/slideshow/embed_code/"
DECK_THUMBNAIL_MARKER = "slidesharecdn.com/ss_thumbnails/"

# Wording of SlideShare's "no such deck" pages, matched in the title and headings only (a live
# deck about 404 pages may well say "page not found" in its slide text).
REMOVED_PHRASES = (
    "this content has been removed",
    "has been removed",
    "this slideshow is private",
    "this content is private",
    "page not found",
    "could not find what you were looking for",
    "couldn't find what you were looking for",
)

# Path segments of a login page, compared whole (a deck's slug may well contain "login").
LOGIN_SEGMENTS = frozenset({"login", "signin", "signup"})

# Cloudflare's challenge ("Just a moment...") page: a bot wall, never a verdict on the deck.
CHALLENGE_MARKERS = (
    "/cdn-cgi/challenge-platform/",
    "window._cf_chl_opt",
    "<title>just a moment...</title>",
    "attention required! | cloudflare",
)

# Title decorations SlideShare appends: "Deck | PPT", "Deck | PDF", "Deck - SlideShare".
_TITLE_SUFFIX = re.compile(
    r"\s*(?:\||-|–|—)\s*(?:PPTX?|PDF|Free Download|SlideShare|Slideshare)\s*$", re.IGNORECASE
)


@dataclass(frozen=True)
class DeckPage:
    """What we read from a SlideShare HTML page."""

    title: str | None
    has_deck: bool
    removed_wording: str | None  # the "removed"/"not found" phrase found, if any


def clean_title(raw: str | None) -> str | None:
    if not raw:
        return None
    title = " ".join(raw.split())
    while True:
        shorter = _TITLE_SUFFIX.sub("", title)
        if shorter == title:
            break
        title = shorter
    return title or None


def _meta(soup: BeautifulSoup, key: str) -> str | None:
    tag = soup.find("meta", attrs={"property": key}) or soup.find("meta", attrs={"name": key})
    if tag is None:
        return None
    value = tag.get("content") or tag.get("value")  # classic pages used value= for twitter:*
    return str(value).strip() if value else None


def _next_data_has_deck(soup: BeautifulSoup) -> bool:
    script = soup.find("script", id="__NEXT_DATA__")
    if script is None or not script.string:
        return False
    try:
        data = json.loads(script.string)
    except ValueError:
        return False
    props = data.get("props", {}).get("pageProps", {}) if isinstance(data, dict) else {}
    return isinstance(props, dict) and bool(props.get("slideshow"))


def read_deck_page(html: bytes) -> DeckPage:
    """Title, deck markers and "removed" wording of a (possibly truncated) SlideShare page."""
    from bs4 import BeautifulSoup  # on first use: most runs read no SlideShare page

    soup = BeautifulSoup(html, "html.parser")
    title_tag = soup.find("title")
    page_title = title_tag.get_text() if title_tag else None
    title = clean_title(_meta(soup, "og:title") or _meta(soup, "twitter:title") or page_title)

    og_type = (_meta(soup, "og:type") or "").lower()
    canonical = soup.find("link", rel="canonical")
    own_urls = [_meta(soup, "og:url") or "", str(canonical.get("href", "")) if canonical else ""]
    player = _meta(soup, "twitter:player") or ""
    embeds = [str(f.get("src", "")) for f in soup.find_all("iframe")]
    has_deck = (
        any(t in og_type for t in DECK_OG_TYPES)
        or any(
            marker in url and DECK_EMBED_MARKER not in url
            for url in own_urls
            for marker in DECK_URL_MARKERS
        )
        or any(DECK_EMBED_MARKER in url for url in [player, *embeds])
        or DECK_THUMBNAIL_MARKER in (_meta(soup, "og:image") or "")
        or _next_data_has_deck(soup)
    )

    headings = [h.get_text(" ") for h in soup.find_all(["h1", "h2"])]
    texts = [page_title or "", _meta(soup, "og:title") or "", *headings]
    lowered = " | ".join(" ".join(t.split()) for t in texts).lower()
    removed = next((p for p in REMOVED_PHRASES if p in lowered), None)
    return DeckPage(title=title, has_deck=has_deck, removed_wording=removed)


# A profile's tabs (``/USER/presentations``): lists of decks, not one. A deck whose slug is
# exactly one of these words is then judged by the plain HTTP rules: missing a removed deck
# is better than calling a profile's tab broken.
PROFILE_TABS = frozenset(
    {"presentations", "documents", "infographics", "videos", "followers", "following", "likes"}
)


def is_deck_url(url: str) -> bool:
    """True for URLs of one deck (``/USER/SLUG``, ``/slideshow/SLUG/ID``, ``/mobile/USER/SLUG``);
    False for a profile (``/USER``) or one of its tabs (``/USER/presentations``), the home page
    and the like, which have no deck to find."""
    segments = [s for s in urlsplit(url).path.split("/") if s]
    if len(segments) == 2 and segments[1].lower() in PROFILE_TABS:
        return False
    return len(segments) >= 2


def redirect_away_reason(fetch: FetchResult) -> str | None:
    """Plain words when SlideShare sent us somewhere that is not a deck (home, search, login).

    Judged on whole path segments, never substrings: ``/slideshow/oauth-login-flow/123`` is a
    deck about logins and ``/searchlight/deck`` a deck by user "searchlight". Landing on the
    path that was asked for (http → https, a ``www.`` added) is no move at all.
    """
    if not fetch.hops:
        return None
    parts = urlsplit(fetch.final_url)
    host = (parts.hostname or "").lower()
    segments = _segments(parts.path)
    if segments == _segments(urlsplit(fetch.url).path):
        return None
    first = segments[0] if segments else ""
    on_slideshare = host == "slideshare.net" or host.endswith(".slideshare.net")
    # On SlideShare a login page is /login…; elsewhere (LinkedIn's /uas/login) any segment.
    login_path = first in LOGIN_SEGMENTS or (
        not on_slideshare and not LOGIN_SEGMENTS.isdisjoint(segments)
    )
    if login_path or host.startswith("login."):
        return f"redirected to a login page ({fetch.final_url})"
    if first == "search":
        return f"redirected to a search page ({fetch.final_url})"
    if not segments and on_slideshare:
        return "redirected to the SlideShare home page"
    if segments in (["404"], ["error"]):
        return f"redirected to an error page ({fetch.final_url})"
    return None


def _segments(path: str) -> list[str]:
    return [s for s in path.lower().split("/") if s]


def soft_404_reason(link_url: str, fetch: FetchResult, page: DeckPage | None) -> str | None:
    """THE place a SlideShare soft-404 is decided: why this 2xx answer means "no deck", or None.

    ``page`` is None when the body was not HTML. A page cut short by the engine's byte cap
    without a marker is not judged here (the caller reports it unverified).
    """
    away = redirect_away_reason(fetch)
    if away:
        return away
    if page is None:
        return None
    if page.removed_wording and not page.has_deck:
        return f'the deck was removed or is private (the page says "{page.removed_wording}")'
    if is_deck_url(link_url) and not page.has_deck and not _truncated(fetch):
        return "the page shows no deck (removed or private)"
    return None


def is_bot_wall(headers: Mapping[str, str], body: bytes) -> bool:
    """True for Cloudflare's challenge page, whatever its status (403, 503, even 200)."""
    if headers.get("cf-mitigated", "").strip().lower() == "challenge":
        return True
    head = body[:16384].decode("utf-8", errors="replace").lower()
    return any(marker in head for marker in CHALLENGE_MARKERS)


def _truncated(fetch: FetchResult) -> bool:
    # The engine stops reading at its byte cap; a page cut there may hold its markers later on.
    # Every real page ends with </html>, so its absence means we did not see the whole page.
    return b"</html>" not in fetch.body[-4096:].lower()


def _is_html(fetch: FetchResult) -> bool:
    media = fetch.headers.get("content-type", "").lower()
    return "html" in media or fetch.body.lstrip()[:1] == b"<"


def judge_deck(link: Link, fetch: FetchResult) -> LinkResult:
    """The verdict on a SlideShare link from the GET of its page."""
    if fetch.status is not None and is_bot_wall(fetch.headers, fetch.body):
        return dataclasses.replace(
            http_verdict(link, fetch),
            status=Status.UNVERIFIED,
            detail=f"blocked by a Cloudflare bot check (HTTP {fetch.status})",
            fix=None,
        )
    result = http_verdict(link, fetch)
    if result.status not in (Status.OK, Status.REDIRECTED):
        return result
    page = read_deck_page(fetch.body) if _is_html(fetch) and fetch.body else None
    reason = soft_404_reason(link.url, fetch, page)
    if reason:
        return dataclasses.replace(result, status=Status.BROKEN, detail=reason, fix=None)
    title = page.title if page else None
    if page is not None and is_deck_url(link.url) and not page.has_deck:
        # Only reached for a page cut short by the byte cap (see soft_404_reason).
        return dataclasses.replace(
            result,
            status=Status.UNVERIFIED,
            detail="no deck found in the part of the page that was read",
            fix=None,
            title=title,
        )
    return dataclasses.replace(result, title=title)


class SlideShareService(Service):
    """slideshare.net decks (and profiles, which get the plain HTTP rules plus a title)."""

    name = "slideshare"
    # Behind Cloudflare, which answers bursts with its challenge page: one page a second.
    host_limits: ClassVar[Mapping[str, HostLimits]] = {
        "slideshare.net": HostLimits(per_host=2, min_interval=1.0),
    }

    def handles(self, link: Link) -> bool:
        return link.kind is LinkKind.SLIDESHARE

    async def check(self, link: Link, ctx: CheckContext) -> LinkResult:
        fetch = await ctx.fetch(link.url)
        return judge_deck(link, fetch)
