"""The work plan (``crawler.scheduler``): each (URL, field) checked once, hosts in turn,
each host's videos first, results in catalogue order."""

from __future__ import annotations

import asyncio

import respx
from engine_fakes import engine, make_link, run_links

from crawler.config import Settings
from crawler.model import LinkResult


@respx.mock
def test_identical_urls_are_fetched_once_and_results_keep_input_order():
    home = respx.get("https://example.org/~me").respond(200)
    deck = respx.get("https://a.example/deck.pdf").respond(404)
    links = [
        make_link("https://example.org/~me", "s1", "presenter"),
        make_link("https://a.example/deck.pdf", "s1", "slides"),
        make_link("https://example.org/~me", "s2", "presenter"),
        make_link("https://example.org/~me", "s3", "presenter"),
    ]
    results = run_links(links)
    assert home.call_count == 1 and deck.call_count == 1
    assert [r.link for r in results] == links
    assert [r.http_status for r in results] == [200, 404, 200, 200]


def test_work_goes_round_robin_over_hosts_so_one_slow_host_cannot_fill_every_worker():
    import array

    from crawler.scheduler import _interleave

    queues = [array.array("l", [0, 1, 2]), array.array("l", [3]), array.array("l", [4, 5])]
    assert list(_interleave(queues)) == [0, 3, 4, 1, 5, 2]


@respx.mock
def test_links_are_started_host_by_host_in_turn():
    respx.route().respond(200)
    started: list[str] = []
    links = [make_link(f"https://{h}.example/{i}") for h, i in ("a0", "a1", "a2", "b0")]

    async def main() -> None:
        async with engine(Settings(concurrency=1, per_host=1)) as e:
            await e.check_all(links, on_start=lambda lk: started.append(lk.url))

    asyncio.run(main())
    assert started == [
        "https://a.example/0",
        "https://b.example/0",  # b is not left waiting until a is done
        "https://a.example/1",
        "https://a.example/2",
    ]


@respx.mock
def test_each_host_starts_with_its_videos_and_results_keep_catalogue_order():
    """A video may need yt-dlp (worker processes to start, seconds of CPU): started first,
    it runs beside the plain checks instead of lengthening the end of the run."""
    respx.route().respond(200)
    started: list[str] = []
    links = [
        make_link("https://a.example/page"),
        make_link("https://a.example/talk", session="s2", field="video"),
        make_link("https://b.example/page"),
        make_link("https://a.example/other"),
        make_link("https://b.example/talk", session="s3", field="video"),
    ]

    async def main() -> list[LinkResult]:
        async with engine(Settings(concurrency=1, per_host=1)) as e:
            return await e.check_all(links, on_start=lambda lk: started.append(lk.url))

    results = asyncio.run(main())
    assert started == [
        "https://a.example/talk",
        "https://b.example/talk",
        "https://a.example/page",
        "https://b.example/page",
        "https://a.example/other",
    ]
    assert [r.link for r in results] == links
