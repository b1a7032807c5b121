"""The politeness bound of a bench run: the faults it meets, and the wall time of an ideal polite
checker that meets them (``ideal_s``). See benchmarks/README.md, "The pieces"."""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import fields
from urllib.parse import urlsplit

import simulator

# The faults of every run but a --clean one (the simulator decides per path, by a seeded hash,
# so the same links meet the same faults in every run, the floor's included).
FAULTS = simulator.Faults(
    not_found=0.01, rate_limit=0.002, retry_after=1, reset=0.002, slow=0.01, slow_ms=250
)
NO_FAULTS = simulator.Faults()


def fault_args(faults: simulator.Faults) -> list[str]:
    """``simulator.py`` options for ``faults``."""
    names = {"not_found", "rate_limit", "reset", "slow", "retry_after", "slow_ms", "seed"}
    return [
        arg
        for f in fields(faults)
        if f.name in names
        for arg in (f"--{f.name.replace('_', '-')}", str(getattr(faults, f.name)))
    ]


def ideal_s(
    urls: Iterable[str], faults: simulator.Faults, latency_ms: float, per_host: int
) -> float:
    """The politeness bound with this run's faults: the wall time of an ideal polite checker
    that costs no CPU at all, one request per link in catalogue order, ``per_host`` slots per
    host refilled the instant they free up.

    As any polite checker must: a ``429`` holds its host for its ``Retry-After`` and is asked
    again when the pause ends; a reset connection is asked again at once; a slow answer holds
    its slot longer. Without faults this is ``ceil(links per host / per_host) × latency``.
    """
    by_host: dict[str, list[str]] = defaultdict(list)
    for url in urls:
        parts = urlsplit(url)
        by_host[parts.netloc].append(parts.path)
    latency = latency_ms / 1000
    return max(
        (_ideal_host_s(paths, faults, latency, per_host) for paths in by_host.values()),
        default=0.0,
    )


def _ideal_host_s(
    paths: list[str], faults: simulator.Faults, latency: float, per_host: int
) -> float:
    free = [0.0] * max(1, per_host)  # when each slot frees up (a heap)
    pauses: list[tuple[float, float]] = []  # (from, until): Retry-After, no request may start

    def after_pauses(t: float) -> float:
        moved = True
        while moved:
            moved = False
            for since, until in pauses:
                if since <= t < until:
                    t, moved = until, True
        return t

    end = 0.0
    for path in paths:
        start = after_pauses(heapq.heappop(free))
        kind = faults.kind(path)
        if kind == "rate_limit":  # answered, then asked again when the pause it asks for ends
            answered = start + latency
            pauses.append((answered, answered + faults.retry_after))
            done = after_pauses(answered) + latency
        elif kind == "reset":  # reset as it would have answered, then asked again at once
            done = after_pauses(start + latency) + latency
        elif kind == "slow":
            done = start + latency + faults.slow_ms / 1000
        else:
            done = start + latency
        heapq.heappush(free, done)
        end = max(end, done)
    return end
