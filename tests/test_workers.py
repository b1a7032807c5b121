"""The worker processes of ``run_isolated``: a call its caller gives up on ends with its process."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

import pytest
from engine_fakes import engine

from crawler.workers import WorkerPool


def gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (reaped, or a zombie waiting to be)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in status


def wait_until_gone(pid: int) -> bool:
    for _ in range(200):  # a killed process goes in milliseconds; allow a busy machine
        if gone(pid):
            return True
        time.sleep(0.05)
    return False


def test_a_worker_is_reused_for_the_next_call():
    async def main() -> tuple[int, int]:
        pool = WorkerPool(1)
        try:
            return await pool.run(os.getpid, ()), await pool.run(os.getpid, ())
        finally:
            pool.close()

    first, second = asyncio.run(main())
    assert first == second != os.getpid()


def test_an_abandoned_call_is_stopped_with_its_process_and_a_fresh_one_takes_over():
    async def main() -> tuple[int, int]:
        pool = WorkerPool(1)
        try:
            runner = await pool.run(os.getpid, ())
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.5):  # the caller's budget runs out
                    await pool.run(time.sleep, (600,))
            return runner, await pool.run(os.getpid, ())
        finally:
            pool.close()

    abandoned, fresh = asyncio.run(main())
    assert wait_until_gone(abandoned), "the abandoned call's process still runs"
    assert fresh != abandoned


def test_a_worker_that_dies_under_a_call_raises_child_process_error():
    async def main() -> None:
        pool = WorkerPool(1)
        try:
            with pytest.raises(ChildProcessError, match="exit code 3"):
                await pool.run(os._exit, (3,))
            assert await pool.run(divmod, (7, 2)) == (3, 1)  # the next call gets a new worker
        finally:
            pool.close()

    asyncio.run(main())


def test_an_idle_worker_killed_from_outside_is_replaced_for_the_next_call():
    import signal

    async def main() -> tuple[int, int]:
        pool = WorkerPool(1)
        try:
            killed = await pool.run(os.getpid, ())
            os.kill(killed, signal.SIGKILL)  # the out-of-memory killer, between two calls
            assert wait_until_gone(killed)
            return killed, await pool.run(os.getpid, ())
        finally:
            pool.close()

    killed, fresh = asyncio.run(main())
    assert fresh not in (killed, os.getpid())


def test_the_engine_stops_a_worker_whose_link_ran_out_of_time():
    from crawler.config import Settings
    from crawler.engine import Engine

    async def main() -> int:
        async with Engine(Settings(video_workers=1)) as engine:
            runner = await engine.run_isolated(os.getpid)
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.5):  # as the link's budget does in check_link
                    await engine.run_isolated(time.sleep, 600)
            # Gone while the run goes on, not only once the engine stops.
            assert wait_until_gone(runner), "the worker still runs the abandoned call"
            return runner

    asyncio.run(main())


def test_run_isolated_runs_in_another_process_and_stops_it_with_the_engine():
    import gc
    import multiprocessing
    import signal

    from crawler.memory import GC_THRESHOLD

    async def main() -> tuple[int, list[multiprocessing.Process], Any, Any]:
        async with engine() as e:
            pid = await e.run_isolated(os.getpid)
            with pytest.raises(ZeroDivisionError):  # the worker's exception, re-raised here
                await e.run_isolated(divmod, 1, 0)
            # Set up as the engine wants its workers: Ctrl-C left to the parent, few collections.
            sigint = await e.run_isolated(signal.getsignal, signal.SIGINT)
            threshold = await e.run_isolated(gc.get_threshold)
            workers = multiprocessing.active_children()
        return pid, workers, sigint, threshold

    pid, workers, sigint, threshold = asyncio.run(main())
    assert pid != os.getpid()
    assert workers and not any(w.is_alive() for w in workers)  # stopped on the way out
    assert sigint == signal.SIG_IGN and threshold == GC_THRESHOLD
