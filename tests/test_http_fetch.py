"""One request and its redirects (``crawler.http.fetch``): answers passed through, cookies
kept, loops found, credentials kept to their host, bodies read up to the cap, URLs sent
byte-exact, through respx and through the default aiohttp transport on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator

import httpx
import pytest
import respx
from engine_fakes import FAST, Sleeps, engine, fetch, make_link
from pytest_httpserver import HTTPServer
from raw_server import RawServer, read_head
from werkzeug import Request, Response

from crawler.config import Settings
from crawler.engine import Engine, default_user_agent
from crawler.model import Hop, LinkResult, Status
from crawler.services.base import FetchResult

# -- answers pass through ------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 204, 400, 401, 403, 404, 410, 451, 500])
@respx.mock
def test_every_status_passes_through_untouched(status):
    route = respx.get("https://example.org/x").respond(status, text="body")
    fr = fetch("https://example.org/x")
    assert fr.status == status
    assert fr.error is None and fr.error_kind is None
    assert fr.attempts == 1 and route.call_count == 1  # not a transient status: no retry


@respx.mock
def test_user_agent_names_the_crawler_and_headers_are_case_insensitive():
    route = respx.get("https://example.org/").respond(200, headers={"Content-Type": "text/html"})
    fr = fetch("https://example.org/")
    assert route.calls.last.request.headers["user-agent"] == default_user_agent()
    assert default_user_agent().startswith("crawler/")
    assert fr.headers["content-type"] == "text/html"
    custom = Settings(user_agent="study-bot/1")
    fetch("https://example.org/", custom)
    assert route.calls.last.request.headers["user-agent"] == "study-bot/1"


@respx.mock
def test_a_cookie_set_on_a_redirect_is_sent_back_so_consent_walls_do_not_loop():
    # The usual consent wall: "set this cookie and come back"; without the cookie it is a loop.
    def page(request: httpx.Request) -> httpx.Response:
        if "consent=yes" in request.headers.get("cookie", ""):
            return httpx.Response(200, text="the talk")
        return httpx.Response(
            302,
            headers={"Location": "https://example.org/talk", "Set-Cookie": "consent=yes; Path=/"},
        )

    respx.get("https://example.org/talk").mock(side_effect=page)
    fr = fetch("https://example.org/talk")
    assert fr.status == 200 and fr.error is None
    assert [h.status for h in fr.hops] == [302]


@respx.mock
def test_a_server_that_sets_a_cookie_on_every_bounce_still_ends_at_the_redirect_limit():
    respx.get("https://example.org/talk").respond(
        302, headers={"Location": "https://example.org/talk", "Set-Cookie": "n=1"}
    )
    fr = fetch("https://example.org/talk", Settings(max_redirects=3, retries=1))
    assert fr.status is None and fr.error_kind == "too-many-redirects"


@respx.mock
def test_timeouts_and_the_services_headers_reach_the_transport():
    route = respx.get("https://example.org/x").respond(200)
    fetch(
        "https://example.org/x",
        Settings(connect_timeout=3, read_timeout=7),
        headers={"Range": "bytes=0-9"},
    )
    sent = route.calls.last.request
    assert sent.extensions["timeout"] == {"connect": 3, "read": 7, "write": 7, "pool": 3}
    assert sent.headers["range"] == "bytes=0-9"
    assert sent.headers["accept-encoding"]  # httpx's defaults are kept
    assert "cookie" not in sent.headers  # no server set one


# -- redirects -----------------------------------------------------------------------------


@respx.mock
def test_redirect_chain_is_followed_and_every_hop_recorded():
    respx.get("https://example.org/a").respond(301, headers={"Location": "https://a.example/b"})
    respx.get("https://a.example/b").respond(302, headers={"Location": "https://b.example/c"})
    respx.get("https://b.example/c").respond(200, text="here")
    fr = fetch("https://example.org/a")
    assert fr.status == 200 and fr.body == b"here"
    assert fr.url == "https://example.org/a"
    assert fr.final_url == "https://b.example/c"
    assert fr.hops == [Hop("https://example.org/a", 301), Hop("https://a.example/b", 302)]


@respx.mock
def test_relative_locations_are_resolved_against_the_current_url():
    respx.get("https://example.org/dir/a").respond(302, headers={"Location": "b?x=1"})
    respx.get("https://example.org/dir/b?x=1").respond(307, headers={"Location": "/top"})
    respx.get("https://example.org/top").respond(200)
    fr = fetch("https://example.org/dir/a")
    assert fr.status == 200
    assert [h.url for h in fr.hops] == [
        "https://example.org/dir/a",
        "https://example.org/dir/b?x=1",
    ]
    assert fr.final_url == "https://example.org/top"


@respx.mock
def test_redirect_not_followed_when_asked():
    respx.get("https://example.org/a").respond(301, headers={"Location": "/b"})
    fr = fetch("https://example.org/a", follow_redirects=False)
    assert fr.status == 301 and fr.hops == [] and fr.headers["location"] == "/b"


@respx.mock
def test_redirect_loop_is_detected():
    respx.get("https://example.org/a").respond(302, headers={"Location": "/b"})
    respx.get("https://example.org/b").respond(302, headers={"Location": "/a"})
    fr = fetch("https://example.org/a")
    assert fr.error_kind == "redirect-loop"
    assert fr.status is None
    assert len(fr.hops) == 2
    assert "https://example.org/a" in (fr.error or "")


@respx.mock
def test_too_many_redirects():
    for i in range(6):
        respx.get(f"https://example.org/{i}").respond(301, headers={"Location": f"/{i + 1}"})
    fr = fetch("https://example.org/0", Settings(max_redirects=3))
    assert fr.error_kind == "too-many-redirects"
    assert len(fr.hops) == 4  # three followed, the fourth refused
    assert fr.error == "more than 3 redirects"


@respx.mock
def test_authorization_is_not_sent_to_another_host():
    first = respx.get("https://example.org/f").respond(
        302, headers={"Location": "https://a.example/f"}
    )
    second = respx.get("https://a.example/f").respond(200)
    fetch("https://example.org/f", headers={"Authorization": "token secret"})
    assert first.calls.last.request.headers["authorization"] == "token secret"
    assert "authorization" not in second.calls.last.request.headers


@respx.mock
def test_a_loop_is_still_a_loop_when_other_sites_set_cookies_meanwhile():
    respx.get("https://cookies.example/").respond(200, headers={"Set-Cookie": "a=1"})
    respx.get("https://example.org/a").respond(302, headers={"Location": "https://example.org/b"})
    respx.get("https://example.org/b").respond(302, headers={"Location": "https://example.org/a"})

    async def main() -> FetchResult:
        async with engine(FAST) as e:
            await e.fetch("https://cookies.example/")  # a cookie set elsewhere in the run
            return await e.fetch("https://example.org/a")

    fr = asyncio.run(main())
    assert fr.error_kind == "redirect-loop"


@respx.mock
def test_a_redirect_to_a_name_idna_forbids_is_refused_not_crashed():
    respx.get("https://example.org/a").respond(302, headers={"Location": "https://xn--n3h.net/"})
    fr = fetch("https://example.org/a", Settings(allow_private=True))
    assert fr.error_kind == "refused" and fr.hops == [Hop("https://example.org/a", 302)]
    assert (fr.error or "").startswith("refused: not a valid URL (Codepoint U+2603")


# -- bodies --------------------------------------------------------------------------------


class CountingStream(httpx.AsyncByteStream):
    """1 MiB in 1 KiB chunks, counting how many were pulled from the 'wire'."""

    def __init__(self, chunks: int = 1024) -> None:
        self.total = chunks
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.total):
            self.pulled += 1
            yield b"x" * 1024


def test_body_is_capped_and_the_rest_never_read():
    stream = CountingStream()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, stream=stream))
    fr = fetch("https://example.org/big", transport=transport, max_bytes=4096)
    assert fr.body == b"x" * 4096
    assert stream.pulled <= 5  # not the 1024 chunks the server offered


def test_default_body_cap_is_the_settings_cap():
    stream = CountingStream()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, stream=stream))
    fr = fetch("https://example.org/big", transport=transport)
    assert len(fr.body) == FAST.max_body_bytes == 64 * 1024
    assert stream.pulled <= 65


def test_head_reads_no_body():
    stream = CountingStream()
    transport = httpx.MockTransport(lambda request: httpx.Response(200, stream=stream))
    fr = fetch("https://example.org/big", transport=transport, method="HEAD")
    assert fr.status == 200 and fr.body == b""
    assert stream.pulled == 0


# -- URLs on the wire ----------------------------------------------------------------------


ASYMO = "AsyMo-%E1%84%80%E1%85%A9%E1%86%BC%E1%84%80%E1%85%A2%E1%84%8B%E1%85%AD%E1%86%BC.pptx.pdf"


@pytest.mark.parametrize(
    "path",
    [
        f"/ConstantPark/DL_Compiler/raw/main/{ASYMO}",
        "/slides/Deep%20Learning%20Compiler.pdf",
        "/files/%5BTVM%5D%20intro.pdf",
        "/q?name=%41%2F%7e&x=a+b",
    ],
)
@respx.mock
def test_url_goes_on_the_wire_byte_exact(path):
    route = respx.get(host="example.org").respond(200)
    fetch(f"https://example.org{path}")
    assert route.calls.last.request.url.raw_path == path.encode("ascii")


# -- the production transport against a real server ----------------------------------------


def test_default_transport_against_a_real_local_server(httpserver: HTTPServer):
    raw_paths: list[str] = []

    def record(request: Request) -> Response:
        raw_paths.append(request.environ.get("RAW_URI") or request.environ["REQUEST_URI"])
        return Response("deck", 200, content_type="application/pdf")

    httpserver.expect_request("/ok").respond_with_data("hello", content_type="text/plain")
    httpserver.expect_request("/moved").respond_with_data("", 301, headers={"Location": "/ok"})
    httpserver.expect_request("/big").respond_with_data(b"x" * (1 << 20))
    httpserver.expect_request("/gone").respond_with_data("no", 404)
    httpserver.expect_request(re.compile("/files/.*")).respond_with_handler(record)
    raw = f"/files/{ASYMO}"
    odd = "/files/%5BTVM%5D%20a.pdf?q=%41%2F"
    base = f"http://127.0.0.1:{httpserver.port}"
    settings = Settings(allow_private=True, max_body_bytes=1000, retries=1)

    async def main() -> list[FetchResult]:
        async with Engine(settings, services=[]) as e:  # default transport: aiohttp
            return [
                await e.fetch(f"{base}/ok"),
                await e.fetch(f"{base}/moved"),
                await e.fetch(f"{base}/big"),
                await e.fetch(f"{base}/gone"),
                await e.fetch(f"{base}{raw}"),
                await e.fetch(f"{base}{odd}"),
                await e.fetch(f"{base}/ok", method="HEAD"),
            ]

    ok, moved, big, gone, asymo, odd_result, head = asyncio.run(main())
    assert ok.status == 200 and ok.body == b"hello" and ok.headers["content-type"] == "text/plain"
    assert moved.status == 200 and moved.hops == [Hop(f"{base}/moved", 301)]
    assert big.status == 200 and len(big.body) == 1000
    assert gone.status == 404
    assert asymo.status == 200 and odd_result.status == 200
    assert raw_paths == [raw, odd]  # byte-exact on the wire, through aiohttp too
    assert head.status == 200 and head.body == b""


def test_a_body_after_a_head_answer_is_confirmed_with_a_get():
    # aiohttp reads those 5 bytes as the next answer's status line and fails the HEAD; the
    # link is neither unverified nor retried as HEAD: one GET (its body unread) confirms it.
    from crawler.services.generic import GenericService

    lines: list[str] = []

    def answer_with_a_body(client: socket.socket, stop: threading.Event) -> None:
        lines.append(read_head(client).split(b"\r\n", 1)[0].decode("latin-1"))
        client.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")

    settings = Settings(allow_private=True, connect_timeout=5, read_timeout=5)

    async def main(url: str) -> tuple[FetchResult, LinkResult]:
        async with Engine(settings, services=[GenericService()], sleep=Sleeps()) as e:
            head = await e.fetch(url, method="HEAD")
            return head, await e.check_link(make_link(url))

    with RawServer(answer_with_a_body) as server:
        head, result = asyncio.run(main(server.url("/page")))
    assert head.status == 200 and head.error is None and head.body == b""
    assert result.status is Status.OK and result.detail == "reachable (HTTP 200)"
    assert lines == ["HEAD /page HTTP/1.1", "GET /page HTTP/1.1"] * 2


GZIP_BOMB_PROBE = """
import asyncio, resource, socket, threading, zlib
from crawler.engine import Engine
from crawler.config import Settings

