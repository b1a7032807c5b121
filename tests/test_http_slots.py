"""``Slots`` (``crawler/http/slots.py``): first come, first served, except a caller that asks
to go first; a released slot goes to the next in line, never to a newcomer; a waiter that
gives up leaves no slot behind."""

from __future__ import annotations

import asyncio

from crawler.http.slots import Slots


async def _order_served(slots: Slots, names: list[tuple[str, bool]]) -> list[str]:
    """Queue ``names`` (name, first) behind a held slot, then free it: who got it, in order."""
    served: list[str] = []

    async def take(name: str, first: bool) -> None:
        await slots.acquire(first=first)
        served.append(name)
        await asyncio.sleep(0)
        slots.release()

    await slots.acquire()  # held: everyone below must wait
    tasks = []
    for name, first in names:
        tasks.append(asyncio.create_task(take(name, first)))
        await asyncio.sleep(0)  # queued in this order
    slots.release()
    await asyncio.gather(*tasks)
    return served


def test_waiters_are_served_in_order_and_one_that_asks_goes_first():
    queue = [("a", False), ("b", False), ("video", True), ("c", False)]
    assert asyncio.run(_order_served(Slots(1), queue)) == ["video", "a", "b", "c"]


def test_a_released_slot_goes_to_the_waiter_not_to_a_newcomer():
    async def scenario() -> list[str]:
        slots = Slots(1)
        served: list[str] = []
        await slots.acquire()
        waiter = asyncio.create_task(slots.acquire())
        await asyncio.sleep(0)
        slots.release()  # handed to the waiter, which has not run yet
        assert slots.locked()  # so a newcomer must wait
        newcomer = asyncio.create_task(slots.acquire())
        await waiter
        served.append("waiter")
        slots.release()
        await newcomer
        served.append("newcomer")
        slots.release()
        assert not slots.locked()
        return served

    assert asyncio.run(scenario()) == ["waiter", "newcomer"]


def test_a_waiter_cancelled_leaves_no_slot_behind_even_if_handed_one_at_that_moment():
    async def scenario() -> None:
        slots = Slots(2)
        await slots.acquire()
        await slots.acquire()
        gone = asyncio.create_task(slots.acquire())
        handed = asyncio.create_task(slots.acquire())
        after = asyncio.create_task(slots.acquire())
        await asyncio.sleep(0)
        gone.cancel()  # gave up while waiting
        await asyncio.sleep(0)
        slots.release()  # goes to ``handed``...
        handed.cancel()  # ...which gives up in the same instant: the slot passes to ``after``
        await asyncio.sleep(0)
        await after
        assert gone.cancelled() and handed.cancelled()
        slots.release()
        slots.release()
        # Both slots free again, none lost, none extra.
        await slots.acquire()
        await slots.acquire()
        assert slots.locked()

    asyncio.run(scenario())


def test_the_size_is_at_least_one():
    assert Slots(0).size == 1 and not Slots(0).locked()
