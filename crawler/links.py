"""What a URL is (YouTube video, SlideShare deck, GitHub file, anything else) and its identity.

The canonical key makes different spellings of one resource compare equal, so duplicates are
found whatever form a contributor pasted: ``youtu.be/ID`` and ``watch?v=ID&list=…`` are one video,
``blob/main/x.pdf`` and ``raw/master/x.pdf`` are one file. URLs themselves are never rewritten:
the catalogue's bytes go on the wire as written.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit, urlunsplit

from crawler.catalog import Catalog, Position
from crawler.model import Field, Link, LinkKind

YOUTUBE_HOSTS = {
    "youtube.com",
    "www.youtube.com",
    "m.youtube.com",
    "music.youtube.com",
    "gaming.youtube.com",
    "youtube-nocookie.com",
    "www.youtube-nocookie.com",
    "youtu.be",
    "www.youtu.be",
}
# Where the checks go, whatever host the catalogue wrote: GitHub serves a file's bytes at
# raw.githubusercontent.com, and yt-dlp and oEmbed ask www.youtube.com for every YouTube link
# (yt-dlp rewrites m.youtube.com, youtu.be, channel and playlist URLs to it).
GITHUB_RAW_HOST = "raw.githubusercontent.com"
YOUTUBE_ASKED_HOST = "www.youtube.com"
_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_PATH_ID_PREFIXES = ("embed", "shorts", "live", "v", "e")
DEFAULT_PORTS = {"http": 80, "https": 443}


def youtube_video_id(url: str) -> str | None:
    """The 11-character video id of any YouTube URL form, or None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host not in YOUTUBE_HOSTS:
        return None
    return _youtube_id(parts, host)


def _youtube_id(parts: SplitResult, host: str) -> str | None:
    segments = [s for s in parts.path.split("/") if s]
    candidate: str | None = None
    if host.endswith("youtu.be"):
        candidate = segments[0] if segments else None
    elif segments and segments[0] == "watch":
        candidate = (parse_qs(parts.query).get("v") or [None])[0]
    elif len(segments) >= 2 and segments[0] in _PATH_ID_PREFIXES:
        candidate = segments[1]
    elif not segments or segments[0] in ("attribution_link",):
        candidate = (parse_qs(parts.query).get("v") or [None])[0]
    if candidate and _VIDEO_ID.match(candidate):
        return candidate
    return None


@dataclass(frozen=True)
class GitHubFile:
    """A file in a GitHub repository; ``path`` stays percent-encoded exactly as written."""

    owner: str
    repo: str
    ref: str
    path: str

    @property
    def raw_url(self) -> str:
        """Where the file's bytes are served; the path's bytes are kept as written."""
        return f"https://{GITHUB_RAW_HOST}/{self.owner}/{self.repo}/{self.ref}/{self.path}"


def github_file(url: str) -> GitHubFile | None:
    """Parse ``github.com/O/R/blob|raw/REF/PATH`` and ``raw.githubusercontent.com/O/R/REF/PATH``."""
    parts = urlsplit(url)
    return _github_file(parts, (parts.hostname or "").lower())


def _github_file(parts: SplitResult, host: str) -> GitHubFile | None:
    # Split the raw path text (not a decoded one) so percent-escapes survive untouched.
    segments = parts.path.split("/")[1:]
    if host in ("github.com", "www.github.com"):
        if len(segments) < 5 or segments[2] not in ("blob", "raw"):
            return None
        owner, repo, rest = segments[0], segments[1], segments[3:]
    elif host == GITHUB_RAW_HOST:
        if len(segments) < 4:
            return None
        owner, repo, rest = segments[0], segments[1], segments[2:]
    else:
        return None
    # A ref spelled as refs/heads/NAME or refs/tags/NAME spans three segments.
    if len(rest) > 3 and rest[0] == "refs" and rest[1] in ("heads", "tags"):
        ref, path_parts = "/".join(rest[:3]), rest[3:]
    else:
        ref, path_parts = rest[0], rest[1:]
    path = "/".join(path_parts)
    if not (owner and repo and ref and path):
        return None
    return GitHubFile(owner=owner, repo=repo, ref=ref, path=path)


def _is_slideshare_host(host: str) -> bool:
    return host == "slideshare.net" or host.endswith(".slideshare.net")


def classify(url: str) -> LinkKind:
    return identify(url)[0]


def normalize_url(url: str) -> str:
    """Scheme and host lower-cased, default port and fragment dropped, empty path made '/'."""
    return _normalize(urlsplit(url.strip()))


def _normalize(parts: SplitResult) -> str:
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host
    if parts.username or parts.password:
        creds = parts.username or ""
        if parts.password:
            creds += f":{parts.password}"
        netloc = f"{creds}@{netloc}"
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def canonical_key(url: str) -> str:
    """Identity of the resource behind ``url``: equal keys mean the same video, file or page."""
    return identify(url)[1]


