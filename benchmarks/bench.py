"""Benchmark the crawler end to end against the local web simulator.

    python benchmarks/bench.py                   # N = 1,000 / 10,000 / 100,000
    python benchmarks/bench.py --links 10000     # only N = 10,000

For each N: start ``simulator.py`` (its own process), write a catalogue with ``gen_catalog.py``,
run the real CLI (``python -m crawler check --catalog … --report-dir … --allow-private --per-host P
-q``, with its own default ``--concurrency`` unless one is given) as a subprocess — report writing
included — and read the crawler's own CPU time and peak RSS from ``os.wait4``; the request counts
come from the simulator's counters. Then run it again over the unchanged catalogue, with run 1's
reports as history (run 2). Then lychee over the same links, as polite (``comparator.py``), and
last the bare-aiohttp floor (``floor.py``). The figures and their tables: ``figures.py``; the
politeness bound: ``bound.py``.

Everything stays on 127.0.0.0/8; the simulator stops by itself after a deadline.
See benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import comparator  # noqa: E402
import floor  # noqa: E402
import gen_catalog  # noqa: E402
from bound import FAULTS, NO_FAULTS, fault_args, ideal_s  # noqa: E402
from figures import Case, RunFigures, details, side_by_side, table  # noqa: E402

DEFAULT_SIZES = (1_000, 10_000, 100_000)


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


def crawler_cmd(catalog: Path, report_dir: Path, args: argparse.Namespace) -> list[str]:
    """The CLI over ``catalog``: ``--per-host``, ``--concurrency`` only if the bench was given
    one (otherwise the CLI's own default, which is what users run), ``--jobs``."""
    limit = [] if args.concurrency is None else ["--concurrency", str(args.concurrency)]
    return [
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
        str(args.per_host),
        *limit,
        "-q",
        f"--jobs={args.jobs}",
    ]


def measure(cmd: list[str], log: Path, cwd: Path) -> tuple[int, float, float, float]:
    """Run ``cmd`` once; (exit code, wall s, CPU s, peak RSS MB) of that process alone."""
    with log.open("w") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=crawler_env(), stdout=out, stderr=out)
        # wait4 reaps the child and gives its own rusage: CPU and peak RSS of it (and of the
        # children it waited for: the crawler's yt-dlp workers) only.
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


def one_run(
    sim: Sim, n: int, cmd: list[str], log: Path, cwd: Path, counts: Callable[[], dict[str, int]]
) -> RunFigures:
    """``cmd`` (the crawler or lychee) against the simulator, its faults re-armed; ``counts``
    reads the checker's own statuses afterwards."""
    sim.get("/reset?faults=1")  # every run meets the same faults
    code, wall, cpu, rss = measure(cmd, log, cwd)
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
        statuses=counts(),
        simulator_cpu_s=total.get("cpu_s", 0.0),
    )


def run_case(n: int, args: argparse.Namespace, workdir: Path) -> Case:
    workdir.mkdir(parents=True, exist_ok=True)
    # Generous, but bounded: the simulator must never outlive a forgotten benchmark.
    sim = Sim(args, workdir, deadline=600 + n * 0.05)
    try:
        catalog = workdir / "catalog.yaml"
        urls = workdir / "urls.txt"  # the same links for lychee
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
                "--urls-out",
                str(urls),
            ],
            check=True,
        )
        per_host_links = gen_catalog.links_per_host(n, len(sim.hosts))
        reports = workdir / "reports"
        cmd = crawler_cmd(catalog, reports, args)
        first = one_run(sim, n, cmd, workdir / "run1.log", ROOT, lambda: statuses(reports))
        second = None
        if not args.no_second_run:
            second = one_run(sim, n, cmd, workdir / "run2.log", ROOT, lambda: statuses(reports))
        lychee = None
        if args.lychee_binary:
            out = workdir / "lychee.json"
            cmd = comparator.command(args.lychee_binary, urls, args.per_host, out)
            lychee = one_run(
                sim, n, cmd, workdir / "lychee.log", workdir, lambda: comparator.statuses(out)
            )
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
        lychee=lychee,
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
        str(args.concurrency or min(1000, args.hosts * args.per_host)),
    ]
    out = subprocess.run(cmd, env=crawler_env(), capture_output=True, text=True, check=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    return figures["wall_s"], figures["cpu_s"]


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
        help="the CLI's global limit (default: the CLI's own default, as users run it)",
    )
    p.add_argument("--video-share", type=float, default=gen_catalog.DEFAULT_VIDEO_SHARE)
    p.add_argument("--clean", action="store_true", help="no faults (404, 429, resets, slow)")
    p.add_argument("--no-second-run", action="store_true")
    p.add_argument("--no-floor", action="store_true", help="skip the bare-aiohttp floor run")
    p.add_argument("--no-lychee", action="store_true", help="skip lychee, the comparator")
    p.add_argument(
        "--lychee", default=None, help="the lychee binary (default: beside python, PATH)"
    )
    p.add_argument("--jobs", default="auto", help="the CLI's --jobs: N or auto (its default)")
    p.add_argument("--keep", type=Path, default=None, help="keep catalogues, logs, reports here")
    p.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = p.parse_args(argv)
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
    # As pip leaves an installed package: compiled. A shell with PYTHONDONTWRITEBYTECODE (this
    # sandbox's) would otherwise have every run compile the crawler's modules from source.
    compileall.compile_dir(ROOT / "crawler", quiet=1)
    args.lychee_binary = None if args.no_lychee else comparator.find(args.lychee)
    if not args.no_lychee and args.lychee_binary is None:
        print(f"# lychee not found, skipped: {comparator.INSTALL} to compare", flush=True)
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
    print()
    print(side_by_side(cases))
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
