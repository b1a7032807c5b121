"""The aiohttp transport against real servers on 127.0.0.1: bytes, errors, certificates."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
import trustme
from pytest_httpserver import HTTPServer
from raw_server import RawServer, read_head
from werkzeug import Request, Response

from crawler.config import Settings
from crawler.engine import Engine
from crawler.services.base import FetchResult
from crawler.transport import ExactAiohttpTransport, PinnedResolver

LOCAL = Settings(allow_private=True, retries=2, connect_timeout=2.0, read_timeout=0.3)


async def _no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


def fetch_with_engine(url: str, settings: Settings = LOCAL) -> FetchResult:
    async def main() -> FetchResult:
        async with Engine(settings, services=[], sleep=_no_sleep) as engine:
            return await engine.fetch(url)

    return asyncio.run(main())


def test_percent_escapes_reach_the_server_untouched(httpserver: HTTPServer):
    seen: list[str] = []

    def record(request: Request) -> Response:
        seen.append(request.environ["RAW_URI"])
        return Response("ok")

    httpserver.expect_request(re.compile(".*")).respond_with_handler(record)
    # yarl, left to itself, would send /~user/A?q=/ for this one.
    path = "/%7euser/%41%20%5B1%5D.pdf?q=%2F&r=a+b"

    async def main() -> int:
        async with httpx.AsyncClient(transport=ExactAiohttpTransport()) as client:
            response = await client.get(f"http://127.0.0.1:{httpserver.port}{path}")
            return response.status_code

    assert asyncio.run(main()) == 200
    assert seen == [path]


def test_unread_body_is_dropped_with_its_connection(httpserver: HTTPServer):
    httpserver.expect_request("/big").respond_with_data(b"y" * (4 << 20))
    httpserver.expect_request("/small").respond_with_data(b"small")

    async def main() -> tuple[bytes, bytes]:
        async with httpx.AsyncClient(transport=ExactAiohttpTransport()) as client:
            async with client.stream("GET", httpserver.url_for("/big")) as response:
                first = b""
                async for chunk in response.aiter_raw():
                    first = chunk
                    break
            # The same client still works: the half-read connection was not reused.
            second = (await client.get(httpserver.url_for("/small"))).content
            return first, second

    first, second = asyncio.run(main())
    assert first and set(first) == {ord("y")}
    assert second == b"small"


@contextlib.asynccontextmanager
async def raw_server(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[int]:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


def test_server_closing_without_answer_is_retried_then_reported():
    connections = 0

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    async def main() -> FetchResult:
        async with (
            raw_server(hang_up) as port,
            Engine(LOCAL, services=[], sleep=_no_sleep) as engine,
        ):
            return await engine.fetch(f"http://127.0.0.1:{port}/")

    fr = asyncio.run(main())
    assert fr.error_kind == "network"
    assert fr.error == "127.0.0.1 closed the connection without a complete answer"
    assert fr.attempts == 2
    # aiohttp itself re-sends an idempotent request once when the server hangs up (RFC 9112
    # retry of a dropped keep-alive), so each engine attempt may be two connections.
    assert 2 <= connections <= 4


def test_silent_server_is_a_read_timeout():
    release = asyncio.Event()

    async def say_nothing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()
        writer.close()

    async def main() -> FetchResult:
        async with raw_server(say_nothing) as port:
            async with Engine(LOCAL, services=[], sleep=_no_sleep) as engine:
                result = await engine.fetch(f"http://127.0.0.1:{port}/")
            release.set()
            return result

    fr = asyncio.run(main())
    assert fr.error_kind == "timeout"
    assert fr.error == "timed out after 0.3 s waiting for 127.0.0.1"


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(ca: trustme.CA) -> HTTPServer:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    server = HTTPServer(host="127.0.0.1", ssl_context=context)
    server.expect_request("/deck.pdf").respond_with_data(
        b"%PDF-1.7", content_type="application/pdf"
    )
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def test_untrusted_certificate_is_a_network_error_not_retried(tls_server, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    fr = fetch_with_engine(f"https://127.0.0.1:{tls_server.port}/deck.pdf")
    assert fr.error_kind == "network"
    assert (fr.error or "").startswith("TLS certificate verify failed for 127.0.0.1")
    assert fr.attempts == 1  # a bad certificate does not fix itself


def test_ssl_cert_file_is_honoured(tls_server, ca, monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    fr = fetch_with_engine(f"https://127.0.0.1:{tls_server.port}/deck.pdf")
    assert fr.error is None
    assert fr.status == 200 and fr.body == b"%PDF-1.7"


def test_requests_go_through_the_proxy_from_the_environment(httpserver: HTTPServer, monkeypatch):
    # The local server plays an HTTP proxy: it receives the absolute URL and answers for it.
    seen: list[str] = []

    def proxy(request: Request) -> Response:
        seen.append(request.environ["RAW_URI"])
        return Response("via proxy")

    httpserver.expect_request(re.compile(".*")).respond_with_handler(proxy)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{httpserver.port}")

    async def no_lookups(host: str) -> list[str]:
        raise AssertionError("the proxy resolves names, not the crawler")

    async def main() -> tuple[str | None, FetchResult]:
        async with Engine(Settings(), services=[], resolver=no_lookups) as engine:
            url = "http://talks.example/AsyMo-%E1%84%80.pdf"
            return engine.proxy_for(url), await engine.fetch(url)

    proxy_url, fr = asyncio.run(main())
    assert proxy_url == f"http://127.0.0.1:{httpserver.port}"
    assert fr.status == 200 and fr.body == b"via proxy"
    assert seen == ["http://talks.example/AsyMo-%E1%84%80.pdf"]


def test_long_response_headers_are_accepted(httpserver: HTTPServer):
    policy = "default-src 'self'; " + "img-src https://cdn.example; " * 600  # ~18 KB
    httpserver.expect_request("/").respond_with_data(
        "ok", headers={"Content-Security-Policy": policy}
    )
    fr = fetch_with_engine(httpserver.url_for("/"))
    assert fr.status == 200
    assert fr.headers["content-security-policy"] == policy.strip()


# -- names resolve through the engine's lookup (no DNS rebinding) -------------------------

CHECKED = Settings(allow_private=False, retries=2, connect_timeout=2.0, read_timeout=0.3)


def fetch_in_turn(
    urls: list[str], answers: list, settings: Settings = CHECKED
) -> tuple[list[FetchResult], list[str]]:
    """``urls`` fetched one after the other by one engine whose DNS gives ``answers`` in
    order (an exception among them is raised): the results, and the names it was asked."""
    pending = list(answers)
    asked: list[str] = []

    async def resolver(host: str) -> list[str]:
        asked.append(host)
        answer = pending.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def main() -> list[FetchResult]:
        async with Engine(settings, services=[], resolver=resolver, sleep=_no_sleep) as engine:
            return [await engine.fetch(url) for url in urls]

    return asyncio.run(main()), asked


def test_pinned_resolver_answers_in_aiohttp_s_shape_by_family():
    async def lookup(host: str) -> list[str]:
        return ["93.184.216.34", "2606:2800:220:1::1"]

    resolver = PinnedResolver(lookup)
    both = asyncio.run(resolver.resolve("example.org", 443, socket.AF_UNSPEC))
    assert [(r["host"], r["family"], r["port"], r["hostname"]) for r in both] == [
        ("93.184.216.34", socket.AF_INET, 443, "example.org"),
        ("2606:2800:220:1::1", socket.AF_INET6, 443, "example.org"),
    ]
    v6 = asyncio.run(resolver.resolve("example.org", 80, socket.AF_INET6))
    assert [r["host"] for r in v6] == ["2606:2800:220:1::1"]

    async def only_v6(host: str) -> list[str]:
        return ["2606:2800:220:1::1"]

    with pytest.raises(OSError, match=r"no usable address for example\.org"):
        asyncio.run(PinnedResolver(only_v6).resolve("example.org", 80, socket.AF_INET))


def test_transport_connects_to_the_address_its_lookup_gave(httpserver: HTTPServer):
    # "pinned.test" exists nowhere (the test network guard would refuse looking it up): the
    # request can only reach the local server through the lookup handed to the transport.
    httpserver.expect_request("/a").respond_with_data(b"pinned")
    asked: list[str] = []

    async def lookup(host: str) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    async def main() -> bytes:
        transport = ExactAiohttpTransport(lookup=lookup)
        async with httpx.AsyncClient(transport=transport) as client:
            return (await client.get(f"http://pinned.test:{httpserver.port}/a")).content

    assert asyncio.run(main()) == b"pinned"
    assert asked == ["pinned.test"]


def test_engine_connects_to_the_addresses_its_safety_check_judged(
    httpserver: HTTPServer, monkeypatch
):
    # A DNS server that answers a public address for the check and an internal one for the
    # connection (DNS rebinding) is never asked twice. Here the local server stands for the
    # public address: the check is told to accept it, and records what it judged.
    from crawler import safety

    judged: list[tuple[str, list[str]]] = []

    def accept(host: str, addresses) -> None:
        judged.append((host, list(addresses)))

    monkeypatch.setattr(safety, "addresses_refusal", accept)
    httpserver.expect_request("/a").respond_with_data(b"a")
    httpserver.expect_request("/b").respond_with_data(b"b")
    base = f"http://pinned.test:{httpserver.port}"
    # The second answer would be the rebinding.
    (first, second), asked = fetch_in_turn(
        [f"{base}/a", f"{base}/b"], [["127.0.0.1"], ["10.0.0.99"]]
    )
    assert (first.status, second.status) == (200, 200), (first.error, second.error)
    # Judged by the check, and again before connecting: the same one answer each time.
    assert len(judged) >= 2 and set(map(str, judged)) == {str(("pinned.test", ["127.0.0.1"]))}
    assert asked == ["pinned.test"]  # the check and both connections: one lookup


def test_an_answer_renewed_after_its_time_is_judged_again_before_connecting(
    httpserver: HTTPServer, monkeypatch
):
    # Answers are reused for DNS_TTL_S (0 here: every connection asks again). The renewed
    # answer is internal: that connection is refused before it is made, although the check
    # had passed the host on its first answer.
    from crawler import safety
    from crawler.http import resolve

    monkeypatch.setattr(resolve, "DNS_TTL_S", 0.0)
    monkeypatch.setattr(  # 127.0.0.1 stands for a public address here
        safety, "address_kind", lambda a: "private" if a.startswith("10.") else None
    )
    # "Connection: close": the second fetch needs a new connection, hence a new lookup.
    httpserver.expect_request("/a").respond_with_data(b"a", headers={"Connection": "close"})
    url = f"http://renewed.test:{httpserver.port}/a"
    (first, renewed), asked = fetch_in_turn(
        [url, url], [["127.0.0.1"], ["127.0.0.1"], ["10.0.0.99"]]
    )
    assert first.status == 200, first.error
    assert (renewed.status, renewed.error_kind) == (None, "refused"), renewed
    assert renewed.error == (
        "refused: renewed.test resolves to private address 10.0.0.99 "
        "(use --allow-private to check it)"
    )
    assert renewed.attempts == 1  # not retried: it will not fix itself in a second
    assert asked == ["renewed.test"] * 3  # the check, then each connection
    assert len(httpserver.log) == 1  # the renewed answer was never connected to


def test_a_failed_lookup_is_asked_again_not_remembered(httpserver: HTTPServer):
    httpserver.expect_request("/a").respond_with_data(b"a")
    url = f"http://flaky.test:{httpserver.port}/a"
    answers = [socket.gaierror("temporary failure"), ["127.0.0.1"]]
    (failed, answered), asked = fetch_in_turn([url, url], answers, LOCAL)
    assert failed.status is None and failed.error_kind == "network", failed
    assert answered.status == 200 and asked == ["flaky.test"] * 2


def test_an_answer_that_is_not_valid_http_is_said_so_once_not_retried():
    # aiohttp refuses, as the RFC allows, a duplicate Content-Length; that is the server's
    # answer, not a connection it closed, and asking again brings the same answer.
    asked: list[bytes] = []

    def duplicate_length(client: socket.socket, stop: object) -> None:
        asked.append(read_head(client).split(b"\r\n", 1)[0])
        client.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok")

    with RawServer(duplicate_length) as server:
        fr = fetch_with_engine(server.url("/page"), dataclasses.replace(LOCAL, retries=3))
    assert fr.status is None and fr.error_kind == "network"
    assert fr.error == (
        "127.0.0.1 sent an answer that is not valid HTTP "
        "(Duplicate Content-Length: b'Content-Length: 2')"
    )
    assert asked == [b"GET /page HTTP/1.1"]
