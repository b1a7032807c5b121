"""The one interface every remote service implements, and what the engine offers them.

A service turns one catalogue link into one ``LinkResult``. It never opens sockets itself:
it asks the engine (``CheckContext.fetch``) so that limits, retries, redirects, safety checks,
proxies and CA bundles are applied the same way for every host. Site quirks (SlideShare's
soft-404s, GitHub's raw files, YouTube's bot wall) live in the service's own module.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, TypeVar

from crawler.config import HostLimits, Settings
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


class Remembered(Protocol):
    """What a service may read of the previous run's result for a link: the metadata cache.

    ``store.previous.Remembered`` (a compact record per link) in a run, a ``LinkResult`` in tests.
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
        library that opens its own connections), taken only once a worker is free. The call
        gets what is left of the current link's time, less a margin (the wait for a worker or
        a slot not counted): then its process is stopped and ``TimeoutError`` raised.
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

    def expect(self, links: Sequence[Link], settings: Settings) -> None:  # noqa: B027
        """Told the run's links before any check: a service that asks about many links in one
        request (the YouTube Data API) collects its questions here. Nothing by default."""
