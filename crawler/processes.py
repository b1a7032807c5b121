"""Checking in several processes (``check --jobs``): each owns its hosts, results stream back.

One process checks about 2,000 links a second here and is then CPU-bound (httpx, aiohttp and
the checks cost ≈ 0.5 ms per link; see ``benchmarks/README.md``), so a large catalogue on a
machine with spare cores is split by host over worker processes (``partition``). Each host
belongs to exactly one of them, so its per-host limit, minimum interval and Retry-After pauses
hold exactly as in one process. The parent keeps the catalogue, the history and the report: a
worker gets its links and what the metadata cache knows of them, and sends back its results as
they come, so progress, problem lines and the report are the same as a run in one process.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from multiprocessing.connection import Connection, wait
from typing import cast

from crawler.config import Settings
from crawler.model import Link, LinkResult
from crawler.partition import Traits, worker_settings
from crawler.services.base import Remembered

log = logging.getLogger(__name__)

_BATCH = 64  # results per message; what there is is also sent every _FLUSH_S
# Links per message to a worker: a whole share pickled at once (50,000 links and their history)
# is a transient 20 MB in the parent, and the allocator keeps that peak for the rest of the run.
_SEND_BATCH = 2_000
_FLUSH_S = 0.2
_INTERRUPTED = 130  # a worker's exit code after Ctrl-C
_GRACE_S = 5.0  # for a worker to stop after the parent's SIGTERM (``_stop``)
# A result crosses back as the values of its fields after ``link`` (the first), in order: the
# parent has the link already (pickling 100,000 links back and forth cost both sides CPU).
_RESULT_FIELDS = tuple(f.name for f in dataclasses.fields(LinkResult))[1:]


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
    traits = Traits()
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
    process: multiprocessing.process.BaseProcess
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
            try:
                for part in _parts(groups[k], _SEND_BATCH):
                    mine = [links[i] for i in part]
                    known = {}
                    for link in mine:
                        key = (link.session_id, link.field, link.url)
                        if key in remembered:
                            known[key] = remembered[key]
                    conn.send(("links", (mine, known)))
                conn.send(("go", own[k]))
            except OSError:  # it died before reading its work
                process.join()
                raise RuntimeError(
                    f"process {k + 1} of {share} stopped before it started "
                    f"(exit {process.exitcode})"
                ) from None
        while workers:
            for conn in cast(list[Connection], wait(list(workers))):  # gives back what it got
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


def _parts(indices: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(indices), size):
        yield indices[start : start + size]


def _work(conn: Connection) -> None:
    """A worker: receive ("links", (links, previous)) messages, then ("go", settings); check
    the links and send ("batch", (started, done)) messages as results come, then ("done",
    None)."""
    signal.signal(signal.SIGTERM, _stop_as_ctrl_c)
    try:
        links: list[Link] = []
        previous: dict[tuple[str, str, str], Remembered] = {}
        try:
            kind, payload = conn.recv()
            while kind == "links":
                links.extend(payload[0])
                previous.update(payload[1])
                kind, payload = conn.recv()
        except EOFError:  # the parent is gone already
            return
        settings = payload
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
