"""The async engine: runs the services over the catalogue's links, politely and safely.

The engine is the front: it runs the links (``check_all``, each within its time budget,
``check_link``) and is what services call (``CheckContext``). Its parts do the work:
``crawler.http`` every request (``fetch``: redirects and bodies; ``retry``; ``gates``: per-host
limits; ``resolve``: names and the address guard; ``budget``: the link's time),
``crawler.scheduler`` the order of the links, ``crawler.workers`` the yt-dlp processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import math
import os
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

import httpx

import crawler
from crawler import safety
from crawler.config import Settings
from crawler.http.budget import Budget, LinkClock, OutOfTime, Sleep
from crawler.http.fetch import Fetcher, unusable
from crawler.http.gates import HostGates
from crawler.http.resolve import Names, Resolver
from crawler.http.slots import Slots
from crawler.memory import fewer_collections, shared_values
from crawler.model import Link, LinkResult, Status
from crawler.proxies import Proxies
from crawler.scheduler import plan
from crawler.services.base import FetchResult, Remembered, Service
from crawler.services.verdicts import unverified_from_fetch
from crawler.workers import WorkerPool, start_worker

log = logging.getLogger(__name__)

T = TypeVar("T")


def default_user_agent() -> str:
    return f"crawler/{crawler.__version__} (+{crawler.REPOSITORY_URL})"


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
        # Read the environment once, as httpx does when it builds its client.
        self._proxies = Proxies.from_environment()
        self._clock = LinkClock(sleep)
        self._gates = HostGates(settings, self._services_list, self._clock)
        self._names = Names(
            settings, resolver or safety.system_resolver, self.proxy_for, self._clock
        )
        self._http: Fetcher | None = None
        self._workers: WorkerPool | None = None
        self._isolated_slots: Slots | None = None

    # -- lifecycle -----------------------------------------------------------------------

    async def __aenter__(self) -> Engine:
        s = self.settings
        transport = self._transport
        uses_proxy = self._proxies.in_force
        if transport is None and not uses_proxy:
            from crawler.transport import ExactAiohttpTransport

            # Connections go only to addresses judged public (no DNS rebinding).
            transport = ExactAiohttpTransport(
                limit=max(1, s.concurrency) * 2, lookup=self._names.addresses_to_connect
            )
        # transport None here means a proxy is in force: httpx's own transport handles it
        # (and reads SSL_CERT_FILE) through trust_env.
        self._http = Fetcher(
            s,
            transport,
            proxied=uses_proxy,
            gates=self._gates,
            names=self._names,
            clock=self._clock,
        )
        # Its processes start on first use (a run without videos never pays for them).
        self._workers = WorkerPool(s.video_workers, initializer=start_worker)
        self._isolated_slots = Slots(s.video_workers)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
        if self._workers is not None:
            # Every result is in (or the run is being abandoned): stop the workers now rather
            # than wait for a yt-dlp call that nobody will read.
            self._workers.close()
            self._workers = None
        self._names.close()

    # -- CheckContext --------------------------------------------------------------------

    def previous(self, link: Link) -> Remembered | None:
        return self._previous.get((link.session_id, link.field, link.url))

    def proxy_for(self, url: str) -> str | None:
        return self._proxies.for_url(url)

    @property
    def ca_bundle(self) -> str | None:
        path = os.environ.get("SSL_CERT_FILE")
        return path if path and os.path.isfile(path) else None

    def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        follow_redirects: bool = True,
    ) -> Coroutine[Any, Any, FetchResult]:
        # The fetcher's coroutine itself, not one awaiting it: no extra object per request.
        if self._http is None:
            raise RuntimeError("the engine is not running (use 'async with Engine(...)')")
        return self._http.fetch(
            url,
            method=method,
            headers=headers,
            max_bytes=max_bytes,
            follow_redirects=follow_redirects,
        )

    def host_slot(self, url: str) -> contextlib.AbstractAsyncContextManager[None]:
        return self._gates.slot(url)

    async def guard(self, url: str) -> FetchResult | None:
        verdict = await self._names.guard(url)
        if verdict is None:
            return None
        kind, text = verdict
        return FetchResult(url=url, final_url=url, error=text, error_kind=kind, attempts=0)

    async def run_isolated(
        self, fn: Callable[..., T], *args: Any, slot_for: str | None = None
    ) -> T:
        if self._isolated_slots is None:
            raise RuntimeError("the engine is not running (use 'async with Engine(...)')")
        # A free worker first, the host's slot second: a call queued behind busy workers must
        # not sit on one of its host's slots meanwhile (at 1 % videos that starved hosts). It
        # then goes to the front of its host's queue: its worker idles until it has the slot.
        async with self._clock.slot(self._isolated_slots):
            if slot_for is None:
                return await self._in_worker_in_time(fn, args)
            async with self._gates.slot(slot_for, first=True):
                return await self._in_worker_in_time(fn, args)

    async def _in_worker_in_time(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """``fn(*args)`` in a worker within what is left of the current link's budget, less a
        margin: the caller's own ``TimeoutError`` then fires before the engine's "gave up" and
        can say what was unfinished. Waiting for the slots above is not charged
        (``LinkClock.uncharged``). A caller that gives up (its time budget ran out) cancels
        this: the pool then kills the call's process, so a runaway download stops with its
        link."""
        assert self._workers is not None
        left = self._clock.deadline() - time.monotonic()
        if left == math.inf:
            return await self._workers.run(fn, args)
        async with asyncio.timeout(max(0.0, left - min(1.0, self.settings.link_timeout / 10))):
            return await self._workers.run(fn, args)

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
        if self._http is None:
            raise RuntimeError("the engine is not running (use 'async with Engine(...)')")
        work, repeats = plan(links)
        for service in self._services_list():
            service.expect(links, self.settings)
        results: list[LinkResult | None] = [None] * len(links)

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
        links (``LinkClock.uncharged``): the run's own politeness must not make a link give up.
        """
        budget = self.settings.link_timeout
        try:
            why = unusable(link.url)
            if why is not None:
                refused = FetchResult(link.url, link.url, error=why, error_kind="refused")
                return unverified_from_fetch(link, refused)
            service = self._service_for(link)
            if service is None:
                return LinkResult(link, Status.SKIPPED, "not checked: no service handles it")
            started = time.monotonic()
            timer = asyncio.timeout(budget)
            spent = Budget(timer)
            token = self._clock.budget.set(spent)
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
                self._clock.budget.reset(token)
        except OutOfTime as exc:  # a wait outside ``fetch`` (``host_slot``) that could not end
            return LinkResult(link, Status.UNVERIFIED, str(exc), network_error=True)
        except Exception as exc:
            log.exception("internal error while checking %s", link.url)
            return LinkResult(
                link, Status.UNVERIFIED, f"internal error: {type(exc).__name__}: {exc}"
            )

    def _services_list(self) -> Sequence[Service]:
        if self._services is None:
            from crawler.services.registry import default_services

            self._services = default_services()
        return self._services

    def _service_for(self, link: Link) -> Service | None:
        return next((s for s in self._services_list() if s.handles(link)), None)


def _seconds(elapsed: float) -> str:
    """``elapsed`` for a reader: whole seconds, or two digits below ten."""
    return f"{elapsed:.0f}" if elapsed >= 10 else f"{elapsed:.2g}"


def _copy_for(result: LinkResult, link: Link) -> LinkResult:
    return dataclasses.replace(result, link=link, redirects=tuple(result.redirects))


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
