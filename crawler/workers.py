"""The engine's worker processes (``Engine.run_isolated``: yt-dlp): one call at a time each,
and a call its caller gives up on ends with its process.

``multiprocessing.Pool`` cannot stop one task: a yt-dlp call whose link ran out of time went
on reading in its worker, holding the worker and the memory it grew, long after the link was
reported. Here a process whose call was abandoned is killed and a fresh one started when
needed. Started with "spawn": forking a process that runs an event loop and threads can copy
held locks. "spawn" re-imports the main module in each worker: a script that drives the engine
must keep its entry point under ``if __name__ == "__main__":`` (``python -m crawler`` and the
``crawler`` console script do), as with any multiprocessing code.
"""

from __future__ import annotations

import asyncio
import gc
import multiprocessing
import signal
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar, cast

from crawler.memory import GC_THRESHOLD

T = TypeVar("T")


def start_worker() -> None:
    """Set up a worker process of ``run_isolated`` (yt-dlp): the engine's ``initializer``."""
    # Ctrl-C reaches the whole process group: the parent handles it (exit 130, the reports
    # kept) and stops the workers; a traceback from each would bury its message.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # yt-dlp's extractors allocate as freely as the engine does: 15 % less CPU per video page
    # with the run's threshold (31 → 25 ms in one measurement).
    gc.set_threshold(*GC_THRESHOLD)


def _serve(conn: Connection, initializer: Callable[[], None] | None) -> None:
    """A worker's life: run each call it is sent and send back its value or its exception."""
    if initializer is not None:
        initializer()
    while True:
        try:
            fn, args = conn.recv()
        except EOFError:  # the parent is gone or closed the pool
            return
        try:
            outcome: tuple[bool, Any] = (True, fn(*args))
        except Exception as exc:
            outcome = (False, exc)
        try:
            conn.send(outcome)
        except Exception as exc:  # an unpicklable value or exception
            conn.send((False, RuntimeError(f"{type(exc).__name__}: {exc}")))


class _Worker:
    def __init__(self, initializer: Callable[[], None] | None) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, initializer), daemon=True)
        self.process.start()
        child.close()

    def stop(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.kill()


class WorkerPool:
    """Up to ``size`` worker processes, started as calls need them (a run without videos
    never starts one). The caller limits how many calls run at once to ``size``."""

    def __init__(self, size: int, initializer: Callable[[], None] | None = None) -> None:
        self._size = max(1, size)
        self._initializer = initializer
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._stopped: list[_Worker] = []

    async def run(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        """``fn(*args)`` in a worker; its exception is raised here. Cancelled (the caller's
        time is up), the call's process is killed. ``ChildProcessError`` when the process
        died under the call."""
        if len(self._busy) >= self._size:
            raise RuntimeError("more calls than workers at once")
        worker = self._take_idle() or _Worker(self._initializer)
        self._busy.add(worker)
        answered = False
        try:
            try:
                worker.conn.send((fn, args))
                await _readable(worker.conn)
                ok, value = worker.conn.recv()
            except (EOFError, OSError):  # closed, or reset (ECONNRESET, EPIPE) by its death
                worker.process.join(5)
                code = worker.process.exitcode
                raise ChildProcessError(
                    f"the worker process died during the call (exit code {code})"
                ) from None
            answered = True
        finally:
            self._busy.discard(worker)
            if answered:
                self._idle.append(worker)
            else:  # abandoned or dead: never reused
                worker.stop()
                self._stopped.append(worker)
                self._reap()
        if not ok:
            raise value
        return cast(T, value)  # what ``fn`` returned, unpickled

    def _take_idle(self) -> _Worker | None:
        """An idle worker still alive; one killed meanwhile (out of memory) is put aside."""
        while self._idle:
            worker = self._idle.pop()
            if worker.process.is_alive():
                return worker
            worker.stop()
            self._stopped.append(worker)
            self._reap()
        return None

    def close(self) -> None:
        """Stop every worker, idle or busy, and wait for them to be gone."""
        for worker in [*self._idle, *self._busy]:
            worker.stop()
            self._stopped.append(worker)
        self._idle.clear()
        self._busy.clear()
        for worker in self._stopped:
            worker.process.join()
        self._stopped.clear()

    def _reap(self) -> None:
        for worker in list(self._stopped):
            if worker.process.exitcode is not None:  # polls: a killed process goes quickly
                worker.process.join()
                self._stopped.remove(worker)


async def _readable(conn: Connection) -> None:
    """Wait without a thread until ``conn`` has something to read (or its end closed)."""
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    fd = conn.fileno()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
