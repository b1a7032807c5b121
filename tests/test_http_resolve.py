"""Names and the address guard (``crawler.http.resolve``): what may be fetched, on the link
and on every redirect; lookups shared, failures asked again; behind a proxy, only literal
addresses and local names judged. Names resolve through a fake resolver."""

from __future__ import annotations

import asyncio
import http.client
import http.server
import socket
import threading
from typing import Any
from urllib.parse import urlsplit

import pytest
import respx
from engine_fakes import (
    FAST,
    Sleeps,
    engine,
    fake_resolver,
    fetch,
    make_link,
    run_links,
    scripted_resolver,
)
from pytest_httpserver import HTTPServer

from crawler.config import Settings
from crawler.engine import Engine
from crawler.model import Hop, LinkResult, Status
from crawler.services.base import FetchResult


@respx.mock
def test_redirect_to_loopback_is_refused():
    respx.get("https://example.org/a").respond(302, headers={"Location": "http://127.0.0.1/admin"})
    inside = respx.get("http://127.0.0.1/admin").respond(200)
    fr = fetch("https://example.org/a")
    assert fr.error_kind == "refused"
    assert fr.error == "refused: 127.0.0.1 is a loopback address (use --allow-private to check it)"
    assert fr.hops == [Hop("https://example.org/a", 302)]
    assert not inside.called


@respx.mock
def test_redirect_to_a_name_resolving_to_a_private_address_is_refused():
    respx.get("https://example.org/a").respond(302, headers={"Location": "http://inside.example/"})
    inside = respx.get("http://inside.example/").respond(200)
    fr = fetch("https://example.org/a")
    assert fr.error_kind == "refused"
    assert fr.error == (
        "refused: inside.example resolves to private address 10.0.0.5 "
        "(use --allow-private to check it)"
    )
    assert not inside.called


@respx.mock
def test_ipv4_mapped_ipv6_address_is_judged_as_ipv4():
    respx.get("http://mapped.example/").respond(200)
    fr = fetch("http://mapped.example/")
    assert fr.error_kind == "refused"
    assert "loopback address ::ffff:127.0.0.1" in (fr.error or "")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://[2002:7f00:1::]/", "2002:7f00:1:: leads to 127.0.0.1, a loopback address"),
        ("http://six.example/", "six.example resolves to 2002:a00:5::, which leads to private"),
        ("http://2130706433/", "2130706433 leads to 127.0.0.1, a loopback address"),
    ],
)
@respx.mock
def test_an_address_carried_inside_another_form_is_refused(url, words):
    anything = respx.route().respond(200)
    fr = fetch(url)
    assert fr.error_kind == "refused" and words in (fr.error or "")
    assert not anything.called


@respx.mock
def test_allow_private_follows_the_redirect():
    respx.get("https://example.org/a").respond(302, headers={"Location": "http://127.0.0.1/x"})
    inside = respx.get("http://127.0.0.1/x").respond(200)

    async def no_lookups(host: str) -> list[str]:
        raise AssertionError("allow_private needs no lookup")

    fr = fetch("https://example.org/a", Settings(allow_private=True), resolver=no_lookups)
    assert fr.status == 200 and inside.called


@pytest.mark.parametrize(
    "url", ["ftp://example.org/x.pdf", "file:///etc/passwd", "javascript:alert(1)", "example.org/x"]
)
def test_non_http_schemes_are_refused(url):
    fr = fetch(url)
    assert fr.error_kind == "refused"
    assert (fr.error or "").startswith("refused: only http and https links are checked")


@pytest.mark.parametrize("url", ["https://example.org:99999/x", "https://exa mple.org/x"])
@respx.mock
def test_unparsable_host_is_refused_not_crashed(url):
    fr = fetch(url)
    assert fr.error_kind == "refused"
    assert (fr.error or "").startswith("refused: not a valid URL")


@respx.mock
def test_dns_failure_is_a_network_error():
    fr = fetch("https://nowhere.example/x")
    assert fr.error_kind == "network"
    assert fr.error == "DNS lookup failed for nowhere.example"


def test_guard_tells_services_that_open_their_own_connections_what_stops_a_url():
    async def main() -> list[FetchResult | None]:
        async with engine() as e:
            return [
                await e.guard("http://inside.example/video"),
                await e.guard("https://example.org/video"),
                await e.guard("ftp://example.org/video"),
                await e.guard("http://127.0.0.1:8000/v"),
                await e.guard("https://no-such-name.example/v"),
            ]

    inside, public, ftp, loopback, unknown = asyncio.run(main())
    assert inside.error_kind == "refused"
    assert inside.error == (
        "refused: inside.example resolves to private address 10.0.0.5 "
        "(use --allow-private to check it)"
    )
    assert public is None
    assert ftp.error_kind == "refused" and loopback.error_kind == "refused"
    assert unknown.error_kind == "network"
    assert unknown.error == "DNS lookup failed for no-such-name.example"

    async def allowed() -> FetchResult | None:
        async with engine(Settings(allow_private=True)) as e:
            return await e.guard("http://inside.example/video")

    assert asyncio.run(allowed()) is None


# -- lookups -------------------------------------------------------------------------------


@respx.mock
def test_each_host_is_looked_up_once():
    looked_up: list[str] = []

    async def counting(host: str) -> list[str]:
        looked_up.append(host)
        return await fake_resolver(host)

    respx.route(host="example.org").respond(200)
    links = [make_link(f"https://example.org/{i}") for i in range(5)]
    results = run_links(links, resolver=counting)
    assert all(r.status is Status.OK for r in results)
    assert looked_up == ["example.org"]


