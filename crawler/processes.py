"""Checking in several processes (``check --jobs``): each owns its hosts, results stream back.

One process checks about 2,000 links a second here and is then CPU-bound (httpx, aiohttp and
the checks cost ≈ 0.5 ms per link; see ``benchmarks/README.md``), so a large catalogue on a
machine with spare cores is split by host over worker processes. Each host belongs to exactly
one of them, so its per-host limit, minimum interval and Retry-After pauses hold exactly as in
one process. The parent keeps the catalogue, the history and the report: a worker gets its
links and what the metadata cache knows of them, and sends back its results as they come, so
progress, problem lines and the report are the same as a run in one process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path

from crawler.config import Settings, limits_for
from crawler.links import requested_host
from crawler.model import Link, LinkKind, LinkResult
from crawler.services.base import Remembered

log = logging.getLogger(__name__)

# ``--jobs auto`` gives each process at least this many links. Measured on 2 vCPUs shared with
# the benchmark's simulator: 2 processes gain nothing at 10,000 links (starting one, splitting,
# streaming results back cost what the second core gives) and 20 % at 100,000.
LINKS_PER_PROCESS = 10_000
_BATCH = 64  # results per message; what there is is also sent every _FLUSH_S
_FLUSH_S = 0.2
_INTERRUPTED = 130  # a worker's exit code after Ctrl-C
_GRACE_S = 5.0  # for a worker to stop after SIGINT
# A result crosses back as the values of its fields after ``link`` (the first), in order: the
# parent has the link already (pickling 100,000 links back and forth cost both sides CPU).
_RESULT_FIELDS = tuple(f.name for f in dataclasses.fields(LinkResult))[1:]


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
    traits = _Traits()
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


class _Traits:
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

    def __call__(self, link: Link) -> tuple[str, bool]:
        netloc = link.url.split("/", 3)[2] if "//" in link.url else link.url
        key = (link.kind, link.field, netloc)
        traits = self._known.get(key)
        if traits is None:
            traits = self._known[key] = (self._site(link), self._uses_yt_dlp(link))
        return traits

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


def check_in_processes(
    links: Sequence[Link],
    settings: Settings,
    groups: Sequence[Sequence[int]],
    *,
    previous: Mapping[tuple[str, str, str], Remembered] | None = None,
    on_start: Callable[[Link], None] | None = None,
    on_result: Callable[[LinkResult], None] | None = None,
) -> list[LinkResult]:
    """``engine.check_links`` in one worker process per group of indices of ``links`` (from
    ``split_by_host``); results in the order of ``links``.

    Raises ``RuntimeError`` when a worker fails, and ``KeyboardInterrupt`` after stopping
    every worker when the run is interrupted.
    """
    from crawler.memory import fewer_collections

    with fewer_collections():  # the parent builds 100,000 results from the workers' messages
        return _check_in_processes(links, settings, groups, previous, on_start, on_result)


def _check_in_processes(
    links: Sequence[Link],
    settings: Settings,
    groups: Sequence[Sequence[int]],
    previous: Mapping[tuple[str, str, str], Remembered] | None,
    on_start: Callable[[Link], None] | None,
    on_result: Callable[[LinkResult], None] | None,
) -> list[LinkResult]:
    from crawler.memory import shared_values

    share = len(groups)
    traits = _Traits()
    own = worker_settings(
        settings,
        [len(g) for g in groups],
        [sum(traits(links[i])[1] for i in g) for g in groups],
    )
    remembered = previous or {}
    # Spawned, not forked: a fork of a process with threads (rich's progress bar) or an
    # event loop is unsafe, and spawn behaves the same on every platform.
    context = multiprocessing.get_context("spawn")
    workers: dict[Connection, tuple[int, multiprocessing.process.BaseProcess]] = {}
    results: list[LinkResult | None] = [None] * len(links)
    try:
        # Every process is started before any gets its work: their interpreters boot side by
        # side, instead of each waiting for the previous one to read its share from the pipe.
        for k in range(len(groups)):
            conn, child_end = context.Pipe()
            process = context.Process(target=_work, args=(child_end,), name=f"crawler-job-{k + 1}")
            process.start()
            child_end.close()  # the worker's end: EOF here once the worker is gone
            workers[conn] = (k, process)
        for conn, (k, process) in workers.items():
            mine = [links[i] for i in groups[k]]
            known = {}
            for link in mine:
                key = (link.session_id, link.field, link.url)
                if key in remembered:
                    known[key] = remembered[key]
            try:
                conn.send((mine, own[k], known))
            except OSError:  # it died before reading its work
                process.join()
                raise RuntimeError(
                    f"process {k + 1} of {share} stopped before it started "
                    f"(exit {process.exitcode})"
                ) from None
        while workers:
            for conn in wait(list(workers)):
                k, process = workers[conn]
                group = groups[k]
                try:
                    kind, payload = conn.recv()
                except EOFError:
                    process.join()
                    if process.exitcode == _INTERRUPTED:  # Ctrl-C reached it before us
                        raise KeyboardInterrupt from None
                    raise RuntimeError(
                        f"process {k + 1} of {share} stopped without finishing "
                        f"(exit {process.exitcode})"
                    ) from None
                if kind == "error":  # a bug: the CLI's crash exit, with this traceback under -v
                    last = payload.strip().splitlines()[-1]
                    raise RuntimeError(
                        f"process {k + 1} of {share} failed: {last}"
                    ) from WorkerTraceback(payload)
                if kind == "done":
                    del workers[conn]
                    conn.close()
                    process.join()
                    continue
                started, done = payload
                if on_start is not None:
                    for i in started:
                        on_start(links[group[i]])
                for i, values in done:
                    index = group[i]
                    # The parent's own Link (one copy in memory), and its shared strings.
                    result = shared_values(LinkResult(links[index], *values))
                    results[index] = result
                    if on_result is not None:
                        on_result(result)
    finally:
        _stop([process for _, process in workers.values()])
    missing = [links[i].url for i, r in enumerate(results) if r is None]
    if missing:  # every worker said it was done, so this would be a bug here
        raise RuntimeError(f"no result for {missing[:3]}")
    return [r for r in results if r is not None]


class WorkerTraceback(Exception):
    """A worker's traceback, as the cause of the parent's error (printed before it)."""

    def __str__(self) -> str:
        return "\n" + str(self.args[0]).rstrip()


def _stop(processes: list[multiprocessing.process.BaseProcess]) -> None:
    """Stop workers still running as Ctrl-C would (each closes its connections and its own
    yt-dlp processes), and for good if one has not after a few seconds."""
    for process in processes:
        if process.is_alive() and process.pid is not None:
            # SIGTERM, which ``_work`` takes as Ctrl-C: a worker still starting up (before
            # ``_work``) then just ends, where a SIGINT would print a KeyboardInterrupt traceback.
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + _GRACE_S
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


def _work(conn: Connection) -> None:
    """A worker: receive (links, settings, previous), check the links and send
    ("batch", (started, done)) messages as results come, then ("done", None)."""
    signal.signal(signal.SIGTERM, _stop_as_ctrl_c)
    try:
        try:
            links, settings, previous = conn.recv()
        except EOFError:  # the parent is gone already
            return
        _check_and_send(links, settings, previous, conn)
        conn.send(("done", None))
    except KeyboardInterrupt:
        # Ctrl-C reaches the whole process group: the parent stops the run and says so.
        _ignore_stops()
        conn.close()
        sys.exit(_INTERRUPTED)
    except BaseException:
        _ignore_stops()  # the parent's stop must not cut this short
        with contextlib.suppress(OSError):  # the parent may be gone already
            conn.send(("error", traceback.format_exc()))
    finally:
        conn.close()


def _ignore_stops() -> None:
    for stop in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop, signal.SIG_IGN)


def _stop_as_ctrl_c(signum: int, frame: types.FrameType | None) -> None:
    """The parent's stop (SIGTERM, ``_stop``) taken as Ctrl-C: the same clean-up."""
    handler = signal.getsignal(signal.SIGINT)
    if callable(handler):  # asyncio's own while the run goes on, else Python's default
        handler(signal.SIGINT, frame)
    else:  # SIGINT ignored (started in the background): the stop must still stop it
        raise KeyboardInterrupt


