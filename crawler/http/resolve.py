"""Names to addresses, and the address guard (``crawler.safety``) on every one of them.

Each origin (scheme, host, port) is judged once per run before its first request: a scheme
other than http(s), a name that may only mean this machine, or a name resolving to a loopback,
private or reserved address is refused (unless ``--allow-private``). Only definitive verdicts
are kept: a lookup that failed or timed out is asked again for the host's next link.

A name's addresses are looked up once and shared by that judgement and the connections for
``DNS_TTL_S``, and judged again before every connection (``addresses_to_connect``, the
transport's lookup): neither a second DNS answer nor a renewed one can lead a connection to a
private address. Behind a proxy, the proxy resolves names; only literal addresses and local
names are judged here.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable

import httpx

from crawler import safety
from crawler.config import Settings
from crawler.http.budget import LinkClock
from crawler.http.retry import BACKOFF_INITIAL
from crawler.services.base import FetchErrorKind

Resolver = Callable[[str], Awaitable[list[str]]]
# How long a name's addresses are reused, as aiohttp's DNS cache did; every answer, new or
# reused, is judged again before a connection (``addresses_to_connect``).
DNS_TTL_S = 300.0


class Names:
    """The run's names: their lookups (shared, for ``DNS_TTL_S``) and the guard's verdicts.

    ``proxy_for`` tells which URLs go through a proxy (which then resolves their names)."""

    def __init__(
        self,
        settings: Settings,
        resolver: Resolver,
        proxy_for: Callable[[str], str | None],
        clock: LinkClock,
    ) -> None:
        self.settings = settings
        self._resolver = resolver
        self._proxy_for = proxy_for
        self._clock = clock
        self._dns: dict[str, tuple[float, asyncio.Task[list[str]]]] = {}  # (asked at, lookup)
        self._verdicts: dict[str, tuple[FetchErrorKind, str] | None] = {}

    def close(self) -> None:
        for _, task in self._dns.values():
            task.cancel()

    async def guard(self, url: str) -> tuple[FetchErrorKind, str] | None:
        """Why ``url`` must not be fetched (scheme, non-public address), or None."""
        refusal = safety.scheme_refusal(url)
        if refusal is not None:
            return "refused", refusal
        if self.settings.allow_private:
            return None
        # The verdict depends only on scheme (proxies), host and port: judge each once.
        key = safety.origin_of(url)
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
        if safety.is_literal_ip(host) or self._proxy_for(origin):
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
            await self._clock.pause(BACKOFF_INITIAL)
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

    async def addresses_to_connect(self, host: str) -> list[str]:
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