# A plain http(s) URL: lower-case scheme, a host of letters, digits, dots and dashes, a port,
# a path, a query and a fragment, without white space or control characters. ``identify``
# reads such a URL with this one match instead of ``urlsplit`` (a third of a 100,000-link
# run's CPU went to parsing URLs); anything else takes the full path.
_PLAIN_URL = re.compile(
    r"(https?)://([A-Za-z0-9.-]+)(?::([0-9]{1,5}))?"
    r"(/[^?#\x00-\x20\x7f]*)?(?:\?([^#\x00-\x20\x7f]*))?(?:#[^\x00-\x20\x7f]*)?"
)
_SPECIAL_HOST = re.compile(
    r"(?:www\.)?github\.com|raw\.githubusercontent\.com|(?:.*\.)?slideshare\.net"
)


def identify(url: str) -> tuple[LinkKind, str]:
    """``classify(url)`` and ``canonical_key(url)`` from one parse of the URL.

    The YouTube, SlideShare and GitHub hosts are disjoint, so the host alone says which rule
    applies; any URL no rule claims is keyed by its normalised form.
    """
    plain = _PLAIN_URL.fullmatch(url)
    if plain and not url[-1].isspace():  # (normalize_url strips trailing Unicode spaces)
        scheme, host, port, path, query = plain.groups()
        host = host.lower()
        if host not in YOUTUBE_HOSTS and not _SPECIAL_HOST.fullmatch(host):
            # What ``_normalize`` makes of it, without the parse.
            if port is not None:
                number = int(port)
                if number > 65535:  # urlsplit's port is then invalid: take the full path
                    return _identify_parsed(url)
                if number != DEFAULT_PORTS[scheme]:
                    host = f"{host}:{number}"
            key = f"{scheme}://{host}{path or '/'}{'?' + query if query else ''}"
            return LinkKind.GENERIC, url if key == url else key
    return _identify_parsed(url)


def _identify_parsed(url: str) -> tuple[LinkKind, str]:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host in YOUTUBE_HOSTS:
        video = _youtube_id(parts, host)
        if video:
            return LinkKind.YOUTUBE, f"youtube:{video}"
        return LinkKind.YOUTUBE, _normalized_key(url, parts)
    if _is_slideshare_host(host):
        path = parts.path.rstrip("/") or "/"
        return LinkKind.SLIDESHARE, f"slideshare:{unquote(path).lower()}"
    gh = _github_file(parts, host)
    if gh:
        # GitHub owner/repo names are case-insensitive; file paths are not. Percent-escapes
        # are decoded so "a%20b.pdf" and "a b.pdf" compare equal, but no Unicode normalisation:
        # NFC and NFD spellings are different files on GitHub.
        key = f"github:{gh.owner.lower()}/{gh.repo.lower()}/{unquote(gh.path)}"
        return LinkKind.GITHUB_FILE, key
    return LinkKind.GENERIC, _normalized_key(url, parts)


def _normalized_key(url: str, parts: SplitResult) -> str:
    if url[:1].isspace() or url[-1:].isspace():
        return normalize_url(url)  # parsed again without the surrounding white space
    key = _normalize(parts)
    # Most URLs are already in normal form: keep one string for both (100,000 links, 9 MB).
    return url if key == url else key


def requested_host(link: Link) -> str:
    """The host ``link``'s checks ask (lower case, no port): ``youtu.be/ID`` and
    ``m.youtube.com/watch?v=ID`` are asked at www.youtube.com, a ``github.com/O/R/blob/…`` file
    at raw.githubusercontent.com, any other link at its own host."""
    if link.kind is LinkKind.YOUTUBE:
        return YOUTUBE_ASKED_HOST
    if link.kind is LinkKind.GITHUB_FILE:
        return GITHUB_RAW_HOST
    return (urlsplit(link.url).hostname or "").rstrip(".")


def make_link(
    session_id: str,
    session_title: str,
    session_date: str,
    field: Field | str,
    url: str,
    at: Position | None = None,
) -> Link:
    kind, key = identify(url)
    return Link(
        session_id=session_id,
        session_title=session_title,
        session_date=session_date,
        field=Field(field),
        url=url,
        kind=kind,
        key=key,
        line=at.line if at else 0,
        column=at.column if at else 0,
    )


def iter_links(catalog: Catalog) -> Iterator[Link]:
    """Every link of the catalogue, in catalogue order: slides, video, then presenter homepages."""
    for s in catalog.sessions:
        date = sys.intern(s.date.isoformat())  # one copy per day, shared by all its links
        if s.slides:
            yield make_link(s.id, s.title, date, Field.SLIDES, s.slides, s.slides_at)
        if s.video:
            yield make_link(s.id, s.title, date, Field.VIDEO, s.video, s.video_at)
        for p in s.presenters:
            if p.url:
                yield make_link(s.id, s.title, date, Field.PRESENTER, p.url, p.url_at)
