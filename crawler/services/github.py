"""Files in GitHub repositories (``github.com/O/R/blob/REF/PATH`` and raw URLs).

The file is checked at raw.githubusercontent.com, which serves its bytes: one ranged GET tells
whether it exists, whether a ``.pdf`` really is a PDF, and how big it is — without loading
github.com's heavy HTML page or spending the REST API's small anonymous quota.

A raw 404 is not final: github.com redirects the URLs of a renamed branch (``master`` →
``main``) and of a renamed or transferred repository, raw.githubusercontent.com does not. So
on a raw 404 github.com is asked where the repository and ref are now (``/O/R/tree/REF``, its
redirect not followed), once per repository and ref in a run, and the file is looked for there
(``github_places`` reads github.com's answers).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
from collections.abc import Awaitable, Mapping
from typing import ClassVar
from urllib.parse import unquote, urlsplit

from crawler.config import HostLimits, Settings
from crawler.hosts import GitHubFile, LinkKind, github_file
from crawler.model import Fix, FixKind, FixSource, Hop, Link, LinkResult, Status
from crawler.services import pdf
from crawler.services.base import CheckContext, FetchResult, Service
from crawler.services.generic import GenericService, probe_pdf
from crawler.services.github_places import (
    GitHubHosts,
    RefLookup,
    RepoRef,
    Where,
    describe_move,
    rate_limit_detail,
    read_lookup,
)
from crawler.services.verdicts import http_verdict, pdf_verdict
from crawler.units import human_size

# The token is GitHub's: it goes to these hosts and nowhere else.
TOKEN_HOSTS = frozenset({"github.com", "raw.githubusercontent.com", "api.github.com"})

# raw.githubusercontent.com serves a Git LFS file as its small text pointer. The blob page
# still shows the real file to readers, so the link is not broken; we report it ok with a note
# and do not fetch the real content: LFS downloads are billed to the repository owner.
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1"
_LFS_SIZE = re.compile(rb"^size (\d+)\s*$", re.MULTILINE)

MAX_MOVES = 3  # github.com redirects followed for one file (a repository renamed, then its branch)


def github_token(settings: Settings) -> str | None:
    """The token from the settings, else from ``GITHUB_TOKEN`` (set in GitHub Actions)."""
    return settings.github_token or os.environ.get("GITHUB_TOKEN") or None


def auth_headers(url: str, token: str | None) -> dict[str, str]:
    """``Authorization`` for a GitHub host, nothing for any other host."""
    host = (urlsplit(url).hostname or "").lower()
    if token and host in TOKEN_HOSTS:
        return {"Authorization": f"Bearer {token}"}
    return {}


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
                fix=Fix(new_url, FixKind.CERTAIN, FixSource.GITHUB),
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
        Then the file's own github.com page must answer 404 too: a raw 404 alone (a stale CDN
        answer, a folder linked as a blob, a branch named "a/b" renamed) is not enough.
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
        if lookup.where in (Where.HERE, Where.GONE):  # and the file's own page? 404/410 only
            blob_url = self.hosts.blob_url(place.file(gh.path))
            blob = await self._ask(blob_url, place, ctx, token)
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
        new_url = moved_file_url(link.url, new.raw_url)
        fix = found.fix or (Fix(new_url, FixKind.CERTAIN, FixSource.GITHUB) if new_url else None)
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
            question = self._ask(self.hosts.tree_url(place), place, ctx, token)
            task = asyncio.ensure_future(question)
            # Mark a failure as seen even if every waiter was cancelled meanwhile.
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._lookups[place.key] = task
        # Shielded: one link's time budget running out must not cancel a shared question.
        return asyncio.shield(task)

    async def _ask(
        self, url: str, place: RepoRef, ctx: CheckContext, token: str | None
    ) -> RefLookup:
        """github.com's answer at ``url`` (a tree, or a file's blob page) about ``place``."""
        # Not followed: the Location alone says where it moved; the page itself is not needed.
        fetch = await ctx.fetch(
            url, headers=auth_headers(url, token), max_bytes=0, follow_redirects=False
        )
        return read_lookup(place, fetch, self.hosts)
