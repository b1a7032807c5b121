"""Files in GitHub repositories (``github.com/O/R/blob/REF/PATH`` and raw URLs).

The file is checked at raw.githubusercontent.com, which serves its bytes: one ranged GET tells
whether it exists, whether a ``.pdf`` really is a PDF, and how big it is — without loading
github.com's heavy HTML page or spending the REST API's small anonymous quota.

A raw 404 is not final: github.com redirects the URLs of a renamed branch (``master`` →
``main``) and of a renamed or transferred repository, raw.githubusercontent.com does not. So
on a raw 404 github.com is asked where the repository and ref are now (``/O/R/tree/REF``, its
redirect not followed), once per repository and ref in a run, and the file is looked for there.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import enum
import os
import re
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import ClassVar
from urllib.parse import unquote, urljoin, urlsplit

from crawler.links import GitHubFile, github_file
from crawler.model import Hop, Link, LinkKind, LinkResult, Status
from crawler.services import pdf
from crawler.services.base import (
    CheckContext,
    FetchResult,
    HostLimits,
    Service,
    Settings,
    _status_words,
)
from crawler.services.generic import GenericService, http_verdict, pdf_verdict, probe_pdf
from crawler.units import human_size

# The token is GitHub's: it goes to these hosts and nowhere else.
TOKEN_HOSTS = frozenset({"github.com", "raw.githubusercontent.com", "api.github.com"})

# raw.githubusercontent.com serves a Git LFS file as its small text pointer. The blob page
# still shows the real file to readers, so the link is not broken; we report it ok with a note
# and do not fetch the real content: LFS downloads are billed to the repository owner.
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1"
_LFS_SIZE = re.compile(rb"^size (\d+)\s*$", re.MULTILINE)


REAL_WEB, REAL_RAW = "https://github.com", "https://raw.githubusercontent.com"
# For tests only: "WEB_BASE RAW_BASE" (e.g. "http://127.0.0.1:8000/web http://127.0.0.1:8000/raw")
# makes the checks ask a local server playing GitHub instead of the real hosts, which tests
# cannot reach. Read in ``GitHubHosts.from_environment`` and nowhere else; the token is still
# offered to the real GitHub hosts only, and the address guard judges the local server as any.
TEST_HOSTS_ENV = "CRAWLER_TEST_GITHUB_HOSTS"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_MOVES = 3  # github.com redirects followed for one repository and ref (rename, then branch)


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
    """What github.com says of a repository and ref."""

    HERE = "here"  # both exist as written
    MOVED = "moved"  # redirected to ``RefLookup.place``
    GONE = "gone"  # no such repository or ref (or a private one): 404/410
    UNKNOWN = "unknown"  # no definitive answer (rate limit, 5xx, timeout): ``detail`` says why


@dataclass(frozen=True)
class RefLookup:
    where: Where
    place: RepoRef | None = None  # where it moved
    http_status: int | None = None
    detail: str = ""
    network: bool = False  # UNKNOWN because of the network itself


def github_token(settings: Settings) -> str | None:
    """The token from the settings, else from ``GITHUB_TOKEN`` (set in GitHub Actions)."""
    return settings.github_token or os.environ.get("GITHUB_TOKEN") or None


def auth_headers(url: str, token: str | None) -> dict[str, str]:
    """``Authorization`` for a GitHub host, nothing for any other host."""
    host = (urlsplit(url).hostname or "").lower()
    if token and host in TOKEN_HOSTS:
        return {"Authorization": f"Bearer {token}"}
    return {}


def rate_limit_detail(status: int | None, headers: Mapping[str, str]) -> str | None:
    """Plain words when GitHub said "rate limit" (403/429 with no requests remaining)."""
    if status not in (403, 429) or headers.get("x-ratelimit-remaining", "").strip() != "0":
        return None
    reset = headers.get("x-ratelimit-reset", "").strip()
    if not reset.isdigit():
        return "GitHub rate limit reached"
    at = dt.datetime.fromtimestamp(int(reset), tz=dt.UTC).strftime("%H:%M")
    return f"GitHub rate limit reached (resets at {at} UTC)"


def lfs_pointer_size(body: bytes) -> int | None:
    """The real file's size from a Git LFS pointer (None when not a pointer or no size line)."""
    if not body.startswith(LFS_POINTER_PREFIX):
        return None
    match = _LFS_SIZE.search(body)
    return int(match.group(1)) if match else None


def is_lfs_pointer(body: bytes) -> bool:
    return body.startswith(LFS_POINTER_PREFIX)


