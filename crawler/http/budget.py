"""One link's time budget as the HTTP parts see it: when it runs out, and which waits are
not charged to it.

``Engine.check_link`` gives each link ``settings.link_timeout`` and sets it in
``LinkClock.budget`` for the task checking the link. The link's own time (requests, reads,
retries, a server's Retry-After) is charged; waiting for the run's own slots or spacing is not
(``LinkClock.uncharged``): the run's politeness must not make a link give up.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

from crawler.http.slots import Slots

Sleep = Callable[[float], Awaitable[None]]


class OutOfTime(Exception):
    """A wait the engine will not start: it would end after the link's time budget."""


@dataclasses.dataclass
class Budget:
    """One link's time budget: its timer, and how long the link waited for its turn."""

    timer: asyncio.Timeout
    queued: float = 0.0


class LinkClock:
    """The current link's budget (per task), and the waits (``sleep``: a test's recorder)."""

    def __init__(self, sleep: Sleep | None = None) -> None:
        self._sleep = sleep or asyncio.sleep
        # The time budget of the link this task is checking (``check_link``), if any.
        self.budget: contextvars.ContextVar[Budget | None] = contextvars.ContextVar(
            "budget", default=None
        )

    def deadline(self) -> float:
        """When the current link's budget runs out (monotonic), or infinity."""
        spent = self.budget.get()
        when = spent.timer.when() if spent is not None else None
        return math.inf if when is None else when

    @contextlib.contextmanager
    def uncharged(self) -> Iterator[None]:
        """The block's time (a wait for the run's own slots or spacing) is not charged to the
        current link's budget: its timer stops meanwhile."""
        spent = self.budget.get()
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

    async def acquire(self, slots: Slots, *, first: bool = False) -> None:
        """Take one of ``slots`` (``first``: at the front of the queue); waiting for it is not
        charged to the link's budget."""
        if slots.locked():
            with self.uncharged():
                await slots.acquire(first=first)
        else:
            await slots.acquire()

    @contextlib.asynccontextmanager
    async def slot(self, slots: Slots, *, first: bool = False) -> AsyncIterator[None]:
        """Hold one of ``slots`` (``acquire``)."""
        await self.acquire(slots, first=first)
        try:
            yield
        finally:
            slots.release()

    async def pause(self, seconds: float) -> None:
        if seconds > 0:
            await self._sleep(seconds)
