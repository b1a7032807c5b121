"""How a ``check --jobs`` run is shared out: how many processes, which links each gets, and
what share of the run's global limits (``processes`` runs them).

Each host belongs to exactly one process, so its per-host limit, minimum interval and
Retry-After pauses hold as in one process; the global limits (``--concurrency``,
``--video-workers``) are shared out, not multiplied.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from pathlib import Path

from crawler.config import Settings, limits_for
from crawler.hosts import LinkKind
from crawler.links import requested_host
from crawler.model import Link

# ``--jobs auto`` gives each process at least this many links. Measured on 2 vCPUs shared with
# the benchmark's simulator: 2 processes gain nothing at 10,000 links (starting one, splitting,
# streaming results back cost what the second core gives) and 20 % at 100,000.
LINKS_PER_PROCESS = 10_000
MAX_AUTO_JOBS = 8  # each process holds its share of the links and its own network stack

# Where a container's CPU quota is (cgroup v2, then v1): a container limited to 2 CPUs on a
# 64-core host still sees 64 cores in its affinity mask.
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")


def usable_cores() -> int:
    """The cores this process may use: its affinity mask, bounded by a container's quota."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    quota = _cgroup_quota()
    if quota is not None:
        cores = min(cores, max(1, math.ceil(quota)))
    return max(1, cores)


def _cgroup_quota() -> float | None:
    """CPUs allowed by the cgroup's quota, or None when there is none (or none is readable)."""
    try:
        if CGROUP_CPU_MAX.exists():
            quota, period = CGROUP_CPU_MAX.read_text().split()[:2]
        else:
            quota = CGROUP_V1_QUOTA.read_text().strip()
            period = CGROUP_V1_PERIOD.read_text().strip()
        if quota in ("max", "-1"):
            return None
        return int(quota) / int(period)
    except (OSError, ValueError, ZeroDivisionError):
        return None