def _check_and_send(
    links: list[Link],
    settings: Settings,
    previous: dict[tuple[str, str, str], Remembered],
    conn: Connection,
) -> None:
    from crawler.engine import check_links

    started: list[int] = []
    done: list[tuple[int, tuple[object, ...]]] = []
    # Where each link stands in ``links``, by identity (the engine hands the very objects
    # back): an int, or the list of places should one object stand more than once (an int
    # each, not a container each: at 50,000 links a deque each was 60 MB).
    places: dict[int, int | list[int]] = {}
    for i, link in enumerate(links):
        there = places.get(id(link))
        if there is None:
            places[id(link)] = i
        elif isinstance(there, list):
            there.append(i)
        else:
            places[id(link)] = [there, i]
    start_counts: dict[int, int] = {}
    end_counts: dict[int, int] = {}
    lock = threading.Lock()  # the event loop adds, the flusher thread sends
    finished = threading.Event()

    def place(link: Link, counts: dict[int, int]) -> int:
        there = places[id(link)]
        if isinstance(there, int):
            return there
        seen = counts.get(id(link), 0)
        counts[id(link)] = seen + 1
        return there[seen]

    def flush() -> None:  # with the lock held
        if started or done:
            conn.send(("batch", (started[:], done[:])))
            started.clear()
            done.clear()

    def on_start(link: Link) -> None:
        with lock:
            started.append(place(link, start_counts))

    def on_result(result: LinkResult) -> None:
        values = tuple(getattr(result, name) for name in _RESULT_FIELDS)
        with lock:
            done.append((place(result.link, end_counts), values))
            if len(done) >= _BATCH:
                flush()

    def flush_every_interval() -> None:
        # Not only when the next result comes: that may be a slow host's, a minute later.
        with contextlib.suppress(OSError):  # the parent is gone (the main thread says so)
            while not finished.wait(_FLUSH_S):
                with lock:
                    flush()

    flusher = threading.Thread(target=flush_every_interval, name="flush", daemon=True)
    flusher.start()
    try:
        check_links(links, settings, previous=previous, on_start=on_start, on_result=on_result)
    finally:
        finished.set()
    flusher.join()
    flush()
