"""A bench run's figures (one checker's run, one N's case) and how they are printed."""

from __future__ import annotations

import math
import os
import resource
from dataclasses import dataclass


@dataclass
class RunFigures:
    links: int
    exit_code: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    requests: int  # every request the simulator saw (engine + yt-dlp)
    crawler_requests: int
    ytdlp_calls: int
    conditional: int
    not_modified: int
    max_inflight_crawler: int  # most engine requests in flight to one host
    max_inflight: int  # the same, yt-dlp's requests included
    statuses: dict[str, int]
    simulator_cpu_s: float = 0.0  # the simulator's CPU meanwhile, on the same cores

    @property
    def links_per_s(self) -> float:
        return self.links / self.wall_s if self.wall_s else 0.0

    @property
    def requests_per_link(self) -> float:
        return self.requests / self.links if self.links else 0.0

    @property
    def cpu_per_1k(self) -> float:
        return self.cpu_s / self.links * 1000 if self.links else 0.0


@dataclass
class Case:
    links: int
    hosts: int
    latency_ms: float
    per_host: int
    concurrency: int | None  # None: the CLI's default
    video_share: float
    max_links_per_host: int
    first: RunFigures
    second: RunFigures | None
    lychee: RunFigures | None = None  # lychee over the same links, as polite (comparator.py)
    floor_wall_s: float | None = None  # floor.py: the same requests with bare aiohttp
    floor_cpu_s: float | None = None
    ideal_s: float | None = None  # the bound with this run's faults (``ideal_s``)
    faults: bool = True

    @property
    def bound_s(self) -> float:
        """Politeness bound: the fastest any checker could go with this per-host limit."""
        return math.ceil(self.max_links_per_host / self.per_host) * self.latency_ms / 1000

    @property
    def ratio(self) -> float:
        return self.first.wall_s / self.bound_s if self.bound_s else float("inf")

    @property
    def ideal_ratio(self) -> float:
        """Run 1's wall time over the bound with this run's faults."""
        return self.first.wall_s / self.ideal_s if self.ideal_s else float("inf")

    def ratio_of(self, wall_s: float) -> str:
        """``wall_s`` over the bound, and over the bound with faults when there are faults."""
        text = f"{wall_s / self.bound_s:.2f}× the bound" if self.bound_s else "–"
        if self.faults and self.ideal_s:
            text += f", {wall_s / self.ideal_s:.2f}× with faults"
        return text

    def ratios(self, wall_s: float) -> str:
        """Two table cells: ``wall_s`` over the bound, and over the bound with faults."""
        bound = f"{wall_s / self.bound_s:.2f}×" if self.bound_s else "–"
        faults = f"{wall_s / self.ideal_s:.2f}×" if self.faults and self.ideal_s else "–"
        return f"{bound} | {faults}"

    @property
    def floor_ratio(self) -> float | None:
        if self.floor_wall_s is None or not self.bound_s:
            return None
        return self.floor_wall_s / self.bound_s


def table(cases: list[Case]) -> str:
    head = (
        "| links | wall s | links/s | req/link | CPU s/1k links | peak RSS MB "
        "| bound s | wall/bound | bound with faults s | wall/that | max in flight/host "
        "| run 2 req/link | run 2 yt-dlp calls | run 2 wall s (/bound with faults) |"
    )
    rows = [head, "|" + "---|" * 14]
    for c in cases:
        f, s = c.first, c.second
        ideal = f"{c.ideal_s:.2f} | {c.ideal_ratio:.1f}×" if c.ideal_s else "– | –"
        second = (
            f"{s.requests_per_link:.3f} | {s.ytdlp_calls} | {s.wall_s:.1f}"
            + (f" ({s.wall_s / c.ideal_s:.1f}×)" if c.ideal_s else "")
            if s
            else "– | – | –"
        )
        rows.append(
            f"| {c.links:,} | {f.wall_s:.1f} | {f.links_per_s:.0f} | {f.requests_per_link:.3f} "
            f"| {f.cpu_per_1k:.2f} | {f.peak_rss_mb:.0f} | {c.bound_s:.2f} | {c.ratio:.1f}× "
            f"| {ideal} | {f.max_inflight_crawler} (≤ {c.per_host}) | {second} |"
        )
    return "\n".join(rows)


