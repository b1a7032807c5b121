"""End to end: the unmodified CLI, run as a subprocess, against real servers on 127.0.0.1.

No mocks here: real httpx checks, real yt-dlp (its generic extractor reads a page's schema.org
JSON-LD), real report files. The suite's socket guard is inherited by the subprocess, so a stray
request to anything but loopback fails the test. The proxy test routes every request through a
CONNECT proxy written below, to hosts with made-up names that only the proxy can reach.
"""

from __future__ import annotations

import json
import os
import re
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from pages import talk_page
from pytest_httpserver import HTTPServer
from raw_server import RawServer
from werkzeug import Response

ROOT = Path(__file__).resolve().parent.parent
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def write_catalog(path: Path, sessions: list[dict[str, str]]) -> Path:
    lines = ["study:", "  title: Integration Study", "sessions:"]
    for s in sessions:
        lines += [
            f'  - title: "{s["title"]}"',
            f"    date: {s['date']}",
            "    presenters:",
            f"      - name: {s.get('presenter', 'Someone')}",
        ]
        if s.get("homepage"):
            lines.append(f"        url: {s['homepage']}")
        for key in ("slides", "video"):
            if s.get(key):
                lines.append(f"    {key}: {s[key]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_cli(
    catalog: Path, report_dir: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "crawler", "check", "--catalog", str(catalog)]
    command += ["--report-dir", str(report_dir), "--timeout", "5", *extra]
    return subprocess.run(
        command,
        cwd=ROOT,
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


def by_url(report_dir: Path) -> dict[str, dict]:
    data = json.loads((report_dir / "latest.json").read_text(encoding="utf-8"))
    return {link["url"]: link for link in data["links"]}


# --- plain HTTP ------------------------------------------------------------------------------


def test_cli_reads_video_metadata_pdfs_404s_and_redirects(httpserver: HTTPServer, tmp_path):
    video = httpserver.url_for("/talks/tvm.html")
    media = httpserver.url_for("/media/tvm.mp4")
    httpserver.expect_request("/talks/tvm.html").respond_with_data(
        talk_page("TVM: An Automated Compiler", media), content_type="text/html"
    )
    httpserver.expect_request("/slides/tvm.pdf").respond_with_data(
        PDF, content_type="application/pdf"
    )
    httpserver.expect_request("/slides/gone.pdf").respond_with_data("nope", status=404)
    httpserver.expect_request("/home").respond_with_response(
        Response(status=301, headers={"Location": httpserver.url_for("/home/")})
    )
    httpserver.expect_request("/home/").respond_with_data(
        "<html>hi</html>", content_type="text/html"
    )
    slides, gone, home = (
        httpserver.url_for(p) for p in ("/slides/tvm.pdf", "/slides/gone.pdf", "/home")
    )
    catalog = write_catalog(
        tmp_path / "catalog.yaml",
        [
            {"title": "TVM", "date": "2021-02-25", "slides": slides, "video": video},
            {"title": "XLA", "date": "2021-03-11", "slides": gone, "homepage": home},
        ],
    )
    reports = tmp_path / "reports"

    done = run_cli(catalog, reports, "--allow-private")

    assert done.returncode == 1, done.stdout + done.stderr  # a broken link: exit 1
    links = by_url(reports)
    assert links[video]["status"] == "ok", links[video]["detail"]
    assert links[video]["title"] == "TVM: An Automated Compiler"
    assert links[video]["duration"] == 3723  # PT1H2M3S
    assert links[video]["upload_date"] == "20210225"
    assert links[video]["uploader"] == "Constant Park"
    assert links[slides]["status"] == "ok" and links[slides]["size"] == len(PDF)
    assert links[gone]["status"] == "broken" and links[gone]["http_status"] == 404
    assert links[home]["status"] == "redirected"
    assert links[home]["final_url"] == httpserver.url_for("/home/")
    # Metadata only: yt-dlp never asked for the media file.
    assert not any(req.path == "/media/tvm.mp4" for req, _ in httpserver.log)
    # Not a terminal (a CI log): one plain line per problem as it is found, none for ok links.
    problems = [ln for ln in done.stderr.splitlines() if ln.split(" ", 1)[0].isupper()]
    assert len(problems) == 2, done.stderr
    assert problems[0].startswith("BROKEN") or problems[1].startswith("BROKEN")
    broken = next(ln for ln in problems if ln.startswith("BROKEN"))
    assert gone in broken and "XLA" in broken and "404" in broken
    assert any(ln.startswith("REDIRECTED") and home in ln for ln in problems)
    assert done.stdout.splitlines()[-2].startswith(
        "2 sessions, 4 links: 2 ok, 1 broken, 1 redirected"
    )


def test_cli_without_allow_private_does_not_touch_loopback(httpserver: HTTPServer, tmp_path):
    video = httpserver.url_for("/talks/tvm.html")
    catalog = write_catalog(
        tmp_path / "catalog.yaml", [{"title": "TVM", "date": "2021-02-25", "video": video}]
    )
    done = run_cli(catalog, tmp_path / "reports")
    # Not a problem, but not verified healthy either: 3, never 0 (issue 16, item 10).
    assert done.returncode == 3, done.stdout + done.stderr
    assert by_url(tmp_path / "reports")[video]["status"] == "skipped"
    assert httpserver.log == []


# --- time: each link is bounded by what --timeout says ---------------------------------------


def slowloris(client: socket.socket, stop: threading.Event) -> None:
    """Answer with one header byte every half second, forever: each read is quick (no read
    timeout fires), the answer never ends."""
    client.recv(65536)
    client.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    while not stop.wait(0.5):
        client.sendall(b"z")


def test_cli_bounds_each_link_by_timeout_against_slowloris_and_endless_retry_after(
    httpserver: HTTPServer, tmp_path
):
    # --timeout 2: a link may take 4 x 2 + 10 = 18 s in all. Before, a slowloris held each
    # link 90 s whatever --timeout said, and a Retry-After of 10**20 s or the year 9999 was
    # waited for (60 s at a time) until those 90 s ran out: this run took over 90 s.
    httpserver.expect_request("/busy.pdf").respond_with_data(
        "", 429, headers={"Retry-After": "99999999999999999999"}
    )
    httpserver.expect_request("/down").respond_with_data(
        "", 503, headers={"Retry-After": "Fri, 31 Dec 9999 23:59:59 GMT"}
    )
    busy, down = httpserver.url_for("/busy.pdf"), httpserver.url_for("/down")
    with RawServer(slowloris) as slow:
        deck, home = slow.url("/deck.pdf"), slow.url("/home")
        catalog = write_catalog(
            tmp_path / "catalog.yaml",
            [
                {"title": "Slow", "date": "2021-02-25", "slides": deck, "homepage": home},
                {"title": "Busy", "date": "2021-03-11", "slides": busy, "homepage": down},
            ],
        )
        started = time.monotonic()
        done = run_cli(catalog, tmp_path / "reports", "--allow-private", "--timeout", "2")
        took = time.monotonic() - started

    # A bound, not a timing: 18 s and a start-up, against the 90 s and more of before.
    assert took < 60, f"{took:.0f} s\n{done.stdout}{done.stderr}"
    assert done.returncode == 3, done.stdout + done.stderr  # unverified only
    links = by_url(tmp_path / "reports")
    for url in (deck, home):
        assert links[url]["status"] == "unverified"
        assert re.fullmatch(
            r"gave up after \d+ s \(time allowed for one link: 18 s\)", links[url]["detail"]
        ), links[url]["detail"]
    for url in (busy, down):
        assert links[url]["status"] == "unverified"
        assert links[url]["detail"] in (
            "the server answered 429 Too Many Requests",
            "the server answered 503 Service Unavailable",
            "127.0.0.1 asked to wait (Retry-After) longer than the 18 s a link may take; "
            "not asked again",
        ), links[url]["detail"]
    assert len(httpserver.log) <= 2  # each asked at most once: no retry into the pause


# --- through a proxy, with the test's own CA ----------------------------------------------


class ConnectProxy:
    """A tiny CONNECT proxy: every tunnel goes to one local port, whatever host was asked for.

    Made-up host names (``videos.test``) resolve nowhere, and the socket guard refuses to look
    them up, so a request that reaches them at all went through this proxy.
    """

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.requests: list[str] = []  # request lines as received
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connect_targets(self) -> set[str]:
        with self._lock:
            return {r.split()[1] for r in self.requests if r.startswith("CONNECT ")}

    def __enter__(self) -> ConnectProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.close()
        self._thread.join(timeout=5)

    def _serve(self) -> None:
        self._server.settimeout(0.2)
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        with client:
            client.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = client.recv(4096)
                if not chunk:
                    return
                head += chunk
            line = head.split(b"\r\n", 1)[0].decode("latin-1")
            with self._lock:
                self.requests.append(line)
            if not line.startswith("CONNECT "):
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10) as up:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                self._pipe(client, up)

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        sockets = [a, b]
        while not self._stop.is_set():
            ready, _, _ = select.select(sockets, [], [], 0.5)
            for s in ready:
                try:
                    data = s.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                (b if s is a else a).sendall(data)


