"""One link's time budget (``crawler.http.budget``): the link's own time is charged, waiting
for the run's own slots and spacing is not, and a link that gives up says how long it waited."""

from __future__ import annotations

import asyncio
import re

import httpx
from engine_fakes import engine, make_link, run_links

from crawler.config import Settings
from crawler.model import Link, LinkResult, Status
from crawler.services.base import CheckContext, Service


def test_waiting_for_a_turn_at_the_host_is_not_charged_to_the_links_budget():
    # Eight links to one host, one at a time, each answered in 0.3 s: the last waits 2.1 s
    # for its turn. The 1.5 s budget is for the link's own requests, not for that queue
    # (before, links 6 to 8 "gave up" behind their neighbours).
    async def slow_answer(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.3)
        return httpx.Response(200)

    links = [make_link(f"https://example.org/{i}") for i in range(8)]
    settings = Settings(per_host=1, link_timeout=1.5)
    results = run_links(links, settings, transport=httpx.MockTransport(slow_answer))
    assert [r.status for r in results] == [Status.OK] * 8, [r.detail for r in results]


def test_a_link_that_gives_up_says_how_long_it_waited_for_its_turn():
    async def main() -> LinkResult:
        async with engine(Settings(per_host=1, link_timeout=0.5), services=[Stuck()]) as e:
            async with e.host_slot("https://example.org/"):  # another link holds the host
                waiting = asyncio.create_task(e.check_link(make_link("https://example.org/x")))
                await asyncio.sleep(1.2)  # longer than the budget: not charged
            return await waiting

    class Stuck(Service):
        name = "stuck in a queue, then stuck"

        def handles(self, link: Link) -> bool:
            return True

        async def check(self, link: Link, ctx: CheckContext) -> LinkResult:
            async with ctx.host_slot(link.url):
                await asyncio.Event().wait()  # never set: only the budget ends this
            raise AssertionError("unreachable")

    result = asyncio.run(main())
    words = re.fullmatch(
        r"gave up after (\S+) s \((\S+) s of it waiting for its turn; "
        r"time allowed for one link: 0.5 s\)",
        result.detail,
    )
    assert words is not None, result.detail
    assert float(words[1]) >= 1.7 and float(words[2]) >= 1.2
