"""check --jobs shared out: which process checks which links, and its share of the limits."""

from __future__ import annotations

import asyncio
import os

import pytest
from service_fakes import AskedHosts

from crawler import partition
from crawler.config import Settings
from crawler.links import make_link
from crawler.model import LinkKind
from crawler.partition import (
    LINKS_PER_PROCESS,
    auto_jobs,
    auto_video_workers,
    share_out,
    split_by_host,
    worker_settings,
)
from crawler.services.registry import default_services
from crawler.services.youtube.worker import Extraction

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
    monkeypatch.setattr(partition, "_cgroup_quota", lambda: None)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    assert auto_jobs(100) == 1  # a small catalogue: starting processes would cost more
    assert auto_jobs(3 * LINKS_PER_PROCESS) == 3
    assert auto_jobs(100 * LINKS_PER_PROCESS) == 4  # one per usable core
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)), raising=False)
    assert auto_jobs(100 * LINKS_PER_PROCESS) == partition.MAX_AUTO_JOBS


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
    monkeypatch.setattr(partition, "CGROUP_CPU_MAX", tmp_path / "cpu.max")
    monkeypatch.setattr(partition, "CGROUP_V1_QUOTA", tmp_path / "quota")
    monkeypatch.setattr(partition, "CGROUP_V1_PERIOD", tmp_path / "period")
    if v2 is not None:
        (tmp_path / "cpu.max").write_text(v2)
    if v1 is not None:
        (tmp_path / "quota").write_text(v1[0])
        (tmp_path / "period").write_text(v1[1])
    assert partition.usable_cores() == cores


def _videos(count: int, hosts: int, *, youtube: bool = False) -> list:
    def url(i: int) -> str:
        if youtube:
            return f"https://www.youtube.com/watch?v={i:011d}"
        return f"https://h{i % hosts}.example/video/{i}"

    return [make_link(f"s{i}", "S", "2021-01-01", "video", url(i)) for i in range(count)]


@pytest.mark.parametrize(
    ("videos", "hosts", "workers"),
    [(0, 1, 2), (100, 50, 2), (450, 50, 3), (1000, 50, 6), (5000, 50, 8), (1000, 1, 4)],
)
def test_video_workers_auto_grows_with_the_videos_within_what_their_hosts_take(
    videos, hosts, workers
):
    slides = [make_link("x", "S", "2021-01-01", "slides", "https://h.example/a.pdf")] * 3
    assert auto_video_workers([*slides, *_videos(videos, hosts)], per_host=4) == workers


def test_video_workers_auto_keeps_youtube_to_what_its_host_takes():
    # One site, however many videos: more workers would only wait for its slots.
    assert auto_video_workers(_videos(3000, 1, youtube=True), per_host=4) == 4
    assert auto_video_workers(_videos(3000, 1, youtube=True), per_host=1) == 1
