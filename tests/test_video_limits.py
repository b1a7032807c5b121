"""Video links are bounded like every other link, seen from the outside.

The unmodified CLI runs in a subprocess under a memory limit against hostile servers on
127.0.0.1: an endless page, a gzip bomb, pages that are not videos, a redirect to an internal
address behind a proxy. yt-dlp reads these itself, past the engine's limits; the bounds its
worker process puts on it (``crawler/services/youtube/worker.py``) are what these tests measure.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import resource
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Self

import pytest
from pages import talk_page

ROOT = Path(__file__).resolve().parent.parent
# A normal run of the CLI with its yt-dlp workers stays far below this (measured here: the
# control test below passes with 200 MiB of address space per process); an unbounded read of
# the bomb (2.1 GB seen) or of the endless page (24 GB) does not.
MEMORY_LIMIT = 3 * 2**29  # 1.5 GiB of address space, per process
UNPACKED = 2**30  # what the bomb inflates to


@cache
def gzip_bomb() -> bytes:
    """1 GiB of zeros, gzip-compressed to about 1 MiB, built in milliseconds.

    Each MiB of zeros after the first compresses to the same bytes once the compressor is
    flushed at a byte boundary, so the middle is that segment repeated.
    """
    zeros = bytes(2**20)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    repeated = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    assert deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH) == repeated
    last = deflate.flush(zlib.Z_FINISH)
    crc = 0
    for _ in range(UNPACKED // len(zeros)):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, UNPACKED % 2**32)
    middle = repeated * (UNPACKED // len(zeros) - 2)
    return header + first + middle + repeated + last + trailer


def test_the_bomb_is_what_it_claims():
    bomb = gzip_bomb()
    assert len(bomb) < 2 * 2**20
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    total = 0
    chunk = inflater.decompress(bomb, 2**24)
    while chunk:
        assert not chunk.strip(b"\0")
        total += len(chunk)
        chunk = inflater.decompress(inflater.unconsumed_tail, 2**24)
    assert total == UNPACKED and inflater.eof  # a valid gzip stream, CRC and length included


Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


class Running:
    """An ``http.server`` on 127.0.0.1 in a thread, for the time of a ``with`` block."""

    def __init__(self, handler: type[http.server.BaseHTTPRequestHandler]) -> None:
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class Server(Running):
    """A plain HTTP/1.0 server whose pages are Python functions."""

    def __init__(self, pages: dict[str, Handler]) -> None:
        pages_ = pages

        class Handle(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                page = pages_.get(self.path)
                if page is None:
                    self.send_error(404)
                    return
                # The client may stop reading: what the limits are for.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    page(self)

        super().__init__(Handle)


def send(handler: http.server.BaseHTTPRequestHandler, body: bytes, **headers: str) -> None:
    handler.send_response(200)
    for name, value in {"Content-Length": str(len(body)), **headers}.items():
        handler.send_header(name.replace("_", "-"), value)
    handler.end_headers()
    handler.wfile.write(body)


def endless(handler: http.server.BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.end_headers()
    handler.wfile.write(b"<!doctype html><html><head><title>Endless</title></head><body>")
    chunk = b"<p>" + b"a" * 65536 + b"</p>"
    while True:  # until the client hangs up
        handler.wfile.write(chunk)


PAGES: dict[str, Handler] = {
    "/endless": endless,
    "/bomb": lambda h: send(h, gzip_bomb(), Content_Type="text/html", Content_Encoding="gzip"),
    "/talk": lambda h: send(
        h, talk_page("Bounded talk", "http://127.0.0.1/talk.mp4").encode(), Content_Type="text/html"
    ),
    "/deck.pdf": lambda h: send(h, b"%PDF-1.4\n" + b"%" * 2000, Content_Type="application/pdf"),
    "/one-byte": lambda h: send(h, b"x", Content_Type="text/html"),
    "/talk.mp4": lambda h: send(h, b"\0\0\0\x18ftypmp42" + bytes(512), Content_Type="video/mp4"),
}


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    gzip_bomb()  # built once, before any request waits for it
    with Server(PAGES) as running:
        yield running


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def check_videos(tmp_path: Path, urls: list[str], *extra: str, env: dict[str, str] | None = None):
    """Run ``crawler check`` on one session per video URL, under the memory limit."""
    lines = ["study:", "  title: Limits", "sessions:"]
    for i, url in enumerate(urls, 1):
        lines += [
            f"  - title: Talk {i}",
            f"    date: 2021-01-{i:02d}",
            "    presenters:",
            "      - name: Someone",
            f"    video: {url}",
        ]
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("\n".join(lines) + "\n", encoding="utf-8")
    reports = tmp_path / "reports"
    command = [sys.executable, "-m", "crawler", "check", "--catalog", str(catalog), *extra]
    done = subprocess.run(
        [*command, "--report-dir", str(reports), "--timeout", "10"],
        cwd=ROOT,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit_memory,
    )
    try:
        data = json.loads((reports / "latest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        pytest.fail(f"no report; exit {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done, {link["url"]: link for link in data["links"]}


# --- bytes -----------------------------------------------------------------------------------


def test_a_normal_video_page_passes_under_the_memory_limit(server, tmp_path):
    # The control: the limit leaves room for a real run, yt-dlp and all.
    done, links = check_videos(tmp_path, [server.url("/talk")], "--allow-private")
    assert done.returncode == 0, done.stdout + done.stderr
    assert links[server.url("/talk")]["title"] == "Bounded talk"


def test_an_endless_page_and_a_gzip_bomb_are_cut_off_at_the_limit(server, tmp_path):
    endless_url, bomb_url = server.url("/endless"), server.url("/bomb")
    done, links = check_videos(tmp_path, [endless_url, bomb_url], "--allow-private")
    for url in (endless_url, bomb_url):
        link = links[url]
        assert link["status"] == "unverified", link
        assert link["detail"] == (
            "not checked: the page is larger than 16 MiB (yt-dlp reads at most that much of a page)"
        ), link
        assert link["title"] is None
    assert done.returncode == 3, done.stdout + done.stderr  # unverified only


# --- only a video is a video -----------------------------------------------------------------


def test_a_video_link_to_a_pdf_or_a_one_byte_page_is_not_a_video(server, tmp_path):
    pdf, one_byte, mp4 = (server.url(p) for p in ("/deck.pdf", "/one-byte", "/talk.mp4"))
    done, links = check_videos(tmp_path, [pdf, one_byte, mp4], "--allow-private")
    # A PDF where a video belongs is a wrong catalogue entry: definitive.
    assert links[pdf]["status"] == "broken", links[pdf]
    assert links[pdf]["detail"] == "not a video: a PDF document (application/pdf)"
    assert links[pdf]["title"] is None  # not the file name
    # A page that is not even HTML says nothing definitive, but it is no video either.
    assert links[one_byte]["status"] == "unverified", links[one_byte]
    assert links[one_byte]["detail"] == (
        "no video found: the link serves a page that is not HTML (text/html), not a video page"
    )
    # The video file itself is a video, if one without a title.
    assert links[mp4]["status"] == "ok", links[mp4]
    assert links[mp4]["detail"].startswith("a media file (video/mp4)")
    assert done.returncode == 1, done.stdout + done.stderr


# --- behind a proxy, every hop of yt-dlp is judged --------------------------------------------


class LoggingProxy(Running):
    """A plain HTTP proxy that logs every request line it is asked and serves them all from
    one local server (the made-up ``videos.test`` reaches it only through this proxy)."""

    def __init__(self, upstream: Server) -> None:
        self.asked: list[str] = []
        self.upstream_port = upstream.httpd.server_address[1]
        proxy = self

        class Handle(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy.asked.append(self.requestline)
                host = self.path.split("/")[2] if "://" in self.path else ""
                if host != "videos.test":
                    self.send_error(502)  # never forwarded anywhere but the local server
                    return
                path = "/" + self.path.split("/", 3)[3]
                with socket.create_connection(("127.0.0.1", proxy.upstream_port)) as up:
                    up.sendall(f"GET {path} HTTP/1.0\r\nHost: videos.test\r\n\r\n".encode())
                    while data := up.recv(65536):
                        self.wfile.write(data)

        super().__init__(Handle)


def redirect_to_internal(handler: http.server.BaseHTTPRequestHandler) -> None:
    handler.send_response(302)
    handler.send_header("Location", "http://10.0.0.5/talk")
    handler.send_header("Content-Length", "0")
    handler.end_headers()


def test_behind_a_proxy_yt_dlp_is_not_led_to_an_internal_address(tmp_path):
    with Server({"/talk": redirect_to_internal}) as site, LoggingProxy(site) as proxy:
        env = dict(os.environ, HTTP_PROXY=proxy.url(), HTTPS_PROXY=proxy.url(), NO_PROXY="")
        # (The exit code of a run with nothing checked is another item's business.)
        _, links = check_videos(tmp_path, ["http://videos.test/talk"], env=env)
    link = links["http://videos.test/talk"]
    assert link["status"] == "skipped", link
    assert link["detail"] == (
        "not checked: yt-dlp was led to 10.0.0.5, a private address "
        "(use --allow-private to check it)"
    )
    assert "GET http://videos.test/talk HTTP/1.1" in proxy.asked  # the page was read
    assert not [line for line in proxy.asked if "10.0.0.5" in line], proxy.asked


# --- time ------------------------------------------------------------------------------------


def slowloris(handler: http.server.BaseHTTPRequestHandler) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "text/html")
    handler.end_headers()
    while True:  # a byte now and then: no read ever times out
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.2)


def test_yt_dlp_gives_up_before_the_link_s_budget_and_says_so():
    from crawler.config import Settings
    from crawler.engine import check_links
    from crawler.links import make_link
    from crawler.services.youtube import YouTubeService

    with Server({"/slow": slowloris}) as site:
        link = make_link("2021-01-01-slow", "Slow", "2021-01-01", "video", site.url("/slow"))
        settings = Settings(link_timeout=4.0, allow_private=True, video_workers=1)
        [result] = check_links([link], settings, services=[YouTubeService()])
    # yt-dlp's own limit fired first, so the words say what was slow (the engine's outer
    # budget would only say "gave up after 4 s").
    assert result.status.value == "unverified", result
    assert re.fullmatch(
        r"gave up after [\d.]+ s: yt-dlp did not finish reading the video", result.detail
    ), result.detail


def test_a_video_waiting_for_a_busy_yt_dlp_worker_is_not_charged_for_the_wait():
    """One yt-dlp worker, held by a slow page for its whole budget: the next video waits
    that long for it, and is then checked, not given up on (its time starts with its turn)."""
    from crawler.config import Settings
    from crawler.engine import check_links
    from crawler.links import make_link
    from crawler.services.youtube import YouTubeService

    with Server({"/slow": slowloris, "/talk": PAGES["/talk"]}) as site:
        links = [
            make_link("2021-01-01-slow", "Slow", "2021-01-01", "video", site.url("/slow")),
            make_link("2021-01-02-talk", "Talk", "2021-01-02", "video", site.url("/talk")),
        ]
        settings = Settings(link_timeout=4.0, allow_private=True, video_workers=1)
        slow, talk = check_links(links, settings, services=[YouTubeService()])
    assert slow.status.value == "unverified", slow
    assert "yt-dlp did not finish" in slow.detail, slow.detail
    assert talk.status.value == "ok", talk
    assert talk.title == "Bounded talk"
