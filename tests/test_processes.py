"""check --jobs: links split by host over spawned processes, results streamed back in order."""

from __future__ import annotations

import dataclasses
import datetime as dt
import multiprocessing
import os
import signal
import threading

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from crawler import processes
from crawler.config import Settings
from crawler.links import make_link
from crawler.model import Fix, FixKind, FixSource, Link, LinkResult, Source, Status
from crawler.partition import split_by_host
from crawler.processes import check_in_processes
from crawler.store.previous import Remembered

# Generous: on a loaded machine a local answer must not become a timeout (and a retry).
SETTINGS = Settings(allow_private=True, connect_timeout=60, read_timeout=60, link_timeout=120)
VIDEO = "dVH02_O2MzQ"


def catalogue(servers: list[HTTPServer]) -> list[Link]:
    links = []
    for n, server in enumerate(servers):
        for name in ["0", "1", "gone", "2", "3", "4", "5"]:
            url = server.url_for(f"/slides/{name}.pdf")
            links.append(make_link(f"s{n}-{name}", f"Talk {name}", "2021-01-01", "slides", url))
        # A homepage shared by two sessions' presenters: checked once, reported for each.
        home = server.url_for("/talk")
        links += [make_link(f"s{n}-{i}", "T", "2021-01-01", "presenter", home) for i in (0, 1)]
    return links


def test_results_come_back_in_catalogue_order_with_the_parent_s_links(two_hosts):
    links = catalogue(two_hosts)
    started: list[Link] = []
    finished: list[LinkResult] = []
    results = check_in_processes(
        links,
        SETTINGS,
        split_by_host(links, 2, video_workers=2),
        on_start=started.append,
        on_result=finished.append,
    )
    assert [r.link for r in results] == links
    assert all(r.link is lk for r, lk in zip(results, links, strict=True))  # not copies
    assert sorted(map(id, started)) == sorted(map(id, links))  # each started once
    assert sorted(map(id, finished)) == sorted(map(id, results))  # each reported once
    statuses = {r.link.url.rsplit("/", 1)[1]: r.status for r in results}
    assert statuses["gone.pdf"] is Status.BROKEN
    assert [r.status for r in results].count(Status.OK) == 16
    # Each host was asked by one process only, once per distinct link.
    assert [len(s.log) for s in two_hosts] == [8, 8]
    assert not multiprocessing.active_children()  # every worker was waited for


def test_the_metadata_cache_reaches_the_worker_processes(two_hosts):
    """A video page whose title and duration are fresh is probed, not read with yt-dlp: the
    result carries the remembered title, which only the parent knew."""
    page = make_link("v", "A talk", "2021-01-01", "video", two_hosts[0].url_for("/talk"))
    other = make_link("s", "A talk", "2021-01-01", "slides", two_hosts[1].url_for("/slides/0.pdf"))
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    previous = {
        ("v", "video", page.url): Remembered(
            Status.OK, title="A talk, remembered", duration=600, metadata_fetched_at=now
        )
    }
    links = [page, other]
    groups = split_by_host(links, 2, video_workers=2)
    assert len(groups) == 2
    video, slides = check_in_processes(links, SETTINGS, groups, previous=previous)
    assert video.status is Status.OK, video.detail
    assert (video.title, video.duration) == ("A talk, remembered", 600)
    assert "reused from a recent run" in video.detail
    assert slides.status is Status.OK


def test_a_worker_that_dies_fails_the_run_and_none_is_left_behind(two_hosts):
    """A worker killed while it still has work: the run fails, no worker is left behind.

    Each host holds one request until the run is over: once both are held, both workers have
    their work and neither can have sent "done", whatever the machine's speed. Then one dies.
    """
    release = threading.Event()
    held: list[Request] = []
    killed: list[int] = []
    lock = threading.Lock()

    def hold_and_kill(request: Request) -> Response:
        with lock:
            held.append(request)
            children = multiprocessing.active_children()
            if len(held) == len(two_hosts) and children:
                killed.append(children[0].pid)
                os.kill(children[0].pid, signal.SIGKILL)
        release.wait(60)  # (a bound, should the run never end)
        return Response("too late")

    for server in two_hosts:
        server.expect_request("/held").respond_with_handler(hold_and_kill)
    links = catalogue(two_hosts)
    links += [make_link(f"h{n}", "H", "2021-01-01", "presenter", s.url_for("/held"))
              for n, s in enumerate(two_hosts)]  # fmt: skip
    try:
        with pytest.raises(RuntimeError, match=r"process \d of 2 stopped without finishing"):
            check_in_processes(links, SETTINGS, split_by_host(links, 2, video_workers=2))
    finally:
        release.set()
    assert killed
    assert not multiprocessing.active_children()


