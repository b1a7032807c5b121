"""The shared HTTP verdict rules: how a fetch's answer, or the lack of one, becomes a status.

``http_verdict`` is the one place an HTTP answer becomes a verdict, ``unverified_from_fetch``
the one for a fetch that brought no usable answer. Every service starts from them (the
fallback in ``generic``, GitHub, SlideShare, YouTube) and adds its site's quirks in its own
module.
"""

from __future__ import annotations

import dataclasses
import http

from crawler.model import Fix, FixKind, FixSource, Link, LinkResult, Status
from crawler.services import pdf
from crawler.services.base import FetchResult
from crawler.units import human_size

PERMANENT = frozenset({301, 308})

# Only answers that say "this resource does not exist" are ``broken``. Everything else a
# server may say to *us* and not to a reader (a bot wall, a rate limit, a region block, a
# request it did not like) leaves the link ``unverified``:
# - 400/405/406/409/412/... describe our request, not the resource;
# - 451 is a legal block where the crawler runs (a CI runner abroad), not for every reader;
# - 401/403 are most often bot walls on pages that open fine in a browser;
# - 429 and 5xx are transient (the engine has already retried them).
NOT_FOUND_STATUSES = {404: "not found", 410: "gone"}


def permanent_target(fetch: FetchResult) -> str | None:
    """Where the last 301/308 of the chain pointed, or None when there was none.

    That URL (not the chain's end) is the fix: after "301 → https, 302 → signed CDN URL"
    the catalogue should say the https URL, not a link that expires tomorrow.
    """
    targets = [hop.url for hop in fetch.hops[1:]] + [fetch.final_url]
    permanent = [t for hop, t in zip(fetch.hops, targets, strict=True) if hop.status in PERMANENT]
    return permanent[-1] if permanent else None


def _base(link: Link, fetch: FetchResult, status: Status, detail: str) -> LinkResult:
    return LinkResult(
        link=link,
        status=status,
        detail=detail,
        http_status=fetch.status,
        final_url=fetch.final_url or None,
        redirects=tuple(fetch.hops),  # () when none: one shared empty
    )


def http_verdict(link: Link, fetch: FetchResult) -> LinkResult:
    """Turn one fetch into a verdict by the shared rules (see the module constants above).

    2xx → ok, or ``redirected`` (with the fix) when a 301/308 is in the chain; 302/303/307
    alone stay ok with ``final_url`` noted. Services refine 2xx verdicts (PDF, soft-404).
    """
    if fetch.status is None:
        # No answer (network, timeout, loop, refused): unverified_from_fetch's rules.
        return unverified_from_fetch(link, fetch)
    code = fetch.status
    final = fetch.final_url
    moved = bool(fetch.hops) and final != fetch.url
    if 200 <= code < 300:
        target = permanent_target(fetch) if moved else None
        if target and target != fetch.url:
            result = _base(link, fetch, Status.REDIRECTED, f"moved permanently to {target}")
            result.fix = Fix(target, FixKind.CERTAIN, FixSource.REDIRECT)
            return result
        if moved:
            detail = f"reachable (HTTP {code}) via a temporary redirect to {final}"
            return _base(link, fetch, Status.OK, detail)
        return _base(link, fetch, Status.OK, f"reachable (HTTP {code})")
    after = f" after a redirect to {final}" if moved else ""
    if code in NOT_FOUND_STATUSES:
        return _base(link, fetch, Status.BROKEN, f"{NOT_FOUND_STATUSES[code]} (HTTP {code}){after}")
    if code in (401, 403):
        detail = f"access denied (HTTP {code}) — possibly a bot wall{after}"
    elif code == 429 or code >= 500:
        # Transient, and the engine has already retried: worded like every other service's.
        result = unverified_from_fetch(link, fetch)
        result.detail += after
        return result
    elif code == 451:
        detail = f"unavailable for legal reasons (HTTP 451) where the crawler runs{after}"
    elif 400 <= code < 500:
        detail = f"the server refused the request (HTTP {code}){after}"
    else:
        # 1xx/3xx as a final answer: a redirect without Location, 304, ... nothing definitive.
        detail = f"unexpected answer (HTTP {code}){after}"
    return _base(link, fetch, Status.UNVERIFIED, detail)


def pdf_verdict(link: Link, fetch: FetchResult, result: LinkResult) -> LinkResult:
    """Refine an ok/redirected verdict of a ``.pdf`` probe: signature, size and file name."""
    if result.status not in (Status.OK, Status.REDIRECTED):
        return result
    reason = pdf.not_pdf_reason(fetch.body, fetch.headers)
    size = pdf.total_size(fetch.status, fetch.headers)
    if reason:
        # A definitive answer: the server sent this, and it is not the document.
        return dataclasses.replace(result, status=Status.BROKEN, detail=reason, fix=None, size=size)
    described = f"PDF, {human_size(size)}" if size is not None else "PDF"
    redirected = result.status is Status.REDIRECTED
    detail = f"{described}; {result.detail}" if redirected else described
    return dataclasses.replace(result, detail=detail, size=size, title=pdf.file_name(link.url))


def unverified_from_fetch(link: Link, fetched: FetchResult) -> LinkResult:
    """The verdict for a fetch that brought no usable answer.

    Covers both a fetch that failed (``fetched.error`` set) and one whose final answer was a
    transient HTTP status (429, 5xx) after the engine's retries. Network trouble and transient
    answers give ``unverified``; a redirect loop or an endless chain is ``broken`` (the server
    answered, and the answer leads nowhere); a target the safety guard refused is ``skipped``,
    since we chose not to look.
    """
    redirects = tuple(fetched.hops)
    kind = fetched.error_kind
    if kind == "refused":
        reason = (fetched.error or "refused").removeprefix("refused: ")
        return LinkResult(
            link=link,
            status=Status.SKIPPED,
            detail=f"not checked: {reason}",
            final_url=fetched.final_url,
            redirects=redirects,
        )
    if kind in ("redirect-loop", "too-many-redirects"):
        return LinkResult(
            link=link,
            status=Status.BROKEN,
            detail=fetched.error or "the redirects lead nowhere",
            final_url=fetched.final_url,
            redirects=redirects,
        )
    if kind is not None:  # network, timeout, too-slow
        return LinkResult(
            link=link,
            status=Status.UNVERIFIED,
            detail=fetched.error or "no answer from the server",
            final_url=fetched.final_url,
            redirects=redirects,
            network_error=True,
        )
    if fetched.status is None:
        detail = "no answer from the server"
    else:
        detail = f"the server answered {status_words(fetched.status)}"
        if fetched.attempts > 1:
            detail += f" (tried {fetched.attempts} times)"
    return LinkResult(
        link=link,
        status=Status.UNVERIFIED,
        detail=detail,
        http_status=fetched.status,
        final_url=fetched.final_url,
        redirects=redirects,
    )


def status_words(status: int) -> str:
    """``404 Not Found``; the bare number for a code without a standard phrase."""
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)
