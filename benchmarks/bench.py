"""Benchmark the crawler end to end against the local web simulator.

    python benchmarks/bench.py                   # N = 1,000 / 10,000 / 100,000
    python benchmarks/bench.py --links 10000     # only N = 10,000

For each N: start ``simulator.py`` (its own process), write a catalogue with ``gen_catalog.py``,
run the real CLI (``python -m crawler check --catalog … --report-dir … --allow-private --per-host P
--concurrency C``) as a subprocess — report writing included — and read the crawler's own CPU
time and peak RSS from ``os.wait4``; the request counts come from the simulator's counters.
Then run it again over the unchanged catalogue, with run 1's reports as history (run 2).

Everything stays on 127.0.0.0/8; the simulator stops by itself after a deadline.
See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import heapq
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import floor  # noqa: E402
import gen_catalog  # noqa: E402
import simulator  # noqa: E402

DEFAULT_SIZES = (1_000, 10_000, 100_000)

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
    concurrency: int
    video_share: float
    max_links_per_host: int
    first: RunFigures
    second: RunFigures | None
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

    @property
    def floor_ratio(self) -> float | None:
        if self.floor_wall_s is None or not self.bound_s:
            return None
        return self.floor_wall_s / self.bound_s


# -- the simulator process ---------------------------------------------------------------


class Sim:
    """``simulator.py`` in its own process; ``stop`` ends that process (and only it)."""

    def __init__(self, args: argparse.Namespace, workdir: Path, deadline: float) -> None:
        info = workdir / "sim.json"
        cmd = [
            sys.executable,
            str(HERE / "simulator.py"),
            "--hosts",
            str(args.hosts),
            "--latency-ms",
            str(args.latency),
            "--jitter-ms",
            str(args.jitter),
            "--deadline",
            str(deadline),
            "--info-file",
            str(info),
        ]
        cmd += fault_args(NO_FAULTS if args.clean else FAULTS)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the simulator did not start")
        data = json.loads(line)
        self.control: str = data["control"]
        self.hosts: list[str] = data["hosts"]

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.control + path, timeout=30) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.get("/shutdown")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# -- one crawler run ---------------------------------------------------------------------


def crawler_env() -> dict[str, str]:
    env = dict(os.environ)
    # A proxy from the shell would divert loopback traffic (and cost a different transport).
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        env.pop(var, None)
    env["NO_PROXY"] = "*"
    env.pop("GITHUB_ACTIONS", None)
    env.pop("GITHUB_STEP_SUMMARY", None)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if "PYTHONPATH" in env else "")
    return env


def run_crawler(
    catalog: Path, report_dir: Path, per_host: int, concurrency: int, log: Path, jobs: str = "auto"
) -> tuple[int, float, float, float]:
    """Run the CLI once; (exit code, wall s, CPU s, peak RSS MB) of that process alone."""
    cmd = [
        sys.executable,
        "-m",
        "crawler",
        "check",
        "--catalog",
        str(catalog),
        "--report-dir",
        str(report_dir),
        "--allow-private",
        "--per-host",
        str(per_host),
        "--concurrency",
        str(concurrency),
        "-q",
        f"--jobs={jobs}",
    ]
    with log.open("w") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=crawler_env(), stdout=out, stderr=out)
        # wait4 reaps the child and gives its own rusage: CPU and peak RSS of the crawler only.
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    cpu = usage.ru_utime + usage.ru_stime
    return proc.returncode, wall, cpu, usage.ru_maxrss / 1024  # ru_maxrss is KiB on Linux


def statuses(report_dir: Path) -> dict[str, int]:
    """Links per status in ``latest.json``, read line by line (one link record per line).

    Never ``json.loads`` of the whole file: at 100,000 links that took this process to ~400 MB,
    and the next crawler run, forked from it, inherits that as its peak RSS (``ru_maxrss`` of a
    child counts what it shared with its parent before ``exec``).
    """
    path = report_dir / "latest.json"
    if not path.exists():
        return {}
    counts: dict[str, int] = {}
    in_links = False
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if not in_links:
                in_links = line.strip() == '"links": ['
                continue
            if line.strip().startswith("]"):
                break
            status = json.loads(line.rstrip().rstrip(","))["status"]
            counts[status] = counts.get(status, 0) + 1
    return counts


def one_run(sim: Sim, n: int, catalog: Path, report_dir: Path, args, log: Path) -> RunFigures:
    sim.get("/reset?faults=1")  # every run meets the same faults
    code, wall, cpu, rss = run_crawler(
        catalog, report_dir, args.per_host, args.concurrency, log, args.jobs
    )
    total = sim.get("/stats")["total"]
    return RunFigures(
        links=n,
        exit_code=code,
        wall_s=wall,
        cpu_s=cpu,
        peak_rss_mb=rss,
        requests=total["requests"],
        crawler_requests=total["crawler_requests"],
        ytdlp_calls=total["ytdlp_calls"],
        conditional=total["conditional"],
        not_modified=total["not_modified"],
        max_inflight_crawler=total["max_inflight_crawler"],
        max_inflight=total["max_inflight"],
        statuses=statuses(report_dir),
        simulator_cpu_s=total.get("cpu_s", 0.0),
    )


def run_case(n: int, args: argparse.Namespace, workdir: Path) -> Case:
    workdir.mkdir(parents=True, exist_ok=True)
    # Generous, but bounded: the simulator must never outlive a forgotten benchmark.
    sim = Sim(args, workdir, deadline=600 + n * 0.05)
    try:
        catalog = workdir / "catalog.yaml"
        # In a process of its own: this one must stay small, because each crawler run is
        # forked from it and a child's ru_maxrss counts the parent's memory it started with.
        subprocess.run(
            [
                sys.executable,
                str(HERE / "gen_catalog.py"),
                "--links",
                str(n),
                "--hosts",
                ",".join(sim.hosts),
                "--video-share",
                str(args.video_share),
                "--out",
                str(catalog),
            ],
            check=True,
        )
        per_host_links = gen_catalog.links_per_host(n, len(sim.hosts))
        reports = workdir / "reports"
        first = one_run(sim, n, catalog, reports, args, workdir / "run1.log")
        second = None
        if not args.no_second_run:
            second = one_run(sim, n, catalog, reports, args, workdir / "run2.log")
        floored = None if args.no_floor else run_floor(sim, catalog, args)
        # After the runs: reading 100,000 URLs here would count in every later run's peak RSS.
        faults = NO_FAULTS if args.clean else FAULTS
        ideal = ideal_s(floor.urls_of(catalog), faults, args.latency, args.per_host)
    finally:
        sim.stop()
    return Case(
        links=n,
        hosts=args.hosts,
        latency_ms=args.latency,
        per_host=args.per_host,
        concurrency=args.concurrency,
        video_share=args.video_share,
        max_links_per_host=per_host_links,
        first=first,
        second=second,
        floor_wall_s=floored[0] if floored else None,
        floor_cpu_s=floored[1] if floored else None,
        ideal_s=ideal,
        faults=not args.clean,
    )


def run_floor(sim: Sim, catalog: Path, args: argparse.Namespace) -> tuple[float, float]:
    """floor.py over the same catalogue and faults: (wall s, CPU s) of bare aiohttp."""
    sim.get("/reset?faults=1")
    cmd = [
        sys.executable,
        str(HERE / "floor.py"),
        str(catalog),
        "--per-host",
        str(args.per_host),
        "--concurrency",
        str(args.concurrency),
    ]
    out = subprocess.run(cmd, env=crawler_env(), capture_output=True, text=True, check=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    return figures["wall_s"], figures["cpu_s"]


# -- output ------------------------------------------------------------------------------


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


def details(c: Case) -> str:
    lines = [
        f"N = {c.links:,} links over {c.hosts} hosts, latency {c.latency_ms:g} ms, per-host "
        f"{c.per_host}, concurrency {c.concurrency}, videos {c.video_share:.1%} of links",
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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Benchmark the crawler against the local simulator.")
    p.add_argument("--links", type=int, default=None, help="run only this N (default 1k/10k/100k)")
    p.add_argument("--hosts", type=int, default=50)
    p.add_argument("--latency", type=float, default=50.0, help="milliseconds per response")
    p.add_argument("--jitter", type=float, default=0.0, help="± milliseconds around the latency")
    p.add_argument("--per-host", type=int, default=4)
    p.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="global limit (default hosts × per-host, max 1000: the per-host limit binds)",
    )
    p.add_argument("--video-share", type=float, default=gen_catalog.DEFAULT_VIDEO_SHARE)
    p.add_argument("--clean", action="store_true", help="no faults (404, 429, resets, slow)")
    p.add_argument("--no-second-run", action="store_true")
    p.add_argument("--no-floor", action="store_true", help="skip the bare-aiohttp floor run")
    p.add_argument("--jobs", default="auto", help="the CLI's --jobs: N or auto (its default)")
    p.add_argument("--keep", type=Path, default=None, help="keep catalogues, logs, reports here")
    p.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = p.parse_args(argv)
    if args.concurrency is None:
        args.concurrency = min(1000, args.hosts * args.per_host)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = [args.links] if args.links else list(DEFAULT_SIZES)
    base = args.keep or Path(tempfile.mkdtemp(prefix="crawler-bench-"))
    load = os.getloadavg()
    print(
        f"# {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load average "
        f"{load[0]:.1f} at start; crawler run through the CLI (python -m crawler check"
        + f" --jobs {args.jobs}"
        + ")",
        flush=True,
    )
    cases = []
    try:
        for n in sizes:
            case = run_case(n, args, base / f"n{n}")
            cases.append(case)
            print(details(case), flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    print()
    print(table(cases))
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        **asdict(c),
                        "bound_s": c.bound_s,
                        "ratio": c.ratio,
                        "ideal_ratio": c.ideal_ratio,
                    }
                    for c in cases
                ],
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
