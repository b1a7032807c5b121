"""check --jobs: links split by host over spawned processes, results streamed back in order."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import multiprocessing
import os
import signal
import threading

import pytest
from pytest_httpserver import HTTPServer
from service_fakes import AskedHosts
from werkzeug import Request, Response

from crawler import processes
from crawler.config import Settings
from crawler.history import Remembered
from crawler.links import make_link
from crawler.model import Link, LinkKind, LinkResult, Status
from crawler.processes import (
    LINKS_PER_PROCESS,
    auto_jobs,
    check_in_processes,
    share_out,
    split_by_host,
    worker_settings,
)
from crawler.services.registry import default_services
from crawler.services.youtube.worker import Extraction

# Generous: on a loaded machine a local answer must not become a timeout (and a retry).
SETTINGS = Settings(allow_private=True, connect_timeout=60, read_timeout=60, link_timeout=120)
VIDEO = "dVH02_O2MzQ"


def test_each_host_goes_to_exactly_one_process_and_the_loads_are_even():
    links = [
        make_link(
            f"s{i}", "S", "2021-01-01", "slides", f"https://h{i % 7}.example:{80 + i % 2}/{i}"
        )
        for i in range(70)
    ]
    groups = split_by_host(links, 3, video_workers=2)
    assert sorted(i for g in groups for i in g) == list(range(70))  # all, once
    for group in groups:
        assert group == sorted(group)  # catalogue order within a process
    hosts = [{links[i].url.split("/")[2].split(":")[0] for i in g} for g in groups]
    assert sum(len(h) for h in hosts) == 7  # no host in two processes, ports or not
    assert sorted(map(len, groups)) == [20, 20, 30]  # 7 hosts of 10 links: as even as can be
    # Fewer hosts than processes: no empty process is started.
    assert len(split_by_host(links[:1], 3, video_workers=2)) == 1


# Every spelling of a YouTube video is asked at www.youtube.com, every GitHub file at
# raw.githubusercontent.com; GitHub's other hosts are its service's too.
YOUTUBE = [
    ("video", f"https://youtu.be/{VIDEO}"),
    ("video", f"https://m.youtube.com/watch?v={VIDEO}"),
    ("video", f"https://www.youtube.com/watch?v={VIDEO}"),
    ("video", f"https://www.youtube-nocookie.com/embed/{VIDEO}"),
    ("presenter", "https://m.youtube.com/@someone"),  # yt-dlp asks www.youtube.com for it
]
GITHUB = [
    ("slides", "https://github.com/o/r/blob/main/a.pdf"),
    ("slides", "https://github.com/o/r/raw/main/b.pdf"),
    ("slides", "https://raw.githubusercontent.com/o/r/main/c.pdf"),
    ("presenter", "https://github.com/someone"),
]


def test_links_go_to_the_process_of_the_host_their_checks_ask():
    others = [("slides", f"https://h{i}.example/{i}.pdf") for i in range(40)]
    entries = YOUTUBE + GITHUB + others
    links = [make_link(f"s{i}", "S", "2021-01-01", f, u) for i, (f, u) in enumerate(entries)]
    groups = split_by_host(links, 8, video_workers=8)
    assert len(groups) == 8
    owner = {i: k for k, group in enumerate(groups) for i in group}
    youtube = range(len(YOUTUBE))
    github = range(len(YOUTUBE), len(YOUTUBE) + len(GITHUB))
    assert len({owner[i] for i in youtube}) == 1
    assert len({owner[i] for i in github}) == 1
    # A homepage with and without www. (one redirects to the other): one process too.
    for n in range(8):
        pair = [make_link("p", "P", "2021-01-01", "presenter", f"https://{w}p{n}.example/")
                for w in ("", "www.")]  # fmt: skip
        groups = split_by_host([*pair, *links], 8, video_workers=8)
        assert [g for g in groups if 0 in g] == [g for g in groups if 1 in g]


@pytest.mark.parametrize(
    "extraction",
    [
        Extraction(info={"title": "A talk", "duration": 60}),
        # The bot wall: the oEmbed endpoint is asked next.
        Extraction(error="ERROR: [youtube] x: Sign in to confirm you’re not a bot."),
    ],
    ids=["found", "bot-wall"],
)
@pytest.mark.parametrize("status", [200, 404])
def test_every_host_a_check_asks_belongs_to_the_process_of_its_link(extraction, status):
    """Whatever a service asks on the way (oEmbed after a bot wall, GitHub after a raw 404),
    a link to that host is checked in the same process: no host has two budgets."""
    entries = YOUTUBE + GITHUB + [("video", "https://talks.example.org/v/1")]
    for field, url in entries:
        link = make_link("s0", "S", "2021-01-01", field, url)
        ctx = AskedHosts({}, status=status, extraction=extraction)
        service = next(s for s in default_services() if s.handles(link))
        asyncio.run(service.check(link, ctx))
        asked = [
            make_link("s1", "S", "2021-01-01", "presenter", f"https://{h}/") for h in ctx.hosts
        ]
        others = [
            make_link("s2", "S", "2021-01-01", "slides", f"https://h{i}.example/")
            for i in range(40)
        ]
        groups = split_by_host([link, *asked, *others], 8, video_workers=8)
        (mine,) = [g for g in groups if 0 in g]
        assert set(range(len(asked) + 1)) <= set(mine), (url, ctx.hosts)


@pytest.mark.parametrize(("jobs", "workers"), [(4, 2), (4, 1), (3, 5), (8, 3)])
def test_the_video_workers_of_all_processes_add_up_to_video_workers(jobs, workers):
    # Videos on YouTube and on many other hosts, more hosts than processes.
    entries = [*YOUTUBE, *GITHUB]
    for i in range(30):
        entries += [
            ("video", f"https://h{i}.example/talk"),
            ("slides", f"https://h{i}.example/a.pdf"),
        ]
        entries += [("slides", f"https://s{i}.example/a.pdf")]
    links = [make_link(f"s{i}", "S", "2021-01-01", f, u) for i, (f, u) in enumerate(entries)]
    settings = Settings(concurrency=16, video_workers=workers)
    groups = split_by_host(links, jobs, video_workers=workers)
    assert len(groups) == jobs
    videos = [
        sum(lk.field == "video" or lk.kind is LinkKind.YOUTUBE for lk in (links[i] for i in g))
        for g in groups
    ]
    own = worker_settings(settings, [len(g) for g in groups], videos)
    assert sum(s.video_workers for s in own) == workers  # not one per process
    for count, s in zip(videos, own, strict=True):
        assert (s.video_workers >= 1) == (count > 0)  # a process with videos has a worker
    assert sum(s.concurrency for s in own) == 16


def test_the_machine_s_limits_are_shared_out_in_proportion(monkeypatch):
    settings = Settings(concurrency=200, per_host=4, video_workers=2)
    two = worker_settings(settings, [50, 50], [3, 0])
    assert [(s.concurrency, s.per_host, s.video_workers) for s in two] == [(100, 4, 2), (100, 4, 0)]
    three = worker_settings(settings, [10, 10, 10], [1, 1, 0])
    assert [(s.concurrency, s.video_workers) for s in three] == [(67, 1), (67, 1), (66, 0)]
    assert share_out(10, [1, 8, 1]) == [1, 8, 1]
    assert share_out(3, [1, 1000, 0, 1]) == [1, 1, 0, 1]  # at least one each, none for nothing
    assert share_out(2, [5, 5, 5]) == [1, 1, 1]  # more takers than the total: one each


def test_auto_uses_the_cores(monkeypatch):
    monkeypatch.setattr(processes, "_cgroup_quota", lambda: None)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert auto_jobs(100) == 1  # a small catalogue: starting processes would cost more
    assert auto_jobs(3 * LINKS_PER_PROCESS) == 3
    assert auto_jobs(100 * LINKS_PER_PROCESS) == 4  # one per usable core
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert auto_jobs(100 * LINKS_PER_PROCESS) == processes.MAX_AUTO_JOBS


@pytest.mark.parametrize(
    ("v2", "v1", "cores"),
    [
        ("200000 100000\n", None, 2),  # cgroup v2: 2 CPUs
        ("150000 100000\n", None, 2),  # 1.5 CPUs: a second process still helps
        ("max 100000\n", None, 64),  # no quota
        (None, ("300000", "100000"), 3),  # cgroup v1
        (None, ("-1", "100000"), 64),
        ("garbage\n", None, 64),  # unreadable: the affinity mask stands
    ],
)
def test_a_container_s_cpu_quota_bounds_the_cores(monkeypatch, tmp_path, v2, v1, cores):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    monkeypatch.setattr(processes, "CGROUP_CPU_MAX", tmp_path / "cpu.max")
    monkeypatch.setattr(processes, "CGROUP_V1_QUOTA", tmp_path / "quota")
    monkeypatch.setattr(processes, "CGROUP_V1_PERIOD", tmp_path / "period")
    if v2 is not None:
        (tmp_path / "cpu.max").write_text(v2)
    if v1 is not None:
        (tmp_path / "quota").write_text(v1[0])
        (tmp_path / "period").write_text(v1[1])
    assert processes.usable_cores() == cores


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
        fix="use https://v.example/2", title="T", duration=60, uploader="U",
        upload_date="20210101", size=10, note="n", network_error=True, first_failed="x",
        consecutive_failures=2, metadata_fetched_at="2021-01-01T00:00:00Z", reason="r",
    )  # fmt: skip
    values = tuple(getattr(result, name) for name in processes._RESULT_FIELDS)
    assert "link" not in processes._RESULT_FIELDS and None not in values
    assert LinkResult(link, *values) == result


PARENT = """
import sys
from crawler.links import make_link
from crawler.processes import check_in_processes, split_by_host
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
