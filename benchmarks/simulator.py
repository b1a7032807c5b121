"""A local web simulator: many virtual hosts on loopback addresses, with latency and faults.

Every virtual host is its own listening socket on a distinct loopback address (127.0.0.2,
127.0.0.3, ... — all of 127.0.0.0/8 is loopback on Linux), so the crawler's per-host limit sees
distinct hosts. A minimal HTTP/1.1 server on ``asyncio.Protocol`` (keep-alive, HEAD, GET,
``Range``) keeps the simulator's own CPU cost low: it runs in its own process, so the crawler's
CPU is measured alone.

What it serves, by path (any host):

* ``/slides/<name>.pdf``  a PDF (``%PDF-`` body); a ``Range`` request gets ``206``.
* ``/page/<name>.html`` and ``/people/<name>/``  a small HTML page.
* ``/video/<name>``  an HTML page with a JSON-LD ``VideoObject`` (what yt-dlp's generic
  extractor reads: title, duration, upload date) — one GET per yt-dlp call.

Every answer carries ``ETag`` and ``Last-Modified``; a matching ``If-None-Match`` or
``If-Modified-Since`` gets ``304`` (counted), so a crawler that learns conditional requests can be
measured here. Faults are chosen per path by a seeded hash (the same path always gets the same
fault, run after run): ``404``; ``429`` with ``Retry-After`` once (then the page); a connection
reset once (then the page); slow (extra delay). ``--fault-host-429 I`` makes the first request
to host I answer ``429 Retry-After`` (the smoke test's host pause).

Counters per host: requests (by method, status, agent: ``crawler`` = the engine's User-Agent,
``other`` = yt-dlp and the rest), requests in flight now and at most (``max_inflight``: from the
request's arrival to the response's last byte, so it can never exceed what the client allowed
itself), open connections now and at most. A control server on 127.0.0.1 answers
``/stats``, ``/events`` (per-request timestamps, with ``--events``), ``/reset`` and ``/shutdown``.

The simulator stops by itself after ``--deadline`` seconds. It never binds outside 127.0.0.0/8.

Run: ``python benchmarks/simulator.py --hosts 50 --latency-ms 50 --info-file sim.json``; it prints
one JSON line (and writes it to ``--info-file``): ``{"control": URL, "hosts": ["127.0.0.2:PORT",
...]}``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import gc
import hashlib
import ipaddress
import json
import random
import signal
import socket
import struct
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

LOOPBACK = ipaddress.ip_network("127.0.0.0/8")
CRAWLER_AGENT_PREFIX = "crawler/"
LAST_MODIFIED = email.utils.formatdate(1_700_000_000, usegmt=True)  # fixed: pages never change
MAX_HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Faults:
    """Share of paths (0..1) given each fault; chosen per path, so stable across runs."""

    not_found: float = 0.0
    rate_limit: float = 0.0  # 429 with Retry-After, once per path
    reset: float = 0.0  # connection reset (RST), once per path
    slow: float = 0.0  # answered ``slow_ms`` later than the others
    retry_after: int = 1  # seconds, for the 429s
    slow_ms: float = 500.0
    host_429: int | None = None  # host index whose first request gets 429 (smoke test)
    seed: int = 0

    def kind(self, path: str) -> str:
        if path.startswith("/_"):
            return "ok"
        digest = hashlib.blake2b(f"{self.seed}:{path}".encode(), digest_size=8).digest()
        x = struct.unpack(">Q", digest)[0] / 2**64
        for name, share in (
            ("not_found", self.not_found),
            ("rate_limit", self.rate_limit),
            ("reset", self.reset),
            ("slow", self.slow),
        ):
            if x < share:
                return name
            x -= share
        return "ok"


@dataclass
class HostStats:
    host: str
    requests: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    by_agent: dict[str, int] = field(default_factory=dict)  # crawler / other (yt-dlp)
    video_gets_other: int = 0  # GETs of /video/ pages by another agent: yt-dlp calls
    conditional: int = 0  # requests with If-None-Match / If-Modified-Since
    resets: int = 0
    inflight: int = 0
    max_inflight: int = 0
    inflight_crawler: int = 0
    max_inflight_crawler: int = 0
    open_connections: int = 0
    max_open_connections: int = 0
    connections: int = 0

    def reset_counters(self) -> None:
        fresh = HostStats(self.host)
        for name in ("inflight", "inflight_crawler", "open_connections"):
            setattr(fresh, name, getattr(self, name))  # what is open now stays open
        fresh.max_inflight = fresh.inflight
        fresh.max_inflight_crawler = fresh.inflight_crawler
        fresh.max_open_connections = fresh.open_connections
        self.__dict__.update(fresh.__dict__)


@dataclass
class Config:
    hosts: int = 4
    latency_ms: float = 50.0
    jitter_ms: float = 0.0
    faults: Faults = field(default_factory=Faults)
    deadline: float = 600.0
    events: bool = False
    first_address: int = 2  # 127.0.0.2 is host 0; 127.0.0.1 is left to the control server
    port: int = 0  # 0: one ephemeral port per host


class Simulator:
    """The shared state of all virtual hosts; ``start`` binds them, ``stop`` closes them."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.stats: list[HostStats] = []
        self.events: list[tuple[float, float, int, str, str, int, str]] = []
        self.started = time.monotonic()
        self.cpu_started = time.process_time()
        self.done_once: set[tuple[int, str]] = set()  # (host, path) whose one-off fault fired
        self.host_429_fired = False
        self.servers: list[asyncio.Server] = []
        self.addresses: list[str] = []
        self.stopped = asyncio.Event()
        self.rng = random.Random(config.faults.seed)

    def address(self, index: int) -> str:
        value = int(LOOPBACK.network_address) + self.config.first_address + index
        address = ipaddress.ip_address(value)
        if address not in LOOPBACK or address == LOOPBACK.broadcast_address:
            raise ValueError(f"host #{index} would fall outside 127.0.0.0/8")
        return str(address)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for index in range(self.config.hosts):
            ip = self.address(index)
            server = await loop.create_server(
                lambda i=index: _Connection(self, i),
                host=ip,
                port=self.config.port,
                reuse_address=True,
                backlog=1024,
            )
            port = server.sockets[0].getsockname()[1]
            self.servers.append(server)
            self.addresses.append(f"{ip}:{port}")
            self.stats.append(HostStats(f"{ip}:{port}"))

    async def stop(self) -> None:
        for server in self.servers:
            server.close()
        self.stopped.set()

    def reset(self, faults: bool) -> None:
        for s in self.stats:
            s.reset_counters()
        self.events.clear()
        self.started = time.monotonic()
        self.cpu_started = time.process_time()
        if faults:
            self.done_once.clear()
            self.host_429_fired = False

    def snapshot(self) -> dict[str, Any]:
        hosts = [asdict(s) for s in self.stats]
        total = {
            "requests": sum(s.requests for s in self.stats),
            "crawler_requests": sum(s.by_agent.get("crawler", 0) for s in self.stats),
            "other_requests": sum(s.by_agent.get("other", 0) for s in self.stats),
            "ytdlp_calls": sum(s.video_gets_other for s in self.stats),
            "conditional": sum(s.conditional for s in self.stats),
            "not_modified": sum(s.by_status.get("304", 0) for s in self.stats),
            "resets": sum(s.resets for s in self.stats),
            "max_inflight": max((s.max_inflight for s in self.stats), default=0),
            "max_inflight_crawler": max((s.max_inflight_crawler for s in self.stats), default=0),
            "max_open_connections": max((s.max_open_connections for s in self.stats), default=0),
            # The simulator's own CPU since the last reset: taken from the crawler's cores.
            "cpu_s": round(time.process_time() - self.cpu_started, 3),
        }
        return {"total": total, "hosts": hosts}

    def delay(self, extra_ms: float = 0.0) -> float:
        jitter = self.config.jitter_ms
        ms = (
            self.config.latency_ms + extra_ms + (self.rng.uniform(-jitter, jitter) if jitter else 0)
        )
        return max(0.0, ms / 1000)