def test_what_a_worker_has_reaches_the_parent_while_a_slow_link_is_still_out(two_hosts):
    """Results and starts are sent within a flush interval, not only with the next result:
    progress and problem lines do not wait for a slow host at the end of a worker's share."""
    fast = catalogue(two_hosts[:1])
    slow = make_link("slow", "S", "2021-01-01", "slides", two_hosts[1].url_for("/held"))
    links = [*fast, slow]
    shown: list[Link] = []
    all_but_the_slow_one = threading.Event()
    seen_while_held: list[bool] = []

    def show(link: Link) -> None:
        shown.append(link)
        if slow in shown and sum(lk is not slow for lk in shown) == 2 * len(fast):
            all_but_the_slow_one.set()  # each fast link started and finished, the slow started

    def hold(request: Request) -> Response:
        seen_while_held.append(all_but_the_slow_one.wait(60))
        return Response("late, but here")

    two_hosts[1].expect_request("/held").respond_with_handler(hold)
    patient = dataclasses.replace(SETTINGS, read_timeout=120, link_timeout=180)
    results = check_in_processes(
        links,
        patient,
        [list(range(len(links)))],
        on_start=show,
        on_result=lambda result: show(result.link),
    )
    assert seen_while_held and all(seen_while_held)
    assert results[-1].status is Status.OK


def test_an_interrupted_run_stops_every_worker(two_hosts):
    links = catalogue(two_hosts)

    def interrupt(result: LinkResult) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        check_in_processes(
            links, SETTINGS, split_by_host(links, 2, video_workers=2), on_result=interrupt
        )
    assert not multiprocessing.active_children()


def test_the_same_link_object_twice_gets_a_result_in_each_place(two_hosts):
    links = catalogue(two_hosts)[:3]
    links = [links[0], links[1], links[0], links[2], links[0]]
    results = check_in_processes(links, SETTINGS, [[0, 1, 2, 3, 4]])
    assert [r.link for r in results] == links
    assert len({id(r) for r in results}) == 5  # a result of its own in each place
    assert len(two_hosts[0].log) == 3  # the repeated link was fetched once


def test_a_result_crosses_back_whole_without_its_link():
    # Workers send each result's values without the link; the parent puts its own link back.
    link = make_link("s1", "S", "2021-01-01", "video", "https://v.example/1")
    result = LinkResult(
        link, Status.REDIRECTED, "moved", http_status=301, final_url="https://v.example/2",
        fix=Fix("https://v.example/2", FixKind.CERTAIN, FixSource.REDIRECT), title="T",
        duration=60, uploader="U",
        upload_date="20210101", size=10, note="n", network_error=True, first_failed="x",
        consecutive_failures=2, metadata_fetched_at="2021-01-01T00:00:00Z", reason="r",
        source=Source.API, run_note="the API was given up",
    )  # fmt: skip
    values = tuple(getattr(result, name) for name in processes._RESULT_FIELDS)
    assert "link" not in processes._RESULT_FIELDS and None not in values
    assert LinkResult(link, *values) == result


PARENT = """
import sys
from crawler.links import make_link
from crawler.partition import split_by_host
from crawler.processes import check_in_processes
from crawler.config import Settings

if __name__ == "__main__":
    urls = sys.argv[1:]
    links = [make_link(f"s{i}", "T", "2021-01-01", "slides", u) for i, u in enumerate(urls)]
    groups = split_by_host(links, 2, video_workers=2)
    results = check_in_processes(links, Settings(allow_private=True), groups)
    loaded = [m for m in ("httpx", "aiohttp", "tenacity", "crawler.engine") if m in sys.modules]
    print([r.status.value for r in results], loaded)
"""


def test_the_parent_of_the_workers_does_not_load_the_network_stack(two_hosts, tmp_path):
    # It keeps the catalogue, the history and every result: at 100,000 links httpx alone
    # would be ≈ 7 MB more of the run's peak (the target is < 150 MB).
    import subprocess
    import sys

    script = tmp_path / "parent.py"
    script.write_text(PARENT, encoding="utf-8")
    urls = [server.url_for("/talk") for server in two_hosts]
    out = subprocess.run(
        [sys.executable, str(script), *urls], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "['ok', 'ok'] []"