def moved_file_url(link_url: str, final_url: str) -> str | None:
    """Where a renamed/transferred repository's file lives now, spelt like the catalogue's link.

    ``github.com/OLD/R/blob/main/x.pdf`` whose raw URL was redirected to
    ``raw.githubusercontent.com/NEW/R2/main/x.pdf`` becomes ``github.com/NEW/R2/blob/main/x.pdf``.
    """
    new = github_file(final_url)
    if new is None:
        return None
    parts = urlsplit(link_url)
    if (parts.hostname or "").lower() == "raw.githubusercontent.com":
        return new.raw_url
    segments = parts.path.split("/")
    mode = segments[3] if len(segments) > 3 and segments[3] in ("blob", "raw") else "blob"
    return f"https://github.com/{new.owner}/{new.repo}/{mode}/{new.ref}/{new.path}"


def judge_raw_file(link: Link, gh: GitHubFile, fetch: FetchResult) -> LinkResult:
    """The verdict on a GitHub file from the ranged GET of its raw URL."""
    result = http_verdict(link, fetch)
    title = pdf.file_name(gh.path)
    limited = rate_limit_detail(fetch.status, fetch.headers)
    if limited:
        return dataclasses.replace(result, status=Status.UNVERIFIED, detail=limited, title=title)
    if fetch.status == 404:
        where = f"{unquote(gh.path)} in {gh.owner}/{gh.repo} at {gh.ref}"
        return dataclasses.replace(result, detail=f"file not found: {where}", title=title)
    if result.status not in (Status.OK, Status.REDIRECTED):
        return dataclasses.replace(result, title=title)
    if result.status is Status.REDIRECTED:
        new_url = moved_file_url(link.url, fetch.final_url)
        if new_url and new_url != link.url:
            new = github_file(new_url)
            assert new is not None  # moved_file_url builds parseable URLs
            result = dataclasses.replace(
                result,
                detail=f"the repository moved to {new.owner}/{new.repo}",
                fix=f"moved permanently — use {new_url}",
            )
    if is_lfs_pointer(fetch.body):
        size = lfs_pointer_size(fetch.body)
        stored = "stored in Git LFS" + (f", {human_size(size)}" if size else "")
        detail = stored if result.status is Status.OK else f"{stored}; {result.detail}"
        return dataclasses.replace(
            result, detail=detail, note="stored in Git LFS", size=size, title=title
        )
    if pdf.is_pdf_url(gh.path):
        return dataclasses.replace(pdf_verdict(link, fetch, result), title=title)
    size = pdf.total_size(fetch.status, fetch.headers)
    found = "file found" + (f", {human_size(size)}" if size is not None else "")
    detail = found if result.status is Status.OK else f"{found}; {result.detail}"
    return dataclasses.replace(result, detail=detail, size=size, title=title)


def read_lookup(place: RepoRef, fetch: FetchResult, hosts: GitHubHosts) -> RefLookup:
    """What github.com's answer to ``/O/R/tree/REF`` (redirect not followed) says."""
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
        Where.UNKNOWN, http_status=status, detail=f"github.com answered {_status_words(status)}"
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