@dataclass
class _Request:
    method: str
    target: str
    headers: dict[str, str]
    arrived: float
    agent: str


class _Connection(asyncio.Protocol):
    """One client connection to one virtual host; requests are answered one at a time."""

    def __init__(self, sim: Simulator, index: int) -> None:
        self.sim = sim
        self.index = index
        self.stats = sim.stats[index]
        self.transport: asyncio.Transport | None = None
        self.buffer = b""
        self.current: _Request | None = None
        self.timer: asyncio.TimerHandle | None = None

    # -- connection bookkeeping ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        s = self.stats
        s.connections += 1
        s.open_connections += 1
        s.max_open_connections = max(s.max_open_connections, s.open_connections)

    def connection_lost(self, exc: Exception | None) -> None:
        self.stats.open_connections -= 1
        if self.timer is not None:
            self.timer.cancel()
        if self.current is not None:
            self._finish(self.current, 0)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > MAX_HEAD_BYTES:
            self._close(reset=False)
            return
        self._next()

    # -- requests ------------------------------------------------------------------------

    def _next(self) -> None:
        if self.current is not None or self.transport is None:
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4 :]
        lines = head.split("\r\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            self._close(reset=False)
            return
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = headers.get("content-length", "0")
        if length.isdigit() and int(length):
            self.buffer = self.buffer[int(length) :]  # no request bodies expected: drop it
        agent = (
            "crawler" if headers.get("user-agent", "").startswith(CRAWLER_AGENT_PREFIX) else "other"
        )
        request = _Request(method.upper(), target, headers, time.monotonic(), agent)
        self.current = request
        s = self.stats
        s.requests += 1
        s.by_method[request.method] = s.by_method.get(request.method, 0) + 1
        s.by_agent[agent] = s.by_agent.get(agent, 0) + 1
        s.inflight += 1
        s.max_inflight = max(s.max_inflight, s.inflight)
        if agent == "crawler":
            s.inflight_crawler += 1
            s.max_inflight_crawler = max(s.max_inflight_crawler, s.inflight_crawler)
        path = urlsplit(target).path
        if request.method == "GET" and path.startswith("/video/") and agent == "other":
            s.video_gets_other += 1
        if "if-none-match" in headers or "if-modified-since" in headers:
            s.conditional += 1
        self._plan(request, path)

    def _plan(self, request: _Request, path: str) -> None:
        sim = self.sim
        faults = sim.config.faults
        kind = faults.kind(path)
        once_key = (self.index, path)
        extra = 0.0
        if faults.host_429 == self.index and not sim.host_429_fired:
            sim.host_429_fired = True
            kind, once_key = "rate_limit", (-1, "")
        elif kind in ("rate_limit", "reset") and once_key in sim.done_once:
            kind = "ok"
        if kind in ("rate_limit", "reset"):
            sim.done_once.add(once_key)
        if kind == "slow":
            extra = faults.slow_ms
        loop = asyncio.get_running_loop()
        self.timer = loop.call_later(sim.delay(extra), self._respond, request, path, kind)

    def _respond(self, request: _Request, path: str, kind: str) -> None:
        self.timer = None
        if self.transport is None:
            return
        if kind == "reset":
            self.stats.resets += 1
            self._finish(request, 0)
            self._close(reset=True)
            return
        status, headers, body = _answer(request, path, kind, self.sim.config.faults)
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'OK')}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        if "Content-Length" not in headers:
            head.append(f"Content-Length: {len(body)}")
        close = request.headers.get("connection", "").lower() == "close"
        if close:
            head.append("Connection: close")
        payload = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
        if request.method != "HEAD":
            payload += body
        self.transport.write(payload)
        self._finish(request, status)
        if close:
            self._close(reset=False)
        else:
            self._next()

    def _finish(self, request: _Request, status: int) -> None:
        s = self.stats
        s.inflight -= 1
        if request.agent == "crawler":
            s.inflight_crawler -= 1
        s.by_status[str(status)] = s.by_status.get(str(status), 0) + 1
        if self.sim.config.events:
            sim = self.sim
            self.sim.events.append(
                (
                    round(request.arrived - sim.started, 6),
                    round(time.monotonic() - sim.started, 6),
                    self.index,
                    request.method,
                    request.target,
                    status,
                    request.agent,
                )
            )
        self.current = None

    def _close(self, *, reset: bool) -> None:
        transport = self.transport
        if transport is None:
            return
        if reset:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                # SO_LINGER 0: close() sends RST, so the client sees "connection reset".
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()
        else:
            transport.close()