def side_by_side(cases: list[Case]) -> str:
    """The crawler with the bench's options beside lychee and the floor, per N."""
    head = (
        "| links | checker | wall s | × bound | × bound with faults | CPU s | peak RSS MB "
        "| req/link | max in flight/host |"
    )
    rows = [head, "|" + "---|" * 9]
    for c in cases:
        runs = [("crawler run 1", c.first), ("crawler run 2", c.second), ("lychee", c.lychee)]
        for name, f in runs:
            if f is not None:
                inflight = f.max_inflight if name == "lychee" else f.max_inflight_crawler
                rows.append(
                    f"| {c.links:,} | {name} | {f.wall_s:.2f} | {c.ratios(f.wall_s)} "
                    f"| {f.cpu_s:.1f} | {f.peak_rss_mb:.0f} | {f.requests_per_link:.3f} "
                    f"| {inflight} |"
                )
        if c.floor_wall_s is not None:
            rows.append(
                f"| {c.links:,} | floor (bare aiohttp) | {c.floor_wall_s:.2f} "
                f"| {c.ratios(c.floor_wall_s)} | {c.floor_cpu_s:.1f} | – | – | – |"
            )
    return "\n".join(rows)


def details(c: Case) -> str:
    lines = [
        f"N = {c.links:,} links over {c.hosts} hosts, latency {c.latency_ms:g} ms, per-host "
        f"{c.per_host}, concurrency {c.concurrency or 'the CLI default'}, videos "
        f"{c.video_share:.1%} of links",
    ]
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines.append(f"  (bench.py itself: peak RSS {own:.0f} MB, a floor under the peak RSS figures)")
    for name, f in (("run 1", c.first), ("run 2", c.second)):
        if f is None:
            continue
        lines.append(
            f"  {name}: exit {f.exit_code}, wall {f.wall_s:.2f} s, {f.links_per_s:.0f} links/s, "
            f"{f.requests} requests ({f.requests_per_link:.3f}/link; engine "
            f"{f.crawler_requests}, yt-dlp calls {f.ytdlp_calls}), conditional {f.conditional} "
            f"(304: {f.not_modified}), CPU {f.cpu_s:.1f} s ({f.cpu_per_1k:.2f} s/1k links), "
            f"peak RSS {f.peak_rss_mb:.0f} MB, max in flight per host {f.max_inflight_crawler} "
            f"engine / {f.max_inflight} with yt-dlp, statuses {f.statuses}; the simulator's "
            f"CPU meanwhile {f.simulator_cpu_s:.1f} s"
        )
    lines.append(
        f"  politeness bound ceil({c.max_links_per_host} / {c.per_host}) × {c.latency_ms:g} ms "
        f"= {c.bound_s:.2f} s; run 1 wall / bound = {c.ratio:.1f}×"
    )
    if c.ideal_s is not None:
        what = (
            "with this run's faults (each 429 pauses its host for its Retry-After, resets are "
            "asked again, slow answers hold their slot)"
            if c.faults
            else "computed per host from the catalogue (no faults)"
        )
        second = f", run 2 {c.second.wall_s / c.ideal_s:.1f}×" if c.second and c.ideal_s else ""
        lines.append(
            f"  politeness bound {what}: {c.ideal_s:.2f} s; wall / that bound: run 1 "
            f"{c.ideal_ratio:.1f}×{second}"
        )
    if c.lychee is not None:
        f = c.lychee
        lines.append(
            f"  lychee (--host-concurrency {c.per_host} --host-request-interval 0ms): exit "
            f"{f.exit_code}, wall {f.wall_s:.2f} s = {c.ratio_of(f.wall_s)}, {f.requests} "
            f"requests ({f.requests_per_link:.3f}/link), CPU {f.cpu_s:.1f} s, peak RSS "
            f"{f.peak_rss_mb:.0f} MB, max in flight per host {f.max_inflight}, its counts "
            f"{f.statuses}"
        )
    load = os.getloadavg()
    lines.append(f"  load average after this N: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    if c.floor_wall_s is not None:
        versus = (
            f" and {c.floor_wall_s / c.ideal_s:.2f}× with faults" if c.faults and c.ideal_s else ""
        )
        lines.append(
            f"  floor (floor.py: the same requests with bare aiohttp, as polite, nothing else): "
            f"wall {c.floor_wall_s:.2f} s = {c.floor_ratio:.2f}× the bound{versus}, "
            f"CPU {c.floor_cpu_s:.2f} s"
        )
    return "\n".join(lines)