deflate = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
bomb = b"".join([deflate.compress(bytes(1 << 20)) for _ in range(64)] + [deflate.flush()])
small = zlib.compress(b"a small page", 9, wbits=16 + zlib.MAX_WBITS)
server = socket.create_server(("127.0.0.1", 0))

def serve() -> None:
    while True:
        client, _ = server.accept()
        with client:
            path = client.recv(65536).split(b" ")[1]
            body = bomb if path == b"/bomb" else small
            head = b"HTTP/1.1 200 OK\\r\\nContent-Encoding: gzip\\r\\nConnection: close\\r\\n"
            client.sendall(head + b"Content-Length: %d\\r\\n\\r\\n" % len(body) + body)

threading.Thread(target=serve, daemon=True).start()
base = f"http://127.0.0.1:{server.getsockname()[1]}"

async def main() -> None:
    async with Engine(Settings(allow_private=True), services=[]) as engine:
        assert (await engine.fetch(f"{base}/small")).body == b"a small page"
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for _ in range(3):
            assert len((await engine.fetch(f"{base}/bomb")).body) == 64 * 1024
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) // 1024)

asyncio.run(main())
"""


def test_a_gzip_bomb_is_never_unpacked_beyond_the_body_cap():
    # 64 KiB kept of a 64 MiB gzip of zeros (65 KB on the wire): httpx decoded whole chunks,
    # 16 MiB at a time (32 MB more memory for this process); now nothing is unpacked
    # past the cap. Measured from the outside: the peak memory of a process that fetches it.
    run = subprocess.run(
        [sys.executable, "-c", GZIP_BOMB_PROBE], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    grown_mb = int(run.stdout.strip())
    assert grown_mb < 6, f"the peak memory grew by {grown_mb} MB"


def test_gzip_and_both_forms_of_deflate_are_decoded():
    import zlib

    page = b"<html>a talk</html>" * 50
    raw_deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    bodies = {
        b"/gzip": (b"gzip", zlib.compress(page, wbits=16 + zlib.MAX_WBITS)),
        b"/zlib": (b"deflate", zlib.compress(page)),
        b"/raw": (b"deflate", raw_deflate.compress(page) + raw_deflate.flush()),  # no header
        b"/damaged": (b"gzip", zlib.compress(page, wbits=16 + zlib.MAX_WBITS)[:40] + b"junk"),
    }

    def answer(client: socket.socket, stop: threading.Event) -> None:
        coding, body = bodies[read_head(client).split(b" ")[1]]
        head = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Encoding: " + coding
        client.sendall(head + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)

    async def main(server: RawServer) -> list[bytes]:
        async with Engine(Settings(allow_private=True), services=[]) as e:
            return [(await e.fetch(server.url(p.decode()))).body for p in bodies]

    with RawServer(answer) as server:
        gzip, zlib_deflate, raw, damaged = asyncio.run(main(server))
    assert gzip == zlib_deflate == raw == page
    assert page.startswith(damaged)  # what decoded before the damage is kept
