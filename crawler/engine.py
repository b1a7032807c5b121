"""The async engine: runs the services over the catalogue's links, politely and safely.

Every request a service makes goes through ``Engine.fetch``, so the rules live in one place:
one HTTP client (connections reused), a global and a per-host limit on requests in flight,
retries for transient trouble only, a per-host pause when a server says "retry after",
redirects followed here (every hop recorded and vetted by ``crawler.safety``), bodies read up
to a cap, and network failures returned as plain words instead of raised.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import contextvars
import dataclasses
import email.utils
import functools
import gc
import logging
import math
import os
import signal
import socket
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    wait_exponential_jitter,
)

import crawler
from crawler import safety
from crawler.config import HostLimits, Settings, limits_for
from crawler.isolation import WorkerPool
from crawler.memory import GC_THRESHOLD, fewer_collections, shared_values
from crawler.model import Field, Hop, Link, LinkResult, Status
from crawler.proxies import Proxies
from crawler.services.base import (
    FetchErrorKind,
    FetchResult,
    Remembered,
    Service,
)
from crawler.services.verdicts import unverified_from_fetch

log = logging.getLogger(__name__)

T = TypeVar("T")
Resolver = Callable[[str], Awaitable[list[str]]]
Sleep = Callable[[float], Awaitable[None]]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
RETRY_STATUSES = frozenset({429, 502, 503, 504})
HOST_PAUSE_STATUSES = frozenset({429, 503})  # their Retry-After pauses the whole host
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
# What a keep-alive connection the server closed meanwhile looks like on the next request.
STALE_CONNECTION_ERRORS = (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError)
BACKOFF_INITIAL = 1.0  # seconds before the first retry, doubling, plus up to as much jitter
BACKOFF_MAX = 30.0
# How long a name's addresses are reused, as aiohttp's DNS cache did; every answer, new or
# reused, is judged again before a connection (``_addresses_to_connect``).
DNS_TTL_S = 300.0


def default_user_agent() -> str:
    return f"crawler/{crawler.__version__} (+{crawler.REPOSITORY_URL})"


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # delay-seconds is digits only (RFC 9110)
        return float(value)  # 10**20 digits and all: float, unlike int, has no length limit
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class OutOfTime(Exception):
    """A wait the engine will not start: it would end after the link's time budget."""


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything behind it (causes, aiohttp's wrapped OS errors)."""
    stack, seen = [exc], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nested in (
            current.__cause__,
            current.__context__,
            getattr(current, "os_error", None),
            getattr(current, "certificate_error", None),
        ):
            if isinstance(nested, BaseException):
                stack.append(nested)


def describe_error(exc: BaseException, host: str, settings: Settings) -> tuple[FetchErrorKind, str]:
    """Plain words (and a kind) for a request that got no HTTP answer."""
    if isinstance(exc, OutOfTime):
        return "too-slow", str(exc)
    if isinstance(exc, httpx.ConnectTimeout):
        return "timeout", f"timed out after {settings.connect_timeout:g} s connecting to {host}"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", f"timed out after {settings.read_timeout:g} s waiting for {host}"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return "refused", f"refused: not a URL the crawler can fetch ({exc})"
    causes = list(_causes(exc))
    for cause in causes:
        if isinstance(cause, safety.AddressRefused):  # a renewed DNS answer, judged again
            return "refused", str(cause)
    text = " ".join(str(c) for c in causes)
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            # aiohttp's wrapper is an SSLCertVerificationError too, without the details.
            reason = getattr(cause, "verify_message", None)
            if reason:
                return "network", f"TLS certificate verify failed for {host} ({reason})"
    if "CERTIFICATE_VERIFY_FAILED" in text or any(
        isinstance(c, ssl.SSLCertVerificationError) for c in causes
    ):
        return "network", f"TLS certificate verify failed for {host}"
    if any(isinstance(c, ssl.SSLError) for c in causes):
        return "network", f"TLS handshake with {host} failed"
    if any(isinstance(c, socket.gaierror) for c in causes):
        return "network", f"DNS lookup failed for {host}"
    if any(isinstance(c, ConnectionRefusedError) for c in causes) or "refused" in text.lower():
        return "network", f"connection refused by {host}"
    if any(isinstance(c, ConnectionResetError) for c in causes):
        return "network", f"connection reset by {host}"
    if isinstance(exc, httpx.ProxyError):
        return "network", f"the proxy failed to reach {host} ({exc})"
    if _is_malformed(exc):
        reason = " ".join(str(exc).split()).removesuffix(" ^")[:120]  # the parser's words
        return "network", f"{host} sent an answer that is not valid HTTP ({reason})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "network", f"{host} closed the connection without a complete answer"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return "network", f"the connection to {host} broke ({exc or type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        return "network", f"could not connect to {host} ({exc})"
    return "network", f"network error with {host}: {type(exc).__name__}: {exc}"


def _is_malformed(exc: BaseException) -> bool:
    """True for an answer the transport's parser refused (``transport.MalformedAnswer``)."""
    if not isinstance(exc, httpx.RemoteProtocolError):
        return False
    # Imported here: crawler.transport imports aiohttp, which a run behind a proxy or an
    # offline run never needs otherwise.
    from crawler.transport import MalformedAnswer

    return isinstance(exc, MalformedAnswer)


def _is_transient(exc: BaseException) -> bool:
    if _is_malformed(exc):  # a server that sends that will send it again
        return False
    if not isinstance(
        exc, httpx.NetworkError | httpx.TimeoutException | httpx.RemoteProtocolError
    ) and not isinstance(exc, httpx.ProxyError):
        return False
    # A bad certificate, an unknown name or a refused address will not fix itself in a second.
    return not any(
        isinstance(c, ssl.SSLCertVerificationError | socket.gaierror | safety.AddressRefused)
        for c in _causes(exc)
    )


@dataclasses.dataclass
class _Answer:
    """One HTTP response, already read (up to the cap) and closed."""

    status: int
    headers: httpx.Headers
    body: bytes


@dataclasses.dataclass
class _Budget:
    """One link's time budget: its timer, and how long the link waited for its turn."""

    timer: asyncio.Timeout
    queued: float = 0.0


class _HostGate:
    """Per-host politeness: requests in flight, spacing between starts, a shared pause."""

    def __init__(self, host: str, per_host: int, min_interval: float) -> None:
        self.host = host
        self.slots = asyncio.Semaphore(max(1, per_host))
        self.min_interval = min_interval
        self.next_start = 0.0  # monotonic time the next request may start (min_interval)
        self.not_before = 0.0  # monotonic time a Retry-After pause ends


def _host_key(url: httpx.URL) -> str:
    return f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"


def _origin(url: str) -> tuple[str, bytes, int | None]:
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.raw_host, parsed.port  # raw: no IDNA decoding, which may fail


class _Inflater:
    """gzip or deflate decoding that never unpacks more than asked for. httpx decodes whole
    chunks: one 16 KiB chunk of a gzip bomb is 16 MiB in memory before the cap applies."""

    def __init__(self, encoding: str) -> None:
        self._deflate = encoding == "deflate"  # zlib-wrapped, or raw from some servers
        self._inflate = zlib.decompressobj(zlib.MAX_WBITS if self._deflate else 16 + zlib.MAX_WBITS)

    def feed(self, data: bytes, room: int) -> bytes:
        try:
            return self._inflate.decompress(data, room)
        except zlib.error:
            if not self._deflate:
                raise
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._inflate.decompress(data, room)
        finally:
            self._deflate = False  # the raw form is tried on the first chunk only


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of the body, decoded; the rest is never read from the wire,
    and never unpacked either."""
    if limit <= 0:
        return b""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    inflater = None
    if encoding in ("gzip", "x-gzip", "deflate") and not response.is_stream_consumed:
        inflater = _Inflater(encoding)
    # httpx decodes the rest: no coding, several, br or zstd (when installed), or a body
    # already in memory (a mock transport's).
    stream = response.aiter_bytes() if inflater is None else response.aiter_raw()
    chunks: list[bytes] = []
    size = 0
    # On damage, keep what decoded before it.
    with contextlib.suppress(httpx.DecodingError, zlib.error):
        async with contextlib.aclosing(stream) as pieces:
            async for piece in pieces:
                chunk = piece if inflater is None else inflater.feed(piece, limit - size)
                chunks.append(chunk[: limit - size])
                size += len(chunks[-1])
                if size >= limit:
                    break
    return b"".join(chunks)


class Engine:
    """Checks links with the services; implements ``CheckContext`` for them.

    Use as ``async with Engine(settings) as engine: await engine.check_all(links)``.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        services: Sequence[Service] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        previous: Mapping[tuple[str, str, str], Remembered] | None = None,
        resolver: Resolver | None = None,
        sleep: Sleep | None = None,
    ) -> None:
        if not settings.user_agent:
            settings = dataclasses.replace(settings, user_agent=default_user_agent())
        self.settings = settings
        self._services = services
        self._transport = transport
        self._previous = previous or {}
        self._resolver = resolver or safety.system_resolver
        self._sleep = sleep or asyncio.sleep
        # Read the environment once, as httpx does when it builds its client.
        self._proxies = Proxies.from_environment()
        self._client: httpx.AsyncClient | None = None
        self._direct: httpx.AsyncBaseTransport | None = None
        self._header_sets: dict[tuple[tuple[str, str], ...], httpx.Headers] = {}
        self._timeout_ext: dict[str, float | None] = {}
        self._processes: WorkerPool | None = None
        self._isolated_slots: asyncio.Semaphore | None = None
        self._global: asyncio.Semaphore | None = None
        self._gates: dict[str, _HostGate] = {}
        self._dns: dict[str, tuple[float, asyncio.Task[list[str]]]] = {}  # (asked at, lookup)
        self._verdicts: dict[str, tuple[FetchErrorKind, str] | None] = {}
        # The time budget of the link this task is checking (``check_link``), if any.
        self._budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
            "budget", default=None
        )

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Engine:
        s = self.settings
        transport = self._transport
        uses_proxy = self._proxies.in_force
        if transport is None and not uses_proxy:
            from crawler.transport import ExactAiohttpTransport

            # Connections go only to addresses judged public (no DNS rebinding).
            transport = ExactAiohttpTransport(
                limit=max(1, s.concurrency) * 2, lookup=self._addresses_to_connect
            )
        # transport None here means a proxy is in force: httpx's own transport handles it
        # (and reads SSL_CERT_FILE) through trust_env.
        # Without a proxy, requests go straight to the transport (see ``_exchange``).
        self._direct = None if uses_proxy else transport
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,  # the engine follows them, vetting every hop
            timeout=httpx.Timeout(
                connect=s.connect_timeout,
                read=s.read_timeout,
                write=s.read_timeout,
                pool=s.connect_timeout,
            ),
            limits=httpx.Limits(
                max_connections=max(1, s.concurrency) * 2,
                max_keepalive_connections=max(1, s.concurrency),
            ),
            headers={"User-Agent": s.user_agent},
            trust_env=True,
        )
        self._timeout_ext = self._client.timeout.as_dict()
        self._global = asyncio.Semaphore(max(1, s.concurrency))
        self._isolated_slots = asyncio.Semaphore(max(1, s.video_workers))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self._processes is not None:
            # Every result is in (or the run is being abandoned): stop the workers now rather
            # than wait for a yt-dlp call that nobody will read.
            self._processes.close()
            self._processes = None
        for _, task in self._dns.values():
            task.cancel()

    # -- CheckContext --------------------------------------------------------------------

    def previous(self, link: Link) -> Remembered | None:
        return self._previous.get((link.session_id, link.field, link.url))

    def proxy_for(self, url: str) -> str | None:
        return self._proxies.for_url(url)

    @property
    def ca_bundle(self) -> str | None:
        path = os.environ.get("SSL_CERT_FILE")
        return path if path and os.path.isfile(path) else None

    async def run_isolated(
        self, fn: Callable[..., T], *args: Any, slot_for: str | None = None
    ) -> T:
        if self._isolated_slots is None:
            raise RuntimeError("the engine is not running (use 'async with Engine(...)')")
        # A free worker first, the host's slot second: a call queued behind busy workers must
        # not sit on one of its host's slots meanwhile (at 1 % videos that starved hosts).
        async with self._slot(self._isolated_slots):
            if slot_for is None:
                return await self._in_worker_in_time(fn, args)
            async with self.host_slot(slot_for):
                return await self._in_worker_in_time(fn, args)

    async def _in_worker_in_time(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """``_in_worker`` within what is left of the current link's budget, less a margin: the
        caller's own ``TimeoutError`` then fires before the engine's "gave up" and can say
        what was unfinished. Waiting for the slots above is not charged (``_uncharged``)."""
        left = self._deadline() - time.monotonic()
        if left == math.inf:
            return await self._in_worker(fn, args)
        async with asyncio.timeout(max(0.0, left - min(1.0, self.settings.link_timeout / 10))):
            return await self._in_worker(fn, args)

    async def _in_worker(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        # "spawn" re-imports the main module in each worker: a script that drives the engine
        # must keep its entry point under ``if __name__ == "__main__":`` (``python -m crawler``
        # and the ``crawler`` console script do), as with any multiprocessing code.
        if self._processes is None:
            # Its processes start on first use (a run without videos never pays for them).
            self._processes = WorkerPool(self.settings.video_workers, initializer=_start_worker)
        # A caller that gives up (its time budget ran out) cancels this: the pool then kills
        # the call's process, so a runaway download stops with its link.
        return await self._processes.run(fn, args)

    async def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        follow_redirects: bool = True,
    ) -> FetchResult:
        method = method.upper()
        limit = self.settings.max_body_bytes if max_bytes is None else max_bytes
        if method == "HEAD":
            limit = 0
        sent_headers = dict(headers or {})
        hops: list[Hop] = []
        # URL → how many answers of this chain had set a cookie when we asked it. Coming back
        # to a URL is a loop only if no cookie was set since: "set a consent cookie and come
        # back" is how walls work.
        cookies_set = 0
        seen = {url: cookies_set}
        current = url
        while True:
            refusal = await self._guard(current)
            if refusal is None and hops and (unusable := _unusable(current)) is not None:
                refusal = "refused", unusable  # a redirect to a URL no request can carry
            if refusal is not None:
                kind, text = refusal
                return FetchResult(url, current, hops=hops, error=text, error_kind=kind)
            answer, failure, attempts = await self._send(method, current, sent_headers, limit)
            if method == "HEAD" and isinstance(failure, httpx.RemoteProtocolError):
                # A server that sends a body after its HEAD answer (or botches HEAD otherwise)
                # leaves an answer no client can read: a GET, its body left unread, confirms.
                answer, failure, more = await self._send("GET", current, sent_headers, 0)
                attempts += more
            if failure is not None:
                kind, text = describe_error(failure, httpx.URL(current).host, self.settings)
                return FetchResult(
                    url, current, hops=hops, error=text, error_kind=kind, attempts=attempts
                )
            assert answer is not None
            location = answer.headers.get("location", "").strip()
            target = None
            if follow_redirects and answer.status in REDIRECT_STATUSES and location:
                with contextlib.suppress(httpx.InvalidURL):
                    target = str(httpx.URL(current).join(location))
            if target is None:
                return FetchResult(
                    url,
                    current,
                    status=answer.status,
                    headers=answer.headers,
                    body=answer.body,
                    hops=hops,
                    attempts=attempts,
                )
            hops.append(Hop(current, answer.status))
            cookies_set += "set-cookie" in answer.headers
            if seen.get(target) == cookies_set:
                return FetchResult(
                    url,
                    target,
                    hops=hops,
                    error=f"redirect loop: {current} sends back to {target}",
                    error_kind="redirect-loop",
                )
            if len(hops) > self.settings.max_redirects:
                return FetchResult(
                    url,
                    target,
                    hops=hops,
                    error=f"more than {self.settings.max_redirects} redirects",
                    error_kind="too-many-redirects",
                )
            if _origin(target) != _origin(current):
                # Credentials (a GitHub token) are for the host they were meant for.
                sent_headers = {
                    k: v for k, v in sent_headers.items() if k.lower() != "authorization"
                }
            seen[target] = cookies_set
            current = target

    # -- running the services ------------------------------------------------------------

    async def check_all(
        self,
        links: Sequence[Link],
        *,
        on_start: Callable[[Link], None] | None = None,
        on_result: Callable[[LinkResult], None] | None = None,
    ) -> list[LinkResult]:
        """Check every link; results come back in the order of ``links``.

        A URL that appears several times (a presenter's homepage) is checked once per field.
        A bounded pool of workers pulls the work, so 100,000 links never mean 100,000 tasks.
        """
        if self._client is None:
            raise RuntimeError("the engine is not running (use 'async with Engine(...)')")
        # Compact for 100,000 links: the first index of each (url, field), the later ones only
        # for the few URLs that repeat, and per host an array of indices, not of keys.
        first: dict[tuple[str, str], int] = {}
        repeats: dict[int, list[int]] = {}
        by_host: dict[str, array.array[int]] = {}
        # Videos go first on each host: a video may need yt-dlp (worker processes to start,
        # seconds of CPU), which then runs beside the plain checks instead of after them.
        videos: dict[str, list[int]] = {}
        for index, link in enumerate(links):
            owner = first.setdefault((link.url, link.field), index)
            if owner != index:
                repeats.setdefault(owner, []).append(index)
            else:
                host = _host_of(link.url)
                queue = by_host.setdefault(host, array.array("l"))
                if link.field == Field.VIDEO:
                    videos.setdefault(host, []).append(index)
                else:
                    queue.append(index)
        first.clear()
        for host, indices in videos.items():
            by_host[host] = array.array("l", indices) + by_host[host]
        results: list[LinkResult | None] = [None] * len(links)
        work = _interleave(list(by_host.values()))
        by_host.clear()

        async def worker() -> None:
            # One shared iterator: in one event loop, next() hands each item out exactly once.
            for index in work:
                indices = [index, *repeats.get(index, ())]
                if on_start is not None:
                    for i in indices:
                        on_start(links[i])
                result = await self.check_link(links[index])
                for n, i in enumerate(indices):
                    copy = result if n == 0 else _copy_for(result, links[i])
                    results[i] = copy
                    if on_result is not None:
                        on_result(copy)

        # More workers than request slots, so links of a paused host do not idle the run.
        distinct = len(links) - sum(map(len, repeats.values()))
        count = min(distinct, max(1, self.settings.concurrency) * 2)
        async with asyncio.TaskGroup() as tasks:
            for _ in range(count):
                tasks.create_task(worker())
        missing = [links[i].url for i, r in enumerate(results) if r is None]
        if missing:  # every worker finished, so this would be a bug here
            raise RuntimeError(f"no result for {missing[:3]}")
        return [r for r in results if r is not None]

    async def check_link(self, link: Link) -> LinkResult:
        """One link, by the first service that handles it, within the per-link time budget.

        The budget counts the time spent on the link (requests, reads, retries, a server's
        Retry-After), not the time it waits for a slot or its turn at its host behind other
        links (``_uncharged``): the run's own politeness must not make a link give up.
        """
        budget = self.settings.link_timeout
        try:
            unusable = _unusable(link.url)
            if unusable is not None:
                refused = FetchResult(link.url, link.url, error=unusable, error_kind="refused")
                return unverified_from_fetch(link, refused)
            service = self._service_for(link)
            if service is None:
                return LinkResult(link, Status.SKIPPED, "not checked: no service handles it")
            started = time.monotonic()
            timer = asyncio.timeout(budget)
            spent = _Budget(timer)
            token = self._budget.set(spent)
            try:
                async with timer:
                    result = await service.check(link, self)
                return shared_values(result)
            except TimeoutError:
                if not timer.expired():
                    raise
                took = _seconds(time.monotonic() - started)
                waited = f"{_seconds(spent.queued)} s of it waiting for its turn; " * (
                    spent.queued >= 1
                )
                return LinkResult(
                    link,
                    Status.UNVERIFIED,
                    f"gave up after {took} s ({waited}time allowed for one link: {budget:g} s)",
                    network_error=True,
                )
            finally:
                self._budget.reset(token)
        except OutOfTime as exc:  # a wait outside ``fetch`` (``host_slot``) that could not end
            return LinkResult(link, Status.UNVERIFIED, str(exc), network_error=True)
        except Exception as exc:
            log.exception("internal error while checking %s", link.url)
            return LinkResult(
                link, Status.UNVERIFIED, f"internal error: {type(exc).__name__}: {exc}"
            )

    def _deadline(self) -> float:
        """When the current link's budget runs out (monotonic), or infinity."""
        spent = self._budget.get()
        when = spent.timer.when() if spent is not None else None
        return math.inf if when is None else when

    @contextlib.contextmanager
    def _uncharged(self) -> Iterator[None]:
        """The block's time (a wait for the run's own slots or spacing) is not charged to the
        current link's budget: its timer stops meanwhile."""
        spent = self._budget.get()
        when = spent.timer.when() if spent is not None and not spent.timer.expired() else None
        if spent is None or when is None:  # no budget, or already stopped by an outer block
            yield
            return
        started = time.monotonic()
        spent.timer.reschedule(None)
        try:
            yield
        finally:
            now = time.monotonic()
            spent.queued += now - started
            spent.timer.reschedule(when + now - started)

    async def _acquire(self, slots: asyncio.Semaphore) -> None:
        """Take one of ``slots``; waiting for it is not charged to the link's budget."""
        if slots.locked():
            with self._uncharged():
                await slots.acquire()
        else:
            await slots.acquire()

    @contextlib.asynccontextmanager
    async def _slot(self, slots: asyncio.Semaphore) -> AsyncIterator[None]:
        """Hold one of ``slots`` (``_acquire``)."""
        await self._acquire(slots)
        try:
            yield
        finally:
            slots.release()

    def _services_list(self) -> Sequence[Service]:
        if self._services is None:
            from crawler.services.registry import default_services

            self._services = default_services()
        return self._services

    def _service_for(self, link: Link) -> Service | None:
        return next((s for s in self._services_list() if s.handles(link)), None)

    # -- one hop: safety, limits, retries ------------------------------------------------

    @contextlib.asynccontextmanager
    async def host_slot(self, url: str) -> AsyncIterator[None]:
        gate = self._gate(httpx.URL(url))
        async with self._slot(gate.slots):
            await self._wait_turn(gate)
            yield

    async def guard(self, url: str) -> FetchResult | None:
        verdict = await self._guard(url)
        if verdict is None:
            return None
        kind, text = verdict
        return FetchResult(url=url, final_url=url, error=text, error_kind=kind, attempts=0)

    async def _guard(self, url: str) -> tuple[FetchErrorKind, str] | None:
        """Why ``url`` must not be fetched (scheme, non-public address), or None."""
        refusal = safety.scheme_refusal(url)
        if refusal is not None:
            return "refused", refusal
        if self.settings.allow_private:
            return None
        # The verdict depends only on scheme (proxies), host and port: judge each once.
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc}".lower()
        if key in self._verdicts:
            return self._verdicts[key]
        verdict = await self._judge_origin(key)
        # Only a definitive verdict is kept for the run: a lookup that failed or timed out is
        # asked again for the next link of that host (one resolver hiccup is not a night).
        if verdict is None or verdict[0] == "refused":
            self._verdicts[key] = verdict
        return verdict

    async def _judge_origin(self, origin: str) -> tuple[FetchErrorKind, str] | None:
        try:
            host = httpx.URL(origin).raw_host.decode("ascii")
        except (httpx.InvalidURL, UnicodeDecodeError) as exc:
            return "refused", f"refused: not a valid URL ({exc})"
        refusal = safety.host_refusal(host)
        if refusal is not None:
            return "refused", refusal
        if safety.is_literal_ip(host) or self.proxy_for(origin):
            return None  # a literal public IP, or the proxy resolves the name
        for retry in (True, False):
            try:
                addresses = await self._lookup(host)
                break
            except TimeoutError:
                if not retry:
                    limit = self.settings.connect_timeout
                    return "timeout", f"timed out after {limit:g} s looking up {host}"
            except OSError as exc:
                # "Temporary failure in name resolution" (a resolver's hiccup, as a timeout)
                # is asked once more after a second; "no such name" is not.
                if not (retry and getattr(exc, "errno", None) == socket.EAI_AGAIN):
                    return "network", f"DNS lookup failed for {host}"
            await self._pause(BACKOFF_INITIAL)
        refusal = safety.addresses_refusal(host, addresses)
        return ("refused", refusal) if refusal is not None else None

    async def _lookup(self, host: str) -> list[str]:
        """The addresses of ``host``, shared by the safety check and the connections for
        ``DNS_TTL_S``. A failed lookup is tried again next time."""
        asked_at, task = self._dns.get(host, (0.0, None))
        now = time.monotonic()
        stale = now - asked_at >= DNS_TTL_S
        if task is not None and task.done() and (task.cancelled() or task.exception() or stale):
            task = None
        if task is None:
            task = asyncio.ensure_future(self._resolve(host))
            # Mark a failure as seen even if every waiter was cancelled meanwhile.
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
            self._dns[host] = (now, task)
        # Shielded: one link's time budget running out must not cancel a shared lookup.
        return await asyncio.shield(task)

    async def _addresses_to_connect(self, host: str) -> list[str]:
        """What the transport may connect to for ``host`` (``transport.PinnedResolver``):
        the addresses of ``_lookup``, judged again, so that neither a second DNS answer nor
        one renewed after ``DNS_TTL_S`` can lead a connection to a private address."""
        addresses = await self._lookup(host)
        if not self.settings.allow_private:
            refusal = safety.addresses_refusal(host, addresses)
            if refusal is not None:
                raise safety.AddressRefused(refusal)
        return addresses

    async def _resolve(self, host: str) -> list[str]:
        async with asyncio.timeout(self.settings.connect_timeout):
            return await self._resolver(host)

    async def _send(
        self, method: str, url: str, headers: Mapping[str, str], limit: int
    ) -> tuple[_Answer | None, BaseException | None, int]:
        """Send with retries; returns (answer, failure, attempts)."""
        attempts = 0
        idempotent = method in IDEMPOTENT
        first: _Answer | BaseException | None = None
        # Fast path: nearly every request needs one attempt, and building an AsyncRetrying per
        # request is a measurable share of the engine's CPU (tenacity inspects its callables
        # every time; see benchmarks/README.md). Tenacity is entered only when the first
        # answer is worth retrying, and then it replays that answer as its first attempt.
        try:
            first = await self._attempt(method, url, headers, limit)
        except OutOfTime as exc:
            return None, exc, 1
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # A HEAD answer that could not be read is asked again as a GET (``fetch``).
            botched_head = method == "HEAD" and isinstance(exc, httpx.RemoteProtocolError)
            if botched_head or not (idempotent and _is_transient(exc)):
                return None, exc, 1
            first = exc
        else:
            if not (idempotent and first.status in RETRY_STATUSES and self._can_wait(first)):
                return first, None, 1

        async def attempt() -> _Answer:
            nonlocal attempts, first
            attempts += 1
            if first is not None:  # the fast path's attempt counts as tenacity's first
                replay, first = first, None
                if isinstance(replay, BaseException):
                    raise replay
                return replay
            return await self._attempt(method, url, headers, limit)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(max(1, self.settings.retries)),
            wait=self._backoff,
            retry=(
                retry_if_exception(lambda e: idempotent and _is_transient(e))
                | retry_if_result(
                    lambda a: idempotent and a.status in RETRY_STATUSES and self._can_wait(a)
                )
            ),
            sleep=self._pause,
            # After the last attempt: the last answer as is (a 503 stays a 503), or its error.
            retry_error_callback=lambda state: state.outcome.result(),
        )
        try:
            return await retrying(attempt), None, attempts
        except (httpx.HTTPError, httpx.InvalidURL, OutOfTime) as exc:
            return None, exc, attempts

    def _retry_after(self, answer: _Answer) -> float | None:
        """The answer's Retry-After in seconds, at most ``max_retry_after``."""
        wait = parse_retry_after(answer.headers.get("retry-after"))
        return None if wait is None else min(wait, self.settings.max_retry_after)

    def _can_wait(self, answer: _Answer) -> bool:
        """False when the answer asks to wait past the link's time budget (10**20 seconds,
        the year 9999): it then stands as it is (an unverified 429 or 503) at once, instead
        of holding the link until its budget runs out."""
        wait = self._retry_after(answer)
        return wait is None or time.monotonic() + wait <= self._deadline()

    def _backoff(self, state: RetryCallState) -> float:
        outcome = state.outcome
        if (
            outcome is not None
            and outcome.failed
            and state.attempt_number == 1
            and isinstance(outcome.exception(), STALE_CONNECTION_ERRORS)
        ):
            # Most often a keep-alive connection the server had closed: the retry goes out at
            # once on a fresh connection (as browsers do); a second failure backs off.
            return 0.0
        if outcome is not None and not outcome.failed:
            answer: _Answer = outcome.result()
            wait = self._retry_after(answer)
            if wait is not None:
                # For 429/503 the host gate already holds every request to the host until
                # then, this retry included.
                if answer.status in HOST_PAUSE_STATUSES:
                    return 0.0
                return wait
        return wait_exponential_jitter(
            initial=BACKOFF_INITIAL, max=BACKOFF_MAX, jitter=BACKOFF_INITIAL
        )(state)

    async def _pause(self, seconds: float) -> None:
        if seconds > 0:
            await self._sleep(seconds)

    async def _attempt(
        self, method: str, url: str, headers: Mapping[str, str], limit: int
    ) -> _Answer:
        assert self._client is not None and self._global is not None
        request = self._build_request(method, url, headers)
        gate = self._gate(request.url)
        # Semaphores taken by hand, not with ``_slot``: this runs for every request.
        await self._acquire(gate.slots)
        try:
            await self._wait_turn(gate)
            # The global slot is taken only now: a paused host must not hold up other hosts.
            await self._acquire(self._global)
            try:
                response = await self._exchange(request)
                try:
                    body = await _read_capped(response, limit)
                finally:
                    await response.aclose()
            finally:
                self._global.release()
        finally:
            gate.slots.release()
        answer = _Answer(response.status_code, response.headers, body)
        if response.status_code in HOST_PAUSE_STATUSES:
            wait = self._retry_after(answer)
            if wait is not None:
                log.info(
                    "%s asks to wait %g s (HTTP %d)", request.url.host, wait, response.status_code
                )
                gate.not_before = max(gate.not_before, time.monotonic() + wait)
        return answer

    def _build_request(self, method: str, url: str, headers: Mapping[str, str]) -> httpx.Request:
        assert self._client is not None
        if self._direct is None:
            return self._client.build_request(method, url, headers=headers)
        # What ``AsyncClient.build_request`` does for us, minus the per-request merging that
        # costs more than the request itself at 10,000 links (base URL, params, cookie copies).
        # The services send a handful of distinct header sets: merge each with the client's
        # defaults once (httpx copies a Headers instance cheaply, a mapping it re-encodes).
        key = tuple(headers.items())
        merged = self._header_sets.get(key)
        if merged is None:
            merged = self._client.headers.copy()
            merged.update(headers)
            if len(self._header_sets) < 64:  # bounded, should a service vary them per link
                self._header_sets[key] = merged
        request = httpx.Request(
            method, url, headers=merged, extensions={"timeout": self._timeout_ext}
        )
        if self._client.cookies.jar:  # cookies a server set earlier in the run (consent walls)
            self._client.cookies.set_cookie_header(request)
        return request

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        """One request, one response (not followed, body unread)."""
        assert self._client is not None
        if self._direct is None:
            # A proxy is in force: the client picks the proxy transport for this URL (and
            # keeps the cookies itself).
            return await self._client.send(request, stream=True)
        # Straight to the transport: the client's auth, redirect and hook machinery would only
        # pass the request through (the engine follows redirects itself), and its cookie
        # bookkeeping parses every response's headers into an email.Message.
        response = await self._direct.handle_async_request(request)
        response.request = request
        if "set-cookie" in response.headers:
            self._client.cookies.extract_cookies(response)
        return response

    def _gate(self, url: httpx.URL) -> _HostGate:
        key = _host_key(url)
        gate = self._gates.get(key)
        if gate is None:
            per_host, interval = self.settings.per_host, self.settings.min_interval
            chosen = limits_for(url.host, self.settings.host_limits)
            if chosen is not None:  # the user's word for this domain, as given
                per_host, interval = chosen.per_host, chosen.min_interval
            elif (declared := self._declared_limits(url.host)) is not None:
                per_host = min(per_host, declared.per_host)
                interval = max(interval, declared.min_interval)
            gate = self._gates[key] = _HostGate(url.host, per_host, interval)
        return gate

    def _declared_limits(self, host: str) -> HostLimits | None:
        """The limits a service declares for ``host`` or a parent domain of it."""
        table = (pair for s in self._services_list() for pair in s.host_limits.items())
        return limits_for(host, table)

    async def _wait_turn(self, gate: _HostGate) -> None:
        """Wait for the host's pause and spacing; the slot is reserved before sleeping.

        The pause a server asked for (Retry-After) is charged to the link's budget, and when
        it would end after that budget ``OutOfTime`` is raised at once rather than waited in
        vain; the spacing between requests (the run's own politeness) is not charged.
        """
        now = time.monotonic()
        if gate.not_before > now and gate.not_before > self._deadline():
            budget = self.settings.link_timeout
            raise OutOfTime(
                f"{gate.host} asked to wait (Retry-After) longer than the {budget:g} s a link "
                "may take; not asked again"
            )
        start = max(now, gate.not_before, gate.next_start)
        gate.next_start = start + gate.min_interval
        paused = max(0.0, gate.not_before - now)
        await self._pause(paused)
        if start - now > paused:
            with self._uncharged():
                await self._pause(start - now - paused)


