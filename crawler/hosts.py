"""The hosts the crawler knows by name, each registered once, as one member of ``LinkKind``.

A member's ``Host`` says everything the stages need of that kind of link: its host names, the
canonical key of its URLs (what makes two spellings one video, deck or file), the service that
checks it and the host those checks ask. ``links`` reads names and keys, ``services.registry``
the services (imported by name, when a run checks links), ``processes`` the host asked. A new
host is a new member here and its service module.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import SplitResult, parse_qs, unquote, urlsplit

YOUTUBE_HOSTS = frozenset(
    {
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
)
# Where the checks go, whatever host the catalogue wrote: GitHub serves a file's bytes at
# raw.githubusercontent.com, and yt-dlp and oEmbed ask www.youtube.com for every YouTube link
# (yt-dlp rewrites m.youtube.com, youtu.be, channel and playlist URLs to it).
GITHUB_RAW_HOST = "raw.githubusercontent.com"
YOUTUBE_ASKED_HOST = "www.youtube.com"
_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_PATH_ID_PREFIXES = ("embed", "shorts", "live", "v", "e")


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
        candidate = _query_v(parts.query)
    elif len(segments) >= 2 and segments[0] in _PATH_ID_PREFIXES:
        candidate = segments[1]
    elif not segments or segments[0] in ("attribution_link",):
        candidate = _query_v(parts.query)
    if candidate and _VIDEO_ID.match(candidate):
        return candidate
    return None


def _query_v(query: str) -> str | None:
    values = parse_qs(query).get("v")
    return values[0] if values else None


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


def _github_key(parts: SplitResult, host: str) -> str | None:
    gh = _github_file(parts, host)
    if gh is None:
        return None  # a repository page, a user: not a file
    # GitHub owner/repo names are case-insensitive; file paths are not. Percent-escapes are
    # decoded so "a%20b.pdf" and "a b.pdf" compare equal, but no Unicode normalisation: NFC
    # and NFD spellings are different files on GitHub.
    return f"github:{gh.owner.lower()}/{gh.repo.lower()}/{unquote(gh.path)}"


def _slideshare_key(parts: SplitResult, host: str) -> str:
    path = parts.path.rstrip("/") or "/"
    return f"slideshare:{unquote(path).lower()}"


def _youtube_key(parts: SplitResult, host: str) -> str | None:
    video = _youtube_id(parts, host)
    return f"youtube:{video}" if video else None


def _no_key(parts: SplitResult, host: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Host:
    """One registered host: everything the stages need of its links."""

    # The canonical key of a URL of this host, from its parts and lower-case host name; None
    # when the URL is not the kind of resource the host is registered for.
    key: Callable[[SplitResult, str], str | None]
    service: str  # "module:Class" of the service that checks its links
    names: frozenset[str] = frozenset()  # lower case
    domains: tuple[str, ...] = ()  # each with every subdomain of it
    # True: a URL of these hosts without a key is still this kind (a YouTube channel page),
    # keyed by its normalised form; False: it is a generic link (a GitHub repository page).
    keyless_too: bool = False
    asks: str | None = None  # the host its checks ask, whatever the link's; None: the link's


class LinkKind(enum.StrEnum):
    """What a link is: the registered host whose rules it falls under, or generic.

    In the order the services are asked whether they check a link: a GitHub file or a
    SlideShare deck is theirs even in a session's video field, yt-dlp takes any other video,
    and the generic service, last, takes the rest.
    """

    host: Host

    def __new__(cls, value: str, host: Host | None = None) -> LinkKind:
        # Makes each member, with its host, while the class is made; after that LinkKind(value)
        # is Enum's look-up of a member, which type checkers know by this signature only.
        assert host is not None, "every kind registers its host"
        member = str.__new__(cls, value)
        member._value_ = value
        member.host = host
        return member

    GITHUB_FILE = (
        "github_file",
        Host(
            key=_github_key,
            service="crawler.services.github:GitHubService",
            names=frozenset({"github.com", "www.github.com", GITHUB_RAW_HOST}),
            asks=GITHUB_RAW_HOST,
        ),
    )
    SLIDESHARE = (
        "slideshare",
        Host(
            key=_slideshare_key,
            service="crawler.services.slideshare:SlideShareService",
            domains=("slideshare.net",),
        ),
    )
    YOUTUBE = (
        "youtube",
        Host(
            key=_youtube_key,
            service="crawler.services.youtube:YouTubeService",
            names=YOUTUBE_HOSTS,
            keyless_too=True,
            asks=YOUTUBE_ASKED_HOST,
        ),
    )
    GENERIC = "generic", Host(key=_no_key, service="crawler.services.generic:GenericService")


# Every registered host name (and domain) and the kind of its links; then the subdomains.
_BY_NAME = {name: kind for kind in LinkKind for name in (*kind.host.names, *kind.host.domains)}
_BY_SUBDOMAIN = tuple(("." + domain, kind) for kind in LinkKind for domain in kind.host.domains)
_SUBDOMAINS = tuple(suffix for suffix, _ in _BY_SUBDOMAIN)


def registered(host: str) -> LinkKind | None:
    """The kind whose registered host ``host`` (lower case) is, or None for any other host."""
    kind = _BY_NAME.get(host)
    if kind is None and host.endswith(_SUBDOMAINS):
        kind = next(kind for suffix, kind in _BY_SUBDOMAIN if host.endswith(suffix))
    return kind
