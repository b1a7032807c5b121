"""Files in GitHub repositories (``github.com/O/R/blob/REF/PATH`` and raw URLs).

The file is checked at raw.githubusercontent.com, which serves its bytes: one ranged GET tells
whether it exists, whether a ``.pdf`` really is a PDF, and how big it is — without loading
github.com's heavy HTML page or spending the REST API's small anonymous quota.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
from collections.abc import Mapping
from typing import ClassVar
from urllib.parse import unquote, urlsplit

from crawler.links import GitHubFile, github_file
from crawler.model import Link, LinkKind, LinkResult, Status
from crawler.services import pdf
from crawler.services.base import CheckContext, FetchResult, HostLimits, Service, Settings
from crawler.services.generic import GenericService, http_verdict, pdf_verdict, probe_pdf
from crawler.units import human_size

# The token is GitHub's: it goes to these hosts and nowhere else.
TOKEN_HOSTS = frozenset({"github.com", "raw.githubusercontent.com", "api.github.com"})

# raw.githubusercontent.com serves a Git LFS file as its small text pointer. The blob page
# still shows the real file to readers, so the link is not broken; we report it ok with a note
# and do not fetch the real content: LFS downloads are billed to the repository owner.
LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1"
_LFS_SIZE = re.compile(rb"^size (\d+)\s*$", re.MULTILINE)


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


class GitHubService(Service):
    """``github.com/O/R/blob|raw/REF/PATH`` and ``raw.githubusercontent.com`` file links."""

    name = "github"
    # Raw files are served by a CDN that tolerates a few parallel requests from one runner.
    host_limits: ClassVar[Mapping[str, HostLimits]] = {
        "github.com": HostLimits(per_host=4, min_interval=0.25),
        "githubusercontent.com": HostLimits(per_host=4, min_interval=0.25),
    }

    def handles(self, link: Link) -> bool:
        return link.kind is LinkKind.GITHUB_FILE

    async def check(self, link: Link, ctx: CheckContext) -> LinkResult:
        gh = github_file(link.url)
        if gh is None:  # classified as a GitHub file elsewhere, yet not parseable: plain HTTP
            return await GenericService().check(link, ctx)
        headers = auth_headers(gh.raw_url, github_token(ctx.settings))
        fetch = await probe_pdf(ctx, gh.raw_url, headers)
        return judge_raw_file(link, gh, fetch)