def _unusable(url: str) -> str | None:
    """Why ``url`` cannot be requested at all, or None. Asked before any service sees a link
    (behind validation, which refuses these too), so that no service meets a URL httpx
    cannot parse and reports an internal error instead of plain words."""
    refusal = safety.scheme_refusal(url)
    if refusal is None:
        # What scheme_refusal lets through and httpx refuses is in the host part (an IDNA
        # name, an IPv4 address out of range): asked once per origin.
        parts = urlsplit(url)
        refusal = _unusable_origin(f"{parts.scheme}://{parts.netloc}")
    return refusal


@functools.lru_cache(maxsize=1024)
def _unusable_origin(origin: str) -> str | None:
    try:
        httpx.URL(origin).host  # noqa: B018 - decodes an IDNA name, which may fail
    except (httpx.InvalidURL, UnicodeError) as exc:  # idna's errors are UnicodeErrors
        return f"refused: not a valid URL ({exc})"
    return None


def _seconds(elapsed: float) -> str:
    """``elapsed`` for a reader: whole seconds, or two digits below ten."""
    return f"{elapsed:.0f}" if elapsed >= 10 else f"{elapsed:.2g}"


def _copy_for(result: LinkResult, link: Link) -> LinkResult:
    return dataclasses.replace(result, link=link, redirects=tuple(result.redirects))