class GitHubService(Service):
    """``github.com/O/R/blob|raw/REF/PATH`` and ``raw.githubusercontent.com`` file links.

    Keeps, for its run (a fresh instance per run), what github.com said of each repository and
    ref, so that twenty files of a renamed branch cost one question.
    """

    name = "github"
    # Raw files are served by a CDN that tolerates a few parallel requests from one runner.
    host_limits: ClassVar[Mapping[str, HostLimits]] = {
        "github.com": HostLimits(per_host=4, min_interval=0.25),
        "githubusercontent.com": HostLimits(per_host=4, min_interval=0.25),
    }

    def __init__(self, hosts: GitHubHosts | None = None) -> None:
        self.hosts = hosts or GitHubHosts.from_environment()
        self._lookups: dict[tuple[str, str, str], asyncio.Task[RefLookup]] = {}

    def handles(self, link: Link) -> bool:
        return link.kind is LinkKind.GITHUB_FILE

    async def check(self, link: Link, ctx: CheckContext) -> LinkResult:
        gh = github_file(link.url)
        if gh is None:  # classified as a GitHub file elsewhere, yet not parseable: plain HTTP
            return await GenericService().check(link, ctx)
        token = github_token(ctx.settings)
        fetch = await self._probe(gh, ctx, token)
        result = judge_raw_file(link, gh, fetch)
        if fetch.status != 404 or result.status is not Status.BROKEN:
            return result
        return await self._confirm_missing(link, gh, result, ctx, token)

    async def _probe(self, gh: GitHubFile, ctx: CheckContext, token: str | None) -> FetchResult:
        url = self.hosts.raw_url(gh)
        return self.hosts.real_fetch(await probe_pdf(ctx, url, auth_headers(url, token)))

    async def _confirm_missing(
        self, link: Link, gh: GitHubFile, missing: LinkResult, ctx: CheckContext, token: str | None
    ) -> LinkResult:
        """The verdict on a raw 404, once github.com said whether the repository or ref moved.

        A move is followed to the file's new place; should the file be missing there too, the
        new place is asked in turn (a repository renamed, then its branch), up to MAX_MOVES.
        Where the repository and ref are, the file's own github.com page must answer 404 too:
        a raw 404 alone (a stale CDN answer, a folder linked as a blob) is not enough.
        """
        start = place = RepoRef.of(gh)
        hops: list[Hop] = []
        for _ in range(MAX_MOVES):
            lookup = await self._lookup(place, ctx, token)
            if lookup.where is not Where.MOVED or lookup.place is None:
                break
            hops.append(Hop(self.hosts.real(self.hosts.tree_url(place)), lookup.http_status or 0))
            place = lookup.place
            new = place.file(gh.path)
            fetch = await self._probe(new, ctx, token)
            missing = judge_raw_file(link, new, fetch)
            if fetch.status != 404 or missing.status is not Status.BROKEN:
                return self._found_elsewhere(link, new, missing, describe_move(start, place), hops)
        else:
            lookup = RefLookup(Where.UNKNOWN, detail=f"more than {MAX_MOVES} moves on github.com")
        if lookup.where is Where.HERE:  # the repository and ref are there: is the file?
            blob = await self._ask_blob(place.file(gh.path), ctx, token)
            if blob.where is not Where.GONE:
                why = blob.detail or f"github.com answered HTTP {blob.http_status} for the file"
                lookup = RefLookup(Where.UNKNOWN, detail=why, network=blob.network)
        moved = describe_move(start, place)
        redirects = (*hops, *missing.redirects)
        if lookup.where is Where.UNKNOWN:
            return dataclasses.replace(
                missing,
                status=Status.UNVERIFIED,
                detail=f"{missing.detail}, but GitHub did not confirm it is gone ({lookup.detail})",
                network_error=lookup.network,
                redirects=redirects,
            )
        notes = [moved] if moved else []
        if lookup.where is Where.GONE:
            notes.append("no such repository or ref on GitHub (or a private one)")
        elif moved:  # the repository and ref are there, and the file is not
            notes.append("not there either")
        detail = f"{missing.detail} ({'; '.join(notes)})" if notes else missing.detail
        return dataclasses.replace(missing, detail=detail, redirects=redirects)

    @staticmethod
    def _found_elsewhere(
        link: Link, new: GitHubFile, found: LinkResult, moved: str, hops: list[Hop]
    ) -> LinkResult:
        """The verdict on the file at the place github.com moved it to."""
        redirects = (*hops, *found.redirects)
        if found.status not in (Status.OK, Status.REDIRECTED):
            return dataclasses.replace(
                found, detail=f"{found.detail} ({moved})", redirects=redirects
            )
        fix = found.fix or f"moved permanently — use {moved_file_url(link.url, new.raw_url)}"
        return dataclasses.replace(
            found,
            status=Status.REDIRECTED,
            detail=f"{found.detail}; {moved}",
            fix=fix,
            redirects=redirects,
        )

    def _lookup(self, place: RepoRef, ctx: CheckContext, token: str | None) -> Awaitable[RefLookup]:
        """github.com's answer for ``place``: asked once per run, shared by every link."""
        task = self._lookups.get(place.key)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.ensure_future(self._ask(place, ctx, token))
            # Mark a failure as seen even if every waiter was cancelled meanwhile.
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._lookups[place.key] = task
        # Shielded: one link's time budget running out must not cancel a shared question.
        return asyncio.shield(task)

    async def _ask(self, place: RepoRef, ctx: CheckContext, token: str | None) -> RefLookup:
        url = self.hosts.tree_url(place)
        # Not followed: the Location alone says where it moved; the page itself is not needed.
        fetch = await ctx.fetch(
            url, headers=auth_headers(url, token), max_bytes=0, follow_redirects=False
        )
        return read_lookup(place, fetch, self.hosts)

    async def _ask_blob(self, gh: GitHubFile, ctx: CheckContext, token: str | None) -> RefLookup:
        """github.com's word on the file itself: GONE (404/410) confirms a raw 404."""
        url = self.hosts.blob_url(gh)
        fetch = await ctx.fetch(
            url, headers=auth_headers(url, token), max_bytes=0, follow_redirects=False
        )
        return read_lookup(RepoRef.of(gh), fetch, self.hosts)
