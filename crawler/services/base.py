"""The one interface every remote service implements, and what the engine offers them.

A service turns one catalogue link into one ``LinkResult``. It never opens sockets itself:
it asks the engine (``CheckContext.fetch``) so that limits, retries, redirects, safety checks,
proxies and CA bundles are applied the same way for every host. Site quirks (SlideShare's
soft-404s, GitHub's raw files, YouTube's bot wall) live in the service's own module.
"""

from __future__ import annotations

import abc
import http
import re
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, TypeVar

from crawler.model import Hop, Link, LinkResult, Status

# How a fetch failed before any definitive HTTP answer (None when a response arrived).
FetchErrorKind = Literal[
    "network",  # DNS failure, connection refused/reset, proxy failure, TLS failure
    "timeout",
    "refused",  # the safety guard refused the target (private address, non-http scheme)
    "redirect-loop",
    "too-many-redirects",
    "too-slow",  # the per-link time budget ran out
]

T = TypeVar("T")


@dataclass
class FetchResult:
    """What the engine got for one request, after redirects and retries."""

    url: str  # as requested
    final_url: str  # after the redirects the engine followed
    status: int | None = None  # final HTTP status; None when no answer came
    headers: Mapping[str, str] = field(default_factory=dict)  # case-insensitive (httpx.Headers)
    body: bytes = b""  # at most ``max_bytes`` of the final body
    hops: list[Hop] = field(default_factory=list)  # every redirect response followed, in order
    error: str | None = None  # plain words when no definitive answer came
    error_kind: FetchErrorKind | None = None
    attempts: int = 1  # requests sent for the final hop, retries included

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class HostLimits:
    """How gently to treat one host: at most ``per_host`` requests in flight, and at least
    ``min_interval`` seconds between request starts.

    A service declares them for its site (the stricter of these and the run's own settings
    wins); a user sets them per domain (``--host-limit``), and then they hold as given.
    """

    per_host: int
    min_interval: float

    @classmethod
    def parse(cls, text: str) -> tuple[str, HostLimits]:
        """``DOMAIN=N`` or ``DOMAIN=N/SECONDS`` → (domain, limits); ``ValueError`` otherwise."""
        usage = f"takes DOMAIN=N or DOMAIN=N/SECONDS, e.g. github.com=8/0.1 (got {text!r:.80})"
        domain, sep, rest = text.partition("=")
        count, _, interval = rest.partition("/")
        domain = domain.strip().lower().removeprefix("*.").rstrip(".")
        if not sep or not _DOMAIN.fullmatch(domain):
            raise ValueError(usage)
        try:
            limits = cls(int(count), float(interval) if interval else 0.0)
        except ValueError:
            raise ValueError(usage) from None
        if not 1 <= limits.per_host <= 64 or not 0 <= limits.min_interval <= 60:
            raise ValueError(f"needs 1 <= N <= 64 and 0 <= SECONDS <= 60 (got {text!r:.80})")
        return domain, limits


# A host name or an IPv4 address, as the engine compares them (lower case, no port).
_DOMAIN = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")


def limits_for(host: str, table: Iterable[tuple[str, HostLimits]]) -> HostLimits | None:
    """The limits of ``table`` for ``host``: the longest domain that is ``host`` or a parent
    of it (``www.youtube.com`` → ``youtube.com``), the first one listed on a tie."""
    host = host.lower().rstrip(".")
    best: tuple[int, HostLimits] | None = None
    for domain, limits in table:
        if (host == domain or host.endswith("." + domain)) and (
            best is None or len(domain) > best[0]
        ):
            best = (len(domain), limits)
    return best[1] if best else None


BUDGET_SLACK_S = 10.0  # the backoffs between retries (under 5 s for 3 attempts), and then some


def link_budget(timeout: float, retries: int = 3) -> float:
    """The time one link may take in all, given ``timeout`` for a connection or a read:
    one timeout per attempt and one more for a follow-up request (a HEAD confirmed with a
    GET, a moved GitHub file), plus ``BUDGET_SLACK_S``. ``--timeout 20``: 90 s; 5: 30 s."""
    return (retries + 1) * timeout + BUDGET_SLACK_S