def _host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _interleave(queues: list[array.array[int]]) -> Iterator[int]:
    """Round-robin over hosts, so a run of links to one slow host does not fill every worker."""
    iterators = [iter(q) for q in queues]
    while iterators:
        still = []
        for queue in iterators:
            item = next(queue, None)
            if item is not None:
                yield item
                still.append(queue)
        iterators = still


def check_links(
    links: Sequence[Link],
    settings: Settings,
    *,
    on_start: Callable[[Link], None] | None = None,
    on_result: Callable[[LinkResult], None] | None = None,
    **engine_kwargs: Any,
) -> list[LinkResult]:
    """Check ``links`` synchronously (runs its own event loop)."""

    async def main() -> list[LinkResult]:
        async with Engine(settings, **engine_kwargs) as engine:
            return await engine.check_all(links, on_start=on_start, on_result=on_result)

    with fewer_collections():
        return asyncio.run(main())


def _start_worker() -> None:
    """Set up a worker process of ``run_isolated`` (yt-dlp)."""
    # Ctrl-C reaches the whole process group: the parent handles it (exit 130, the reports
    # kept) and stops the workers; a traceback from each would bury its message.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # yt-dlp's extractors allocate as freely as the engine does: 15 % less CPU per video page
    # with the run's threshold (31 → 25 ms in one measurement).
    gc.set_threshold(*GC_THRESHOLD)