_REASONS = {
    200: "OK",
    206: "Partial Content",
    304: "Not Modified",
    404: "Not Found",
    416: "Range Not Satisfiable",
    429: "Too Many Requests",
}


def _etag(path: str) -> str:
    return '"' + hashlib.blake2b(path.encode(), digest_size=8).hexdigest() + '"'


def _size(path: str) -> int:
    # 100 KiB .. ~5 MiB, stable per path: only the ranged first KiB is ever sent to the crawler.
    return 100 * 1024 + int(hashlib.blake2b(path.encode(), digest_size=4).hexdigest(), 16) % (
        5 * 1024 * 1024
    )


def _answer(request: _Request, path: str, kind: str, faults: Faults) -> tuple[int, dict, bytes]:
    if kind == "rate_limit":
        return (
            429,
            {"Retry-After": str(faults.retry_after), "Content-Type": "text/plain"},
            b"slow down",
        )
    if kind == "not_found" or not path.startswith(("/slides/", "/page/", "/people/", "/video/")):
        return 404, {"Content-Type": "text/html"}, b"<html><title>Not found</title></html>"
    etag = _etag(path)
    base = {"ETag": etag, "Last-Modified": LAST_MODIFIED, "Cache-Control": "max-age=3600"}
    h = request.headers
    if h.get("if-none-match") == etag or (
        "if-none-match" not in h and h.get("if-modified-since") == LAST_MODIFIED
    ):
        return 304, base, b""
    name = path.rstrip("/").rsplit("/", 1)[-1]
    if path.startswith("/slides/") and path.endswith(".pdf"):
        return _pdf(request, path, base)
    if path.startswith("/video/"):
        origin = f"http://{request.headers.get('host', 'localhost')}"
        page = _video_page(name, path, origin)
        return 200, {**base, "Content-Type": "text/html; charset=utf-8"}, page
    body = (
        f"<!doctype html><html><head><title>{name}</title></head><body><h1>{name}</h1>"
        f"<p>{'Lorem ipsum dolor sit amet. ' * 40}</p></body></html>"
    ).encode()
    return 200, {**base, "Content-Type": "text/html; charset=utf-8"}, body


