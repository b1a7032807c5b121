"""Where a GitHub repository and ref are now, by github.com's own answer.

raw.githubusercontent.com does not follow a renamed branch (``master`` → ``main``) or, always, a
renamed or transferred repository; github.com redirects both. ``read_lookup`` reads its answer
to ``/O/R/tree/REF`` (or to a file's blob page), the redirect not followed: the Location alone
says where it went. ``GitHubHosts`` says which hosts are asked (the real ones in every run).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urljoin, urlsplit

from crawler.links import GitHubFile
from crawler.model import Hop
from crawler.services.base import FetchResult
from crawler.services.verdicts import status_words

REAL_WEB, REAL_RAW = "https://github.com", "https://raw.githubusercontent.com"
# For tests only: "WEB_BASE RAW_BASE" (e.g. "http://127.0.0.1:8000/web http://127.0.0.1:8000/raw")
# makes the checks ask a local server playing GitHub instead of the real hosts, which tests
# cannot reach. Read in ``GitHubHosts.from_environment`` and nowhere else; the token is still
# offered to the real GitHub hosts only, and the address guard judges the local server as any.
TEST_HOSTS_ENV = "CRAWLER_TEST_GITHUB_HOSTS"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class GitHubHosts:
    """Where github.com and raw.githubusercontent.com are asked: the real hosts in every run."""

    web: str = REAL_WEB
    raw: str = REAL_RAW

    @classmethod
    def from_environment(cls) -> GitHubHosts:
        value = os.environ.get(TEST_HOSTS_ENV, "").split()
        if not value:
            return cls()
        if len(value) != 2:
            raise ValueError(f"{TEST_HOSTS_ENV} takes 'WEB_BASE RAW_BASE' (got {value!r:.120})")
        return cls(web=value[0].rstrip("/"), raw=value[1].rstrip("/"))

    def raw_url(self, gh: GitHubFile) -> str:
        return f"{self.raw}/{gh.owner}/{gh.repo}/{gh.ref}/{gh.path}"

    def tree_url(self, place: RepoRef) -> str:
        return f"{self.web}/{place.owner}/{place.repo}/tree/{place.ref}"

    def blob_url(self, gh: GitHubFile) -> str:
        return f"{self.web}/{gh.owner}/{gh.repo}/blob/{gh.ref}/{gh.path}"

    def real(self, url: str) -> str:
        """``url`` spelt with the real host it stands for (itself in every real run)."""
        for base, real in ((self.web, REAL_WEB), (self.raw, REAL_RAW)):
            if base != real and (url == base or url.startswith(base + "/")):
                return real + url[len(base) :]
        return url

    def real_fetch(self, fetch: FetchResult) -> FetchResult:
        if self == GitHubHosts():
            return fetch
        hops = [Hop(self.real(h.url), h.status) for h in fetch.hops]
        return dataclasses.replace(
            fetch, url=self.real(fetch.url), final_url=self.real(fetch.final_url), hops=hops
        )


@dataclass(frozen=True)
class RepoRef:
    """A repository and a ref in it, as a URL spells them."""

    owner: str
    repo: str
    ref: str

    @classmethod
    def of(cls, gh: GitHubFile) -> RepoRef:
        # raw's "refs/heads/NAME" spelling is not a github.com path: the branch is NAME.
        ref = gh.ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
        return cls(gh.owner, gh.repo, ref)

    @property
    def key(self) -> tuple[str, str, str]:
        return self.owner.lower(), self.repo.lower(), self.ref  # names are case-insensitive

    def file(self, path: str) -> GitHubFile:
        return GitHubFile(owner=self.owner, repo=self.repo, ref=self.ref, path=path)


class Where(enum.Enum):
    """What github.com says of a repository and ref (or of a file's blob page)."""

    HERE = "here"  # both exist as written
    MOVED = "moved"  # redirected to ``RefLookup.place``
    GONE = "gone"  # no such repository or ref (or a private one): 404/410
    UNKNOWN = "unknown"  # no definitive answer (rate limit, 5xx, timeout): ``detail`` says why


@dataclass(frozen=True)
class RefLookup:
    """github.com's answer about a repository and ref (or about one file)."""

    where: Where
    place: RepoRef | None = None  # where it moved
    http_status: int | None = None
    detail: str = ""
    network: bool = False  # UNKNOWN because of the network itself


def rate_limit_detail(status: int | None, headers: Mapping[str, str]) -> str | None:
    """Plain words when GitHub said "rate limit" (403/429 with no requests remaining)."""
    if status not in (403, 429) or headers.get("x-ratelimit-remaining", "").strip() != "0":
        return None
    reset = headers.get("x-ratelimit-reset", "").strip()
    if not reset.isdigit():
        return "GitHub rate limit reached"
    at = dt.datetime.fromtimestamp(int(reset), tz=dt.UTC).strftime("%H:%M")
    return f"GitHub rate limit reached (resets at {at} UTC)"


def read_lookup(place: RepoRef, fetch: FetchResult, hosts: GitHubHosts) -> RefLookup:
    """What github.com's answer to ``/O/R/tree/REF`` or to a file's ``/O/R/blob/REF/PATH``
    (redirect not followed) says: only 404/410 is GONE, only a move to another tree MOVED."""
    if fetch.status is None:
        network = fetch.error_kind in ("network", "timeout", "too-slow")
        return RefLookup(Where.UNKNOWN, detail=fetch.error or "no answer", network=network)
    status = fetch.status
    limited = rate_limit_detail(status, fetch.headers)
    if limited:
        return RefLookup(Where.UNKNOWN, http_status=status, detail=limited)
    if status in REDIRECT_STATUSES:
        location = urljoin(fetch.final_url, fetch.headers.get("location", "").strip())
        target = tree_place(hosts.real(location))
        if target is not None and target.key != place.key:
            return RefLookup(Where.MOVED, place=target, http_status=status)
        return RefLookup(
            Where.UNKNOWN, http_status=status, detail=f"github.com redirected to {location}"
        )
    if 200 <= status < 300:
        return RefLookup(Where.HERE, http_status=status)
    if status in (404, 410):
        return RefLookup(Where.GONE, http_status=status)
    return RefLookup(
        Where.UNKNOWN, http_status=status, detail=f"github.com answered {status_words(status)}"
    )


def tree_place(url: str) -> RepoRef | None:
    """The repository and ref of a ``github.com/O/R/tree/REF`` URL, or None."""
    parts = urlsplit(url)
    segments = parts.path.split("/")[1:]
    if (parts.hostname or "").lower() != "github.com" or len(segments) < 4:
        return None
    if segments[2] != "tree" or not all(segments[:2]):
        return None
    ref = "/".join(segments[3:]).strip("/")
    return RepoRef(segments[0], segments[1], ref) if ref else None


def describe_move(old: RepoRef, new: RepoRef) -> str:
    words = []
    if (old.owner.lower(), old.repo.lower()) != (new.owner.lower(), new.repo.lower()):
        words.append(f"the repository moved to {new.owner}/{new.repo}")
    if old.ref != new.ref:
        words.append(f"the branch {unquote(old.ref)} was renamed to {unquote(new.ref)}")
    return " and ".join(words)