def auto_jobs(links: int) -> int:
    """How many processes ``--jobs auto`` uses for ``links`` links: one per usable core (at
    most ``MAX_AUTO_JOBS``), as long as each gets at least ``LINKS_PER_PROCESS`` links."""
    return max(1, min(usable_cores(), MAX_AUTO_JOBS, links // LINKS_PER_PROCESS))


# ``--video-workers auto``: measured at 100,000 links with 1 % videos (1,000 yt-dlp calls of
# ≈ 36 ms CPU and a 50 ms answer each): 2 workers 79.6 s, 4 69.0 s, 6 63.8 s. A worker waits
# for its answer more than it computes, so there may be more than cores; each costs ≈ 0.75 s
# of CPU to start and ≈ 60 MB, so a small catalogue keeps two.
VIDEOS_PER_WORKER = 150
AUTO_VIDEO_WORKERS = (2, 8)


def auto_video_workers(links: Sequence[Link], per_host: int) -> int:
    """How many yt-dlp processes ``--video-workers auto`` gives a run of ``links``: one per
    ``VIDEOS_PER_WORKER`` links that may need yt-dlp, within ``AUTO_VIDEO_WORKERS``, and no
    more than their sites take at once (``per_host`` each): YouTube alone keeps few busy."""
    traits = Traits()
    videos = [traits(link)[0] for link in links if traits.uses_yt_dlp(link)]
    low, high = AUTO_VIDEO_WORKERS
    wanted = max(low, min(high, len(videos) // VIDEOS_PER_WORKER))
    return max(1, min(wanted, len(set(videos)) * max(1, per_host))) if videos else low


def split_by_host(links: Sequence[Link], jobs: int, *, video_workers: int) -> list[list[int]]:
    """Indices of ``links`` for each of at most ``jobs`` processes, in catalogue order.

    Links go by the host their checks ask (``links.requested_host``: ``youtu.be`` and
    ``m.youtube.com`` links are asked at www.youtube.com), and the hosts one service talks to
    (its ``host_limits``: github.com and raw.githubusercontent.com are GitHub's) stay together,
    so no host is asked by two processes with a politeness budget each. The links that may need
    yt-dlp go to at most ``video_workers`` processes, so each can have a yt-dlp process of its
    own and the run still starts no more than asked (``worker_settings``). Hosts are handed out
    largest first to the process with the fewest links; empty groups are dropped.
    """
    traits = Traits()
    sites: dict[str, int] = {}  # links per site
    with_videos: set[str] = set()
    of_link: list[str] = []
    for link in links:
        site, videos = traits(link)
        of_link.append(site)
        sites[site] = sites.get(site, 0) + 1
        if videos:
            with_videos.add(site)
    loads = [0] * max(1, jobs)
    owners: dict[str, int] = {}
    video_processes = range(max(1, min(len(loads), video_workers)))
    # Video sites first (they have the fewer places), then the biggest; ties by name.
    for site in sorted(sites, key=lambda s: (s not in with_videos, -sites[s], s)):
        places = video_processes if site in with_videos else range(len(loads))
        k = owners[site] = min(places, key=lambda i: (loads[i], i))
        loads[k] += sites[site]
    groups: list[list[int]] = [[] for _ in loads]
    for index, site in enumerate(of_link):
        groups[owners[site]].append(index)
    return [g for g in groups if g]


class Traits:
    """What the split needs of a link: its site, and whether its check may run yt-dlp.

    The site is the host the link's checks ask (``links.requested_host``) without ``www.``,
    or the name of the service that declares limits for that host or a parent domain of it
    (``host_limits``): a service may ask any of its hosts for one link (a GitHub file's move
    is looked up at github.com when raw.githubusercontent.com says 404). Services choose
    links by kind and field, and the site depends on kind and host: each combination is
    worked out once (a 100,000-link split would otherwise spend half a second on it).
    """

    def __init__(self) -> None:
        from crawler.services.registry import default_services
        from crawler.services.youtube import YouTubeService

        self._services = default_services()
        self._yt_dlp = YouTubeService
        self._known: dict[tuple[LinkKind, str, str], tuple[str, bool]] = {}
        self._by_kind: dict[tuple[LinkKind, str], bool] = {}

    def __call__(self, link: Link) -> tuple[str, bool]:
        netloc = link.url.split("/", 3)[2] if "//" in link.url else link.url
        key = (link.kind, link.field, netloc)
        traits = self._known.get(key)
        if traits is None:
            traits = self._known[key] = (self._site(link), self.uses_yt_dlp(link))
        return traits

    def uses_yt_dlp(self, link: Link) -> bool:
        """Whether the link's service may run yt-dlp for it (decided by kind and field)."""
        key = (link.kind, link.field)
        uses = self._by_kind.get(key)
        if uses is None:
            uses = self._by_kind[key] = self._uses_yt_dlp(link)
        return uses

    def _site(self, link: Link) -> str:
        host = requested_host(link)
        for service in self._services:
            if limits_for(host, service.host_limits.items()) is not None:
                return f"service {service.name}"
        # example.org and www.example.org redirect to each other more often than not.
        return host.removeprefix("www.")

    def _uses_yt_dlp(self, link: Link) -> bool:
        service = next((s for s in self._services if s.handles(link)), None)
        return isinstance(service, self._yt_dlp)


def worker_settings(
    settings: Settings, links: Sequence[int], videos: Sequence[int]
) -> list[Settings]:
    """Each process's settings, given its number of ``links`` and of links that may need yt-dlp
    (``videos``): the machine's global limits shared out in proportion, not multiplied (the
    per-host ones stay: each host is in one process). A process with links gets at least one
    request slot, a process with videos at least one video worker, one without videos none."""
    concurrency = share_out(settings.concurrency, links)
    video_workers = share_out(settings.video_workers, videos)
    return [
        dataclasses.replace(settings, concurrency=c, video_workers=v)
        for c, v in zip(concurrency, video_workers, strict=True)
    ]


def share_out(total: int, weights: Sequence[int]) -> list[int]:
    """``total`` in whole shares in proportion to ``weights`` (largest remainders first), at
    least one to each positive weight and none to a zero one; the shares add up to ``total``
    unless there are more positive weights than that."""
    whole = sum(weights)
    if whole <= 0:
        return [0] * len(weights)
    shares = [total * w // whole for w in weights]
    takers = [i for i, w in enumerate(weights) if w > 0]
    by_remainder = sorted(takers, key=lambda i: (-(total * weights[i] % whole), i))
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    for i in takers:
        if shares[i] == 0:  # the one it needs, from the biggest share that can spare it
            richest = max(range(len(shares)), key=lambda j: (shares[j], -j))
            if shares[richest] > 1:
                shares[richest] -= 1
            shares[i] = 1
    return shares