@respx.mock
def test_a_failed_lookup_is_asked_again_for_the_next_link_of_that_host():
    # One resolver hiccup (a timeout, a SERVFAIL) must not leave every later link of the host
    # unverified for the rest of the run: only definitive verdicts are kept.
    answers: list[BaseException | list[str]] = [
        socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
        ["93.184.216.34"],
    ]

    flaky = scripted_resolver(answers)
    respx.route(host="example.org").respond(200)

    async def main() -> list[LinkResult]:
        async with engine(resolver=flaky) as e:
            return [await e.check_link(make_link(f"https://example.org/{i}")) for i in range(3)]

    first, second, third = asyncio.run(main())
    assert first.status is Status.UNVERIFIED
    assert first.detail == "DNS lookup failed for example.org"
    assert second.status is Status.OK and third.status is Status.OK
    assert answers == []  # asked twice, and the good answer was kept for the third link


@pytest.mark.parametrize(
    "hiccup",
    [socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"), TimeoutError()],
)
@respx.mock
def test_a_temporary_dns_failure_is_asked_once_more_after_a_second(hiccup):
    answers: list[BaseException | list[str]] = [hiccup, ["93.184.216.34"]]

    flaky = scripted_resolver(answers)
    respx.route(host="example.org").respond(200)
    sleeps = Sleeps()
    (result,) = run_links([make_link("https://example.org/")], resolver=flaky, sleep=sleeps)
    assert result.status is Status.OK and answers == []
    assert sleeps.calls == [1.0]


@respx.mock
def test_a_dns_failure_twice_in_a_row_leaves_the_link_unverified():
    async def down(host: str) -> list[str]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    (result,) = run_links([make_link("https://example.org/")], resolver=down)
    assert result.status is Status.UNVERIFIED
    assert result.detail == "DNS lookup failed for example.org"


# -- behind a proxy ------------------------------------------------------------------------


@respx.mock
def test_a_proxy_resolves_names_so_only_literal_addresses_are_judged(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")

    async def no_lookups(host: str) -> list[str]:
        raise AssertionError("a proxied name is not looked up")

    respx.get("https://elsewhere.example/").respond(200)
    assert fetch("https://elsewhere.example/", resolver=no_lookups).status == 200
    refused = fetch("https://localhost/", resolver=no_lookups)
    assert refused.error_kind == "refused" and "loopback" in (refused.error or "")


class LoggingProxy:
    """A tiny plain-HTTP forward proxy on 127.0.0.1 that logs every request line it is asked
    and sends every request to one local server, whatever host the URL names (made-up names
    such as ``videos.test`` resolve nowhere, so only this proxy can reach them)."""

    def __init__(self, upstream_port: int) -> None:
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy.asked.append(self.requestline)
                target = urlsplit(self.path)
                upstream = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=10)
                path = target.path + (f"?{target.query}" if target.query else "")
                upstream.request(self.command, path or "/", headers={"Host": target.netloc})
                answer = upstream.getresponse()
                body = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body if self.command != "HEAD" else b"")
                upstream.close()

            do_HEAD = do_GET

            def log_message(self, *args: Any) -> None:
                pass

        self.asked: list[str] = []
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> LoggingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def test_behind_a_proxy_literal_addresses_and_local_names_are_judged_on_every_hop(
    httpserver: HTTPServer, monkeypatch
):
    # The proxy resolves names, so names are its business; but an address written out, or a
    # name that can only mean this machine, is judged here, on the link and on every redirect,
    # and the proxy is never asked for it (no --allow-private: 127.0.0.1 is the proxy's own
    # address, never a target, and 10.0.0.5 is never contacted at all).
    httpserver.expect_request("/talk").respond_with_data(
        "", 302, headers={"Location": "http://10.0.0.5/admin"}
    )
    httpserver.expect_request("/hidden").respond_with_data(
        "", 302, headers={"Location": "http://2130706433/admin"}
    )
    httpserver.expect_request("/deck").respond_with_data("a deck")
    refused = [
        "http://10.0.0.5/",
        "http://[::ffff:10.0.0.5]/",
        "http://[2002:a00:5::]/",
        "http://0x0a000005/",
        "http://localhost./",
        "http://api.localhost/",
    ]
    with LoggingProxy(httpserver.port) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("NO_PROXY", "")

        async def main() -> list[FetchResult]:
            async with Engine(FAST, services=[]) as e:  # the transport httpx picks for proxies
                assert e.proxy_for("http://10.0.0.5/") == proxy.url  # the proxy is in force
                urls = ["http://videos.test/talk", "http://videos.test/hidden", *refused]
                return [await e.fetch(url) for url in [*urls, "http://slides.test/deck"]]

        *results, deck = asyncio.run(main())

    assert deck.status == 200 and deck.body == b"a deck"  # the proxy works
    assert all(r.error_kind == "refused" for r in results), [r.error for r in results]
    assert [r.hops for r in results[:2]] == [
        [Hop("http://videos.test/talk", 302)],
        [Hop("http://videos.test/hidden", 302)],
    ]
    assert proxy.asked == [
        "GET http://videos.test/talk HTTP/1.1",
        "GET http://videos.test/hidden HTTP/1.1",
        "GET http://slides.test/deck HTTP/1.1",
    ]