@dataclass(frozen=True)
class Settings:
    """Knobs of one run; the CLI fills them, tests build them directly."""

    concurrency: int = 256  # global requests in flight (the per-host limit binds first)
    per_host: int = 4  # requests in flight per host
    min_interval: float = 0.0  # seconds between request starts to one host
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    # Total time budget for one link, retries, redirects and Retry-After pauses included
    # (the CLI derives it from --timeout: ``link_budget``).
    link_timeout: float = link_budget(20.0)
    max_redirects: int = 10
    max_body_bytes: int = 64 * 1024
    retries: int = 3  # attempts for transient failures (the first try included)
    # Cap on a server's Retry-After; one that would end after the link's budget is not
    # waited for at all (the engine gives the answer as it is).
    max_retry_after: float = 60.0
    allow_private: bool = False
    github_token: str | None = None
    user_agent: str = ""  # filled by the engine when empty
    video_workers: int = 2  # yt-dlp worker processes (started on the first video)
    metadata_max_age_days: float = 7.0  # reuse video titles/durations this long
    # The user's own limits by domain (--host-limit): they replace both the per_host and
    # min_interval above and a service's built-in limits for that domain and its subdomains.
    host_limits: tuple[tuple[str, HostLimits], ...] = ()


class Remembered(Protocol):
    """What a service may read of the previous run's result for a link: the metadata cache.

    ``history.Remembered`` (a compact record per link) in a run, a ``LinkResult`` in tests.
    """

    @property
    def status(self) -> Status: ...
    @property
    def title(self) -> str | None: ...
    @property
    def duration(self) -> int | None: ...
    @property
    def uploader(self) -> str | None: ...
    @property
    def upload_date(self) -> str | None: ...
    @property
    def metadata_fetched_at(self) -> str | None: ...


class CheckContext(Protocol):
    """What a service may use while checking a link (implemented by ``engine.Engine``)."""

    settings: Settings

    async def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        follow_redirects: bool = True,
    ) -> FetchResult:
        """Send a request through the engine's limits, retries and safety checks.

        Never raises for network trouble: failures come back as ``FetchResult.error``.
        """
        ...

    async def run_isolated(
        self, fn: Callable[..., T], *args: Any, slot_for: str | None = None
    ) -> T:
        """Run a CPU-heavy synchronous call (yt-dlp) in a worker process of the engine's.

        ``fn`` must be a module-level function and its arguments and result picklable. Its
        CPU then neither competes with the event loop for the GIL nor waits for it. With
        ``slot_for`` the call also holds one of that URL's host slots while it runs (for a
        library that opens its own connections), taken only once a worker is free.
        """
        ...

    def previous(self, link: Link) -> Remembered | None:
        """What the previous run learnt about this link, if anything (a metadata cache)."""
        ...

    def host_slot(self, url: str) -> AbstractAsyncContextManager[None]:
        """Hold one of ``url``'s host slots (after its Retry-After pause) while a library that
        opens its own connections (yt-dlp) talks to it, so per-host limits hold for it too."""
        ...

    async def guard(self, url: str) -> FetchResult | None:
        """What stops ``url`` before any request: None when it may be fetched, else a failed
        ``FetchResult`` — refused by the safety guard (scheme, non-public address) or a name
        that does not resolve (``error_kind`` "network"/"timeout").

        For services whose library opens its own connections (yt-dlp): they must ask first.
        """
        ...

    def proxy_for(self, url: str) -> str | None:
        """The proxy the environment (HTTPS_PROXY/HTTP_PROXY/NO_PROXY) gives for ``url``."""
        ...

    @property
    def ca_bundle(self) -> str | None:
        """Path of the CA bundle in force (``SSL_CERT_FILE``), or None for the default."""
        ...


class Service(abc.ABC):
    """One remote service: decides which links it owns and how to judge them."""

    name: str = "service"
    # Politeness for the hosts this service talks to, by host name (subdomains included):
    # declared here, next to the site's other quirks, and applied by the engine.
    host_limits: ClassVar[Mapping[str, HostLimits]] = {}

    @abc.abstractmethod
    def handles(self, link: Link) -> bool:
        """True when this service should check ``link``."""

    @abc.abstractmethod
    async def check(self, link: Link, ctx: CheckContext) -> LinkResult:
        """Judge ``link``. Must not raise for network trouble: return ``unverified`` instead."""


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
        detail = f"the server answered {_status_words(fetched.status)}"
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


def _status_words(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)
