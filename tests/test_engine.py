"""The engine as a front: the run over many links, each link's time budget, what services
are offered (previous results, proxies, CA bundle, worker processes), and failures of a
service kept to its link. Its parts have their own tests (test_http_*.py, test_scheduler.py,
test_workers.py); the shared fakes are in engine_fakes.py."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter

import httpx
import pytest
import respx
from engine_fakes import FAST, FetchService, Sleeps, engine, fake_resolver, make_link, run_links

from crawler.config import Settings
from crawler.engine import Engine, check_links
from crawler.model import Link, LinkResult, Status
from crawler.services.base import CheckContext, Service


def test_proxy_for_follows_the_environment(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost,.skip.example")
    e = Engine(FAST)
    assert e.proxy_for("https://example.org/") == "http://proxy.internal:3128"
    assert e.proxy_for("http://example.org/") is None  # only HTTPS_PROXY is set
    assert e.proxy_for("https://127.0.0.1:8080/") is None
    assert e.proxy_for("https://www.skip.example/") is None


def test_ca_bundle_is_ssl_cert_file_when_it_exists(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    assert Engine(FAST).ca_bundle == str(bundle)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    assert Engine(FAST).ca_bundle is None
    monkeypatch.delenv("SSL_CERT_FILE")
    assert Engine(FAST).ca_bundle is None


def test_on_start_and_on_result_are_called_for_every_link():
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    links = [make_link(f"https://example.org/{i}") for i in range(5)] + [
        make_link("https://example.org/0", "s2")
    ]
    started: list[Link] = []
    finished: list[LinkResult] = []
    results = check_links(
        links,
        FAST,
        on_start=started.append,
        on_result=finished.append,
        services=[FetchService()],
        transport=transport,
        resolver=fake_resolver,
        sleep=Sleeps(),
    )
    assert Counter(map(id, started)) == Counter(map(id, links))
    assert sorted(id(r) for r in finished) == sorted(id(r) for r in results)
    assert all(r.status is Status.OK for r in results)


class Exploding(Service):
    name = "exploding"

    def handles(self, link: Link) -> bool:
        return "boom" in link.url

    async def check(self, link: Link, ctx: CheckContext) -> LinkResult:
        raise ValueError("unexpected markup")


@respx.mock
def test_a_raising_service_gives_unverified_internal_error_and_the_run_goes_on(caplog):
    respx.get("https://example.org/fine").respond(200)
    links = [make_link("https://example.org/boom"), make_link("https://example.org/fine")]
    with caplog.at_level(logging.ERROR, logger="crawler.engine"):
        results = run_links(links, services=[Exploding(), FetchService()])
    assert results[0].status is Status.UNVERIFIED
    assert results[0].detail == "internal error: ValueError: unexpected markup"
    assert results[1].status is Status.OK
    assert "Traceback" in caplog.text or any(r.exc_info for r in caplog.records)


def test_a_link_nobody_handles_is_skipped():
    results = run_links([make_link("https://example.org/x")], services=[Exploding()])
    assert results[0].status is Status.SKIPPED


class Stuck(Service):
    name = "stuck"

    def handles(self, link: Link) -> bool:
        return True

    async def check(self, link: Link, ctx: CheckContext) -> LinkResult:
        await asyncio.Event().wait()  # never set: only the budget ends this
        raise AssertionError("unreachable")


def test_per_link_budget_gives_unverified():
    results = run_links(
        [make_link("https://example.org/x")], Settings(link_timeout=0.05), services=[Stuck()]
    )
    assert results[0].status is Status.UNVERIFIED
    # The time it really took (more than the budget on a busy machine), and the budget.
    took = re.fullmatch(
        r"gave up after (\S+) s \(time allowed for one link: 0.05 s\)", results[0].detail
    )
    assert took is not None and float(took[1]) >= 0.05, results[0].detail
    assert results[0].network_error


def test_previous_results_are_offered_by_session_field_and_url():
    link = make_link("https://example.org/v", "s7", "video")
    old = LinkResult(link, Status.OK, "fine", title="Old title")
    e = Engine(FAST, previous={("s7", "video", "https://example.org/v"): old})
    assert e.previous(link) is old
    assert e.previous(make_link("https://example.org/v", "s8", "video")) is None


def test_a_call_waiting_for_a_worker_does_not_sit_on_a_host_slot():
    import time

    events: list[str] = []
    url = "https://videos.example/v"

    async def main() -> None:
        async with engine(Settings(per_host=2, video_workers=1)) as e:

            async def isolated(name: str) -> None:
                await e.run_isolated(time.sleep, 1.0, slot_for=url)
                events.append(f"{name} done")

            first = asyncio.create_task(isolated("first"))
            second = asyncio.create_task(isolated("second"))  # queued: the one worker is busy
            await asyncio.sleep(0.05)
            async with e.host_slot(url):  # the host's other slot is free meanwhile
                events.append("fetch got a slot")
            await asyncio.gather(first, second)

    asyncio.run(main())
    assert events == ["fetch got a slot", "first done", "second done"]


def test_without_services_the_registry_is_used():
    from crawler.services.registry import default_services

    e = Engine(FAST)
    chosen = e._service_for(make_link("https://example.org/page"))
    assert type(chosen) is type(default_services()[-1])  # the generic service, asked last


LONG = "a" * 100_000


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://example.org/talk\x00.html", "a control character, U+0000 at position 24"),
        ("https://github.com/o/r/blob/main/a\x00.pdf", "a control character, U+0000"),
        ("https://www.youtube.com/watch?v=wzy1QMci_Zs\x00", "a control character, U+0000"),
        ("https://www.slideshare.net/slideshow/deck/1\x07", "a control character, U+0007"),
        (f"https://example.org/{LONG}", "it is 100,020 characters long, more than the 65,536"),
        (f"https://github.com/o/r/blob/main/{LONG}.pdf", "it is 100,037 characters long"),
        (f"https://{LONG}.org/", "characters long, more than the 65,536"),
        (f"https://{'a' * 300}.org/", "its host name, 304 characters, is too long"),
        (
            "https://ｇｉｔｈｕｂ.com/o/r/blob/main/x.pdf",
            "its host name ｇｉｔｈｕｂ.com is written in full-width or look-alike letters; "
            "in plain letters it is github.com",
        ),
        ("https://ｅｘａｍｐｌｅ．ｏｒｇ/", "in plain letters it is example.org"),
        ("https://xn--n3h.net/", "Codepoint U+2603"),  # punycode for a character IDNA forbids
        ("https://example.org/\ud800", "a character that is not valid Unicode"),
    ],
)
@respx.mock
def test_a_url_no_request_can_carry_is_skipped_in_plain_words_by_every_service(url, words):
    # Validation refuses these; the engine, as defence in depth, never hands one to a service
    # (where it ended as "internal error: InvalidURL" with a traceback).
    from crawler.links import make_link as catalogue_link

    anything = respx.route().respond(200)
    fields = ("slides", "video", "presenter")
    links = [catalogue_link("s1", "A talk", "2024-01-01", field, url) for field in fields]
    results = run_links(links, services=None)  # the real services
    for result in results:
        assert result.status is Status.SKIPPED, result.detail
        assert result.detail.startswith("not checked: not a valid URL ("), result.detail
        assert words in result.detail
    assert not anything.called


class Remembering(Service):
    """Answers from the previous run's result, without any request."""

    name = "remembering"

    def handles(self, link: Link) -> bool:
        return True

    async def check(self, link: Link, ctx: CheckContext) -> LinkResult:
        old = ctx.previous(link)
        return LinkResult(link, Status.OK, "cached", title=old.title if old else None)


