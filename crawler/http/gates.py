"""Per-host gates: how gently each host is asked.

Design (after lychee's ``ratelimit``):

- ``HostGate``: one host and port, shared by every request to it: its slots (requests in
  flight), the spacing between request starts, and the pause a server asked for.
- ``HostGates``: the run's gates, one made per host on its first request, with its limits:
  the user's (``--host-limit``, the most specific domain) as given; else the run's
  ``per_host`` and ``min_interval``, made stricter by what a service declares for its site
  (``Service.host_limits``).

A request takes its host's slot, then waits for the host's pause and spacing (its start is
booked before it sleeps), and only then one of the run's global slots (``fetch``): a paused
host holds none of them, so other hosts go on. A 429 or 503 with Retry-After pauses the whole
host (``HostGate.pause``), the retry included. Libraries that open their own connections
(yt-dlp) hold a slot the same way (``HostGates.slot``), at the front of the host's queue: the
call already holds one of the few yt-dlp workers, idle until the slot comes (``slots``).

Time: waiting for a slot or for the spacing is the run's own politeness and is not charged to
the link's budget; a server's pause is, and one that would end after the budget raises
``OutOfTime`` at once instead of being waited for in vain.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable, Sequence

import httpx

from crawler.config import HostLimits, Settings, limits_for
from crawler.http.budget import LinkClock, OutOfTime
from crawler.http.slots import Slots
from crawler.services.base import Service

HOST_PAUSE_STATUSES = frozenset({429, 503})  # their Retry-After pauses the whole host


class HostGate:
    """Per-host politeness: requests in flight, spacing between starts, a shared pause."""

    def __init__(self, host: str, per_host: int, min_interval: float) -> None:
        self.host = host
        self.slots = Slots(per_host)
        self.min_interval = min_interval
        self.next_start = 0.0  # monotonic time the next request may start (min_interval)
        self.not_before = 0.0  # monotonic time a Retry-After pause ends

    def pause(self, seconds: float) -> None:
        """Hold every request to the host for ``seconds`` (a 429 or 503's Retry-After)."""
        self.not_before = max(self.not_before, time.monotonic() + seconds)


def _host_key(url: httpx.URL) -> str:
    return f"{url.host}:{url.port or (443 if url.scheme == 'https' else 80)}"


class HostGates:
    """The run's gates by host; ``services`` gives the services whose limits apply."""

    def __init__(
        self, settings: Settings, services: Callable[[], Sequence[Service]], clock: LinkClock
    ) -> None:
        self.settings = settings
        self._services = services
        self._clock = clock
        self._gates: dict[str, HostGate] = {}

    def gate(self, url: httpx.URL) -> HostGate:
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
            gate = self._gates[key] = HostGate(url.host, per_host, interval)
        return gate

    def _declared_limits(self, host: str) -> HostLimits | None:
        """The limits a service declares for ``host`` or a parent domain of it."""
        table = (pair for s in self._services() for pair in s.host_limits.items())
        return limits_for(host, table)

    async def wait_turn(self, gate: HostGate) -> None:
        """Wait for the host's pause and spacing; the slot is reserved before sleeping.

        The pause a server asked for (Retry-After) is charged to the link's budget, and when
        it would end after that budget ``OutOfTime`` is raised at once rather than waited in
        vain; the spacing between requests (the run's own politeness) is not charged.
        """
        now = time.monotonic()
        if gate.not_before > now and gate.not_before > self._clock.deadline():
            budget = self.settings.link_timeout
            raise OutOfTime(
                f"{gate.host} asked to wait (Retry-After) longer than the {budget:g} s a link "
                "may take; not asked again"
            )
        start = max(now, gate.not_before, gate.next_start)
        gate.next_start = start + gate.min_interval
        paused = max(0.0, gate.not_before - now)
        await self._clock.pause(paused)
        if start - now > paused:
            with self._clock.uncharged():
                await self._clock.pause(start - now - paused)

    @contextlib.asynccontextmanager
    async def slot(self, url: str, *, first: bool = False) -> AsyncIterator[None]:
        """Hold one of ``url``'s host slots, after the host's pause and spacing (``first``: at
        the front of the host's queue, for a caller that holds a yt-dlp worker meanwhile)."""
        gate = self.gate(httpx.URL(url))
        async with self._clock.slot(gate.slots, first=first):
            await self.wait_turn(gate)
            yield