def _pdf(request: _Request, path: str, base: dict[str, str]) -> tuple[int, dict, bytes]:
    size = _size(path)
    headers = {**base, "Content-Type": "application/pdf", "Accept-Ranges": "bytes"}
    start, end = 0, size - 1
    status = 200
    ranged = request.headers.get("range", "")
    if ranged.startswith("bytes="):
        first, _, last = ranged[6:].partition("-")
        if first.isdigit():
            start = int(first)
            end = min(int(last), size - 1) if last.isdigit() else size - 1
            if start >= size:
                return 416, {"Content-Range": f"bytes */{size}"}, b""
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    if request.method == "HEAD":
        # The length a GET would get, without building the body.
        return status, {**headers, "Content-Length": str(end - start + 1)}, b""
    return status, headers, _pdf_bytes(start, end)


_PDF_HEAD = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n"


def _pdf_bytes(start: int, end: int) -> bytes:
    length = end - start + 1
    blob = _PDF_HEAD + b"0" * max(0, end + 1 - len(_PDF_HEAD))
    return blob[start : start + length]


def _video_page(name: str, path: str, origin: str) -> bytes:
    minutes = 20 + int(hashlib.blake2b(path.encode(), digest_size=2).hexdigest(), 16) % 70
    data = {
        "@context": "https://schema.org",
        "@type": "VideoObject",
        "name": f"Talk {name}",
        "description": f"Recording of talk {name}",
        "thumbnailUrl": f"{origin}/thumbs/{name}.jpg",
        "uploadDate": "2024-03-01T10:00:00Z",
        "duration": f"PT{minutes}M7S",
        # Absolute: yt-dlp ignores a relative contentUrl. Never fetched with process=False.
        "contentUrl": f"{origin}/media/{name}.mp4",
        "author": {"@type": "Person", "name": "Simulated Speaker"},
    }
    return (
        "<!doctype html><html><head><title>"
        + f"Talk {name}</title>"
        + '<script type="application/ld+json">'
        + json.dumps(data)
        + "</script></head><body><p>A recorded talk.</p></body></html>"
    ).encode()