class GcWatching(Service):
    """Notes the collector's settings while a link is checked."""

    name = "gc"

    def __init__(self) -> None:
        self.seen: list[tuple[tuple[int, int, int], int]] = []

    def handles(self, link: Link) -> bool:
        return True

    async def check(self, link: Link, ctx: CheckContext) -> LinkResult:
        import gc

        self.seen.append((gc.get_threshold(), gc.get_freeze_count()))
        return LinkResult(link, Status.OK, "seen")


def test_a_run_collects_garbage_rarely_and_puts_the_collector_back():
    import gc

    from crawler.memory import GC_THRESHOLD

    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    watching = GcWatching()
    check_links([make_link("https://example.org/a")], FAST, services=[watching])
    [(threshold, freeze_count)] = watching.seen
    assert threshold == GC_THRESHOLD != before
    assert freeze_count > frozen  # what was alive before the run is left out of collections
    assert gc.get_threshold() == before and gc.get_freeze_count() == frozen


def test_check_links_passes_previous_results_to_the_services():
    link = make_link("https://example.org/v", "s1", "video")
    previous = {("s1", "video", link.url): LinkResult(link, Status.OK, "x", title="Talk title")}
    results = check_links([link], FAST, services=[Remembering()], previous=previous)
    assert results[0].title == "Talk title"


def test_results_share_what_repeats_without_changing_a_value():
    from crawler.memory import shared_values

    links = [make_link(f"https://example.org/{n}", session=f"s{n}") for n in range(3)]
    results = [
        LinkResult(lk, Status.OK, "".join(["reachable ", "(HTTP 200)"]), redirects=[])
        for lk in links
    ]
    results[0].final_url = "".join(["https://example.org/", "0"])  # equal, not the same
    results[1].final_url = "https://example.org/moved"
    before = [(r.detail, r.final_url, list(r.redirects)) for r in results]
    results = [shared_values(r) for r in results]  # as the engine does with each result
    assert [(r.detail, r.final_url, list(r.redirects)) for r in results] == before
    assert results[0].detail is results[1].detail is results[2].detail
    assert results[0].final_url is links[0].url
    assert all(r.redirects == () for r in results)