@pytest.fixture
def test_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(test_ca: trustme.CA) -> Iterator[HTTPServer]:
    """An HTTPS server on 127.0.0.1 whose certificate names the made-up hosts."""
    cert = test_ca.issue_cert("videos.test", "slides.test")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context)
    server.start()
    server.expect_request("/talk.html").respond_with_data(
        talk_page("XLA through the proxy", "https://videos.test/media/xla.mp4"),
        content_type="text/html",
    )
    server.expect_request("/deck.pdf").respond_with_data(PDF, content_type="application/pdf")
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def proxy_env(proxy: ConnectProxy, ca_file: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HTTPS_PROXY=proxy.url, HTTP_PROXY=proxy.url, NO_PROXY="")
    env.pop("SSL_CERT_FILE", None)
    if ca_file is not None:
        env["SSL_CERT_FILE"] = str(ca_file)
    return env


PROXIED = [
    {
        "title": "XLA",
        "date": "2021-03-11",
        "slides": "https://slides.test/deck.pdf",
        "video": "https://videos.test/talk.html",
    }
]


def test_cli_goes_through_the_proxy_and_trusts_the_ca_in_ssl_cert_file(
    tls_server: HTTPServer, test_ca: trustme.CA, tmp_path
):
    ca_file = tmp_path / "ca.pem"
    test_ca.cert_pem.write_to_path(str(ca_file))
    catalog = write_catalog(tmp_path / "catalog.yaml", PROXIED)
    reports = tmp_path / "reports"

    with ConnectProxy(tls_server.port) as proxy:
        done = run_cli(catalog, reports, env=proxy_env(proxy, ca_file))
        targets = proxy.connect_targets()

    assert done.returncode == 0, done.stdout + done.stderr
    # httpx checked the slides and yt-dlp read the video page, each through a tunnel.
    assert {"slides.test:443", "videos.test:443"} <= targets
    links = by_url(reports)
    slides, video = links["https://slides.test/deck.pdf"], links["https://videos.test/talk.html"]
    assert slides["status"] == "ok" and slides["size"] == len(PDF)
    assert video["status"] == "ok", video["detail"]
    assert (video["title"], video["duration"]) == ("XLA through the proxy", 3723)
    assert {req.path for req, _ in tls_server.log} >= {"/deck.pdf", "/talk.html"}


def test_cli_through_the_proxy_refuses_a_ca_it_was_not_given(
    tls_server: HTTPServer, test_ca: trustme.CA, tmp_path
):
    # The control for the test above: same proxy, no SSL_CERT_FILE, so both TLS
    # handshakes must fail certificate verification and nothing may be called ok.
    catalog = write_catalog(tmp_path / "catalog.yaml", PROXIED)
    reports = tmp_path / "reports"

    with ConnectProxy(tls_server.port) as proxy:
        done = run_cli(catalog, reports, env=proxy_env(proxy, None))
        targets = proxy.connect_targets()

    assert {"slides.test:443", "videos.test:443"} <= targets
    links = by_url(reports)
    for url in ("https://slides.test/deck.pdf", "https://videos.test/talk.html"):
        assert links[url]["status"] == "unverified", links[url]
        assert "certif" in links[url]["detail"].lower(), links[url]["detail"]
    assert done.returncode == 3, done.stdout + done.stderr
    assert tls_server.log == []  # no request got past a handshake