# -- control server ----------------------------------------------------------------------


class _Control(asyncio.Protocol):
    """``/stats``, ``/events``, ``/reset[?faults=1]``, ``/shutdown`` on 127.0.0.1."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if b"\r\n\r\n" not in self.buffer or self.transport is None:
            return
        target = self.buffer.split(b" ", 2)[1].decode("latin-1")
        parts = urlsplit(target)
        sim = self.sim
        body: Any
        if parts.path == "/stats":
            body = sim.snapshot()
        elif parts.path == "/events":
            body = sim.events
        elif parts.path == "/reset":
            sim.reset(faults=parse_qs(parts.query).get("faults") == ["1"])
            body = {"reset": True}
        elif parts.path == "/shutdown":
            body = {"stopping": True}
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(sim.stop()))
        else:
            body = {"error": "unknown"}
        payload = json.dumps(body).encode()
        self.transport.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
            + f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        self.transport.close()


async def serve(config: Config, info_file: Path | None = None) -> None:
    """Run the simulator until ``/shutdown``, SIGTERM/SIGINT or the deadline."""
    sim = Simulator(config)
    await sim.start()
    loop = asyncio.get_running_loop()
    control = await loop.create_server(lambda: _Control(sim), host="127.0.0.1", port=0)
    control_port = control.sockets[0].getsockname()[1]
    info = {"control": f"http://127.0.0.1:{control_port}", "hosts": sim.addresses}
    line = json.dumps(info)
    if info_file is not None:
        tmp = info_file.with_suffix(".tmp")
        tmp.write_text(line + "\n")
        tmp.replace(info_file)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: asyncio.ensure_future(sim.stop()))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(config.deadline):
            await sim.stopped.wait()
    await sim.stop()
    control.close()


def parse_args(argv: list[str] | None = None) -> tuple[Config, Path | None]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hosts", type=int, default=4, help="virtual hosts (127.0.0.2, ...)")
    p.add_argument("--latency-ms", type=float, default=50.0)
    p.add_argument("--jitter-ms", type=float, default=0.0, help="uniform +/- around the latency")
    p.add_argument("--not-found", type=float, default=0.0, help="share of paths answering 404")
    p.add_argument("--rate-limit", type=float, default=0.0, help="share answering 429 once")
    p.add_argument("--reset", type=float, default=0.0, help="share reset once")
    p.add_argument("--slow", type=float, default=0.0, help="share answered --slow-ms later")
    p.add_argument("--slow-ms", type=float, default=500.0)
    p.add_argument("--retry-after", type=int, default=1, help="seconds, for the 429s")
    p.add_argument("--host-429", type=int, default=None, help="host index whose 1st request is 429")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--port", type=int, default=0, help="0: an ephemeral port per host")
    p.add_argument("--events", action="store_true", help="record every request's timestamps")
    p.add_argument("--deadline", type=float, default=600.0, help="stop after this many seconds")
    p.add_argument("--info-file", type=Path, default=None)
    a = p.parse_args(argv)
    if not 1 <= a.hosts <= 65000:
        p.error("--hosts must be between 1 and 65000")
    faults = Faults(
        not_found=a.not_found,
        rate_limit=a.rate_limit,
        reset=a.reset,
        slow=a.slow,
        retry_after=a.retry_after,
        slow_ms=a.slow_ms,
        host_429=a.host_429,
        seed=a.seed,
    )
    config = Config(
        hosts=a.hosts,
        latency_ms=a.latency_ms,
        jitter_ms=a.jitter_ms,
        faults=faults,
        deadline=a.deadline,
        events=a.events,
        port=a.port,
    )
    return config, a.info_file


def main(argv: list[str] | None = None) -> None:
    config, info_file = parse_args(argv)
    # The simulator stands for servers elsewhere; what it spends here is taken from the
    # crawler on the same cores, so it collects garbage as rarely as the crawler does.
    gc.set_threshold(50_000, 10, 10)
    asyncio.run(serve(config, info_file))


if __name__ == "__main__":
    main()
