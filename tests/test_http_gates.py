"""Per-host gates (``crawler.http.gates``): slots, spacing, Retry-After pauses of one host
only, the limits a service declares and the user's own, and libraries that hold a slot."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Mapping
from typing import ClassVar

import httpx
import pytest
import respx
from engine_fakes import FetchService, Sleeps, engine, fake_resolver, make_link, run_links

from crawler.config import HostLimits, Settings
from crawler.engine import Engine
from crawler.model import LinkResult, Status


@respx.mock
def test_per_host_limit_holds_while_other_hosts_run_alongside():
    in_flight: Counter[str] = Counter()
    peak_host: Counter[str] = Counter()
    peak_total = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal peak_total
        host = request.url.host
        in_flight[host] += 1
        peak_host[host] = max(peak_host[host], in_flight[host])
        peak_total = max(peak_total, sum(in_flight.values()))
        await asyncio.sleep(0.01)
        in_flight[host] -= 1
        return httpx.Response(200)

    respx.route().mock(side_effect=slow)
    hosts = ["example.org", "a.example", "b.example"]
    links = [make_link(f"https://{h}/{i}") for h in hosts for i in range(6)]
    settings = Settings(concurrency=6, per_host=2)
    results = run_links(links, settings)
    assert all(r.status is Status.OK for r in results)
    assert set(peak_host) == set(hosts)
    assert max(peak_host.values()) <= 2
    assert 2 < peak_total <= 6  # the global limit let several hosts run at once


@respx.mock
def test_retry_after_pauses_only_that_host():
    b_served = asyncio.Event()
    order: list[str] = []
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if seconds >= 1:  # a Retry-After pause: hold it until host B has been served
            await b_served.wait()

    a_answers = iter([httpx.Response(429, headers={"Retry-After": "9"})])

    def host_a(request: httpx.Request) -> httpx.Response:
        order.append(f"A{request.url.path}")
        return next(a_answers, httpx.Response(200))

    async def host_b(request: httpx.Request) -> httpx.Response:
        order.append("B")
        await asyncio.sleep(0)
        b_served.set()
        return httpx.Response(200)

    respx.route(host="a.example").mock(side_effect=host_a)
    respx.route(host="b.example").mock(side_effect=host_b)

    async def main() -> list[LinkResult]:
        async with engine(Settings(concurrency=4, per_host=1), sleep=sleep) as e:
            first = asyncio.create_task(e.check_link(make_link("https://a.example/1")))
            while not order:  # let host A answer 429 first
                await asyncio.sleep(0)
            rest = [make_link("https://a.example/2"), make_link("https://b.example/1")]
            # If host B were held by A's pause, nothing would set b_served: fail, not hang.
            async with asyncio.timeout(5):
                others = await e.check_all(rest)
                return [await first, *others]

    results = asyncio.run(main())
    assert all(r.status is Status.OK for r in results)
    assert order[0] == "A/1"
    assert order.index("B") < order.index("A/2")  # B went while A was paused
    assert len([s for s in sleeps if s >= 1]) == 2  # A's retry and A's next link both waited
    assert all(s == pytest.approx(9, abs=0.5) for s in sleeps if s >= 1)


@respx.mock
def test_min_interval_spaces_request_starts_to_one_host_only():
    respx.route().respond(200)
    sleeps = Sleeps()
    same_host = [make_link(f"https://example.org/{i}") for i in range(3)]
    other_hosts = [make_link("https://a.example/"), make_link("https://b.example/")]
    settings = Settings(min_interval=2.0, per_host=4)
    run_links(same_host + other_hosts, settings, sleep=sleeps)
    # Each later start on example.org is booked 2 s after the one before it.
    assert sorted(sleeps.calls) == [pytest.approx(2, abs=0.5), pytest.approx(4, abs=0.5)]


def test_host_slot_holds_the_per_host_limit_for_libraries_with_their_own_connections():
    """yt-dlp runs inside host_slot: with per_host=1 two holders on one host never overlap."""
    inside: dict[str, int] = {}
    most: dict[str, int] = {}

    async def hold(e: Engine, url: str) -> None:
        host = httpx.URL(url).host
        async with e.host_slot(url):
            inside[host] = inside.get(host, 0) + 1
            most[host] = max(most.get(host, 0), inside[host])
            await asyncio.sleep(0.01)
            inside[host] -= 1

    async def main() -> None:
        async with engine(Settings(per_host=1)) as e:
            urls = ["https://a.example/1", "https://a.example/2", "https://b.example/1"] * 2
            await asyncio.gather(*(hold(e, u) for u in urls))

    asyncio.run(main())
    assert most == {"a.example": 1, "b.example": 1}


class Gentle(FetchService):
    """A service that asks for one request at a time, 3 s apart, on gentle.example."""

    host_limits: ClassVar[Mapping[str, HostLimits]] = {
        "gentle.example": HostLimits(per_host=1, min_interval=3.0)
    }


@respx.mock
def test_a_service_declares_gentler_limits_for_its_hosts_and_subdomains():
    respx.route().respond(200)
    sleeps = Sleeps()
    gentle = [make_link(f"https://www.gentle.example/{i}") for i in range(3)]
    others = [make_link(f"https://example.org/{i}") for i in range(3)]
    run_links(
        gentle + others, Settings(min_interval=0.0, per_host=4), sleep=sleeps, services=[Gentle()]
    )
    # Only the gentle host's later starts were spaced, 3 s apart; example.org was not held.
    assert sorted(sleeps.calls) == [pytest.approx(3, abs=0.5), pytest.approx(6, abs=0.5)]


@respx.mock
def test_the_users_host_limits_replace_the_built_in_ones_both_ways():
    """--host-limit: looser than a service's limits on its site, stricter than the run's
    elsewhere; the most specific domain wins, subdomains included."""
    in_flight: Counter[str] = Counter()
    peak: Counter[str] = Counter()

    async def counted(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        in_flight[host] += 1
        peak[host] = max(peak[host], in_flight[host])
        await asyncio.sleep(0.01)
        in_flight[host] -= 1
        return httpx.Response(200)

    respx.route().mock(side_effect=counted)
    sleeps = Sleeps()
    gentle = [make_link(f"https://www.gentle.example/{i}") for i in range(3)]
    others = [make_link(f"https://example.org/{i}") for i in range(3)]
    mine = (
        ("example.org", HostLimits(per_host=1, min_interval=2.0)),
        ("gentle.example", HostLimits(per_host=1, min_interval=9.0)),
        ("www.gentle.example", HostLimits(per_host=3, min_interval=0.0)),  # more specific
    )
    settings = Settings(per_host=4, min_interval=0.0, host_limits=mine)
    results = run_links(gentle + others, settings, sleep=sleeps, services=[Gentle()])
    assert all(r.status is Status.OK for r in results)
    # The gentle host was not held (its service asks for 1 at a time, 3 s apart), example.org
    # was: one at a time, starts 2 s apart.
    assert peak == {"www.gentle.example": 3, "example.org": 1}
    assert sorted(sleeps.calls) == [pytest.approx(2, abs=0.5), pytest.approx(4, abs=0.5)]


def test_the_real_services_declare_limits_for_youtube_github_and_slideshare():
    from crawler.services.registry import default_services

    async def limits(host: str) -> tuple[int, float]:
        async with Engine(Settings(per_host=4), resolver=fake_resolver) as e:
            gate = e._gates.gate(httpx.URL(f"https://{host}/"))
            return gate.slots.size, gate.min_interval

    assert default_services()  # the registry is what the engine uses by default
    assert asyncio.run(limits("www.youtube.com")) == (2, 1.0)
    assert asyncio.run(limits("raw.githubusercontent.com")) == (4, 0.25)
    assert asyncio.run(limits("www.slideshare.net")) == (2, 1.0)
    assert asyncio.run(limits("b.mytears.org")) == (4, 0.0)
