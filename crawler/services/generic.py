"""Any http(s) link: the fallback service, for every link no other service claims.

A HEAD, confirmed with a GET when the HEAD answer means nothing on its own; a ``.pdf`` probed
with one ranged GET. Its verdicts follow the shared rules in ``verdicts``.
"""

from __future__ import annotations

from crawler.model import Link, LinkResult
from crawler.services import pdf
from crawler.services.base import CheckContext, FetchResult, Service
from crawler.services.verdicts import http_verdict, pdf_verdict

# HEAD answers that do not mean anything on their own: many servers implement HEAD badly
# (405/501), route only GET (404), or put HEAD behind a different rule set (400/401/403, 500).
# A GET is cheap (the engine stops reading at 64 KiB), so these are always confirmed with one.
# 429 and other 5xx are not: the engine already waited and retried, and asking again at once
# is impolite and no more likely to work.
HEAD_UNRELIABLE = frozenset({400, 401, 403, 404, 405, 406, 409, 410, 412, 451, 500, 501})


async def probe_pdf(
    ctx: CheckContext, url: str, headers: dict[str, str] | None = None
) -> FetchResult:
    """GET the first KiB of ``url``; a server that rejects the range (416) is asked plainly."""
    fetch = await ctx.fetch(
        url, headers={**pdf.PROBE_HEADERS, **(headers or {})}, max_bytes=pdf.PROBE_BYTES
    )
    if fetch.status == 416:
        # 416 to "bytes=0-1023" means an empty file or a server confused by ranges: ask
        # without one (the engine still stops reading after max_bytes).
        fetch = await ctx.fetch(url, headers=headers or None, max_bytes=pdf.PROBE_BYTES)
    return fetch


class GenericService(Service):
    """The fallback for every link no other service claims (registered last)."""

    name = "generic"

    def handles(self, link: Link) -> bool:
        return True

    async def check(self, link: Link, ctx: CheckContext) -> LinkResult:
        if pdf.is_pdf_url(link.url):
            fetch = await probe_pdf(ctx, link.url)
            return pdf_verdict(link, fetch, http_verdict(link, fetch))
        fetch = await ctx.fetch(link.url, method="HEAD")
        if head_needs_get(fetch):
            fetch = await ctx.fetch(link.url, method="GET")
        return http_verdict(link, fetch)


def head_needs_get(head: FetchResult) -> bool:
    """True when a HEAD answer must be confirmed with a GET before judging the link."""
    if head.status is None:
        # A redirect loop may be HEAD-only; network trouble would only repeat itself.
        return head.error_kind in ("redirect-loop", "too-many-redirects")
    return head.status in HEAD_UNRELIABLE
