"""The engine: retries, redirects, caps, safety, limits and the run over many links.

HTTP is mocked with respx (through httpx's own transport, which respx can intercept) or with
``httpx.MockTransport``; one test at the end uses a real server on 127.0.0.1 with the default
aiohttp transport. Names resolve through a fake resolver, sleeping through a recorder, so no
test touches the network or waits for a backoff.
"""

from __future__ import annotations

import asyncio
import email.utils
import http.client
import http.server
import logging
import os
import re
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx
import pytest
import respx
from pytest_httpserver import HTTPServer
from raw_server import RawServer, read_head
from werkzeug import Request, Response

from crawler.engine import Engine, check_links, default_user_agent
from crawler.http.retry import parse_retry_after
from crawler.model import Hop, Link, LinkKind, LinkResult, Status
from crawler.services.base import CheckContext, FetchResult, HostLimits, Service, Settings

FAST = Settings(
    concurrency=8,
    per_host=2,
    connect_timeout=1.0,
    read_timeout=1.0,
    link_timeout=10.0,
    retries=3,
    max_retry_after=60.0,
)

ADDRESSES = {
    "example.org": ["93.184.216.34"],
    "a.example": ["93.184.216.35"],
    "b.example": ["93.184.216.36"],
    "c.example": ["2606:2800:220:1::1"],
    "inside.example": ["10.0.0.5"],
    "www.gentle.example": ["93.184.216.40"],
    "mapped.example": ["93.184.216.37", "::ffff:127.0.0.1"],
    "six.example": ["2002:a00:5::"],  # 6to4 of 10.0.0.5
}

ASYMO = "AsyMo-%E1%84%80%E1%85%A9%E1%86%BC%E1%84%80%E1%85%A2%E1%84%8B%E1%85%AD%E1%86%BC.pptx.pdf"


async def fake_resolver(host: str) -> list[str]:
    if host in ADDRESSES:
        return ADDRESSES[host]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def scripted_resolver(answers: list[BaseException | list[str]]) -> Any:
    """A resolver giving ``answers`` in turn (raising the exceptions), whatever the host."""

    async def resolve(host: str) -> list[str]:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    return resolve


class Sleeps:
    """Records the waits the engine asks for, without waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(0)


class FetchService(Service):
    """Fetches the link and reports what the engine returned, nothing more."""

    name = "fetch"

    def __init__(self) -> None:
        self.fetched: dict[str, FetchResult] = {}

    def handles(self, link: Link) -> bool:
        return True

    async def check(self, link: Link, ctx: CheckContext) -> LinkResult:
        fetched = await ctx.fetch(link.url)
        self.fetched[link.url] = fetched
        return LinkResult(
            link,
            Status.OK if fetched.ok else Status.UNVERIFIED,
            detail=fetched.error or f"HTTP {fetched.status}",
            http_status=fetched.status,
            final_url=fetched.final_url,
            redirects=list(fetched.hops),
        )


def make_link(url: str, session: str = "s1", field: str = "slides") -> Link:
    return Link(session, "A talk", "2024-01-01", field, url, LinkKind.GENERIC, url)  # type: ignore[arg-type]


def engine(settings: Settings = FAST, **kwargs) -> Engine:
    kwargs.setdefault("services", [FetchService()])
    kwargs.setdefault("transport", httpx.AsyncHTTPTransport())  # respx intercepts this one
    kwargs.setdefault("resolver", fake_resolver)
    kwargs.setdefault("sleep", Sleeps())
    return Engine(settings, **kwargs)


def fetch(url: str, settings: Settings = FAST, *, sleep: Sleeps | None = None, **kwargs):
    """One ``Engine.fetch`` in a fresh engine; ``kwargs`` go to ``fetch``."""
    engine_kwargs = {k: kwargs.pop(k) for k in ("transport", "resolver") if k in kwargs}

    async def main() -> FetchResult:
        async with engine(settings, sleep=sleep or Sleeps(), **engine_kwargs) as e:
            return await e.fetch(url, **kwargs)

    return asyncio.run(main())


def run_links(links: list[Link], settings: Settings = FAST, **kwargs) -> list[LinkResult]:
    async def main() -> list[LinkResult]:
        async with engine(settings, **kwargs) as e:
            return await e.check_all(links)

    return asyncio.run(main())


# -- answers pass through ----------------------------------------------------------------


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


# -- retries -----------------------------------------------------------------------------


@respx.mock
def test_429_with_retry_after_seconds_waits_exactly_that_long_then_succeeds():
    route = respx.get("https://example.org/x")
    route.side_effect = [httpx.Response(429, headers={"Retry-After": "7"}), httpx.Response(200)]
    sleeps = Sleeps()
    fr = fetch("https://example.org/x", sleep=sleeps)
    assert fr.status == 200 and fr.attempts == 2 and route.call_count == 2
    assert len(sleeps.calls) == 1
    assert sleeps.calls[0] == pytest.approx(7, abs=0.5)


@respx.mock
def test_429_with_retry_after_http_date_waits_until_that_date():
    when = datetime.now(UTC) + timedelta(seconds=30)
    header = email.utils.format_datetime(when, usegmt=True)
    route = respx.get("https://example.org/x")
    route.side_effect = [httpx.Response(429, headers={"Retry-After": header}), httpx.Response(200)]
    sleeps = Sleeps()
    fr = fetch("https://example.org/x", sleep=sleeps)
    assert fr.status == 200
    assert sleeps.calls == [pytest.approx(30, abs=2)]


@respx.mock
def test_retry_after_is_capped_by_settings():
    route = respx.get("https://example.org/x")
    route.side_effect = [httpx.Response(503, headers={"Retry-After": "3600"}), httpx.Response(200)]
    sleeps = Sleeps()
    fr = fetch("https://example.org/x", Settings(max_retry_after=5.0), sleep=sleeps)
    assert fr.status == 200
    assert sleeps.calls == [pytest.approx(5, abs=0.5)]


@pytest.mark.parametrize("retry_after", ["99999999999999999999", "Fri, 31 Dec 9999 23:59:59 GMT"])
@pytest.mark.parametrize("status", [429, 503])
@respx.mock
def test_a_retry_after_past_the_links_budget_is_not_waited_for(retry_after, status):
    # FAST allows 10 s per link: waiting (even the 60 s cap) could only end in "gave up".
    route = respx.get("https://example.org/x").respond(status, headers={"Retry-After": retry_after})
    other = respx.get("https://example.org/y").respond(200)
    sleeps = Sleeps()
    links = [make_link("https://example.org/x"), make_link("https://example.org/y")]
    first, second = run_links(links, Settings(per_host=1, link_timeout=10.0), sleep=sleeps)
    assert first.status is Status.UNVERIFIED and first.http_status == status
    assert route.call_count == 1  # the answer stands: no retry
    # The host's pause still holds for the run: its next link ends at once, in plain words.
    assert second.detail == (
        "example.org asked to wait (Retry-After) longer than the 10 s a link may take; "
        "not asked again"
    )
    assert not other.called
    assert not [s for s in sleeps.calls if s > 0]


@respx.mock
def test_a_retry_after_within_the_links_budget_is_waited_for():
    route = respx.get("https://example.org/x")
    route.side_effect = [httpx.Response(429, headers={"Retry-After": "8"}), httpx.Response(200)]
    sleeps = Sleeps()
    (result,) = run_links([make_link("https://example.org/x")], sleep=sleeps)  # 10 s allowed
    assert result.status is Status.OK and route.call_count == 2
    assert sleeps.calls == [pytest.approx(8, abs=0.5)]


def test_parse_retry_after_reads_seconds_and_dates():
    now = datetime(2026, 11, 25, 3, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now=now) == 120
    assert parse_retry_after("Wed, 25 Nov 2026 03:01:30 GMT", now=now) == 90
    assert parse_retry_after("Wed, 25 Nov 2026 02:00:00 GMT", now=now) == 0  # in the past
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None
    # delay-seconds is digits only; any number of them (capped by the engine, not here).
    assert parse_retry_after("99999999999999999999") == 1e20
    assert parse_retry_after("9" * 5000) == float("inf")
    assert [parse_retry_after(v) for v in ("1e400", "inf", "nan", "-5", "1_000")] == [None] * 5


@pytest.mark.parametrize("status", [502, 503, 504])
@respx.mock
def test_transient_status_is_retried_with_backoff(status):
    route = respx.get("https://example.org/x")
    route.side_effect = [httpx.Response(status), httpx.Response(200, text="fine")]
    sleeps = Sleeps()
    fr = fetch("https://example.org/x", sleep=sleeps)
    assert fr.status == 200 and fr.body == b"fine" and fr.attempts == 2
    assert len(sleeps.calls) == 1 and 0 < sleeps.calls[0] <= 30


@respx.mock
def test_transient_status_on_every_attempt_is_returned_as_is():
    route = respx.get("https://example.org/x").respond(503, text="busy")
    fr = fetch("https://example.org/x")
    assert route.call_count == FAST.retries
    assert fr.status == 503 and fr.body == b"busy" and fr.attempts == FAST.retries
    assert fr.error is None


@pytest.mark.parametrize("error", [httpx.ReadError, httpx.RemoteProtocolError])
@respx.mock
def test_closed_keepalive_connection_is_retried(error):
    route = respx.get("https://example.org/x")
    route.side_effect = [error("Server disconnected"), httpx.Response(200)]
    sleeps = Sleeps()
    fr = fetch("https://example.org/x", sleep=sleeps)
    assert fr.status == 200 and fr.attempts == 2 and route.call_count == 2
    assert sleeps.calls == []  # at once, on a fresh connection


@respx.mock
def test_a_connection_that_breaks_twice_is_retried_the_second_time_after_a_backoff():
    route = respx.get("https://example.org/x")
    route.side_effect = [httpx.ReadError("reset"), httpx.ReadError("reset"), httpx.Response(200)]
    sleeps = Sleeps()
    fr = fetch("https://example.org/x", Settings(retries=3), sleep=sleeps)
    assert fr.status == 200 and fr.attempts == 3
    assert len(sleeps.calls) == 1 and sleeps.calls[0] >= 1  # the server may be struggling


@respx.mock
def test_connect_error_on_every_attempt_is_a_network_error():
    route = respx.get("https://example.org/x").mock(side_effect=httpx.ConnectError("boom"))
    settings = Settings(retries=4)
    sleeps = Sleeps()
    fr = fetch("https://example.org/x", settings, sleep=sleeps)
    assert fr.status is None
    assert fr.error_kind == "network"
    assert fr.attempts == 4 and route.call_count == 4
    assert len(sleeps.calls) == 3  # a backoff between attempts, none after the last
    assert "example.org" in (fr.error or "")


@respx.mock
def test_connection_refused_is_said_in_plain_words():
    cause = ConnectionRefusedError(111, "Connection refused")
    error = httpx.ConnectError("[Errno 111] Connection refused")
    error.__cause__ = cause
    respx.get("https://example.org/x").mock(side_effect=error)
    fr = fetch("https://example.org/x")
    assert fr.error == "connection refused by example.org"


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (httpx.ConnectTimeout, "timed out after 1 s connecting to example.org"),
        (httpx.ReadTimeout, "timed out after 1 s waiting for example.org"),
    ],
)
@respx.mock
def test_timeouts_are_retried_then_reported(error, words):
    route = respx.get("https://example.org/x").mock(side_effect=error("slow"))
    fr = fetch("https://example.org/x")
    assert fr.error_kind == "timeout"
    assert fr.error == words
    assert route.call_count == FAST.retries


# -- redirects ---------------------------------------------------------------------------


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


# -- bodies ------------------------------------------------------------------------------


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


# -- safety ------------------------------------------------------------------------------


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


@respx.mock
def test_dns_failure_is_a_network_error():
    fr = fetch("https://nowhere.example/x")
    assert fr.error_kind == "network"
    assert fr.error == "DNS lookup failed for nowhere.example"


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


def test_proxy_for_follows_the_environment(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost,.skip.example")
    e = Engine(FAST)
    assert e.proxy_for("https://example.org/") == "http://proxy.internal:3128"
    assert e.proxy_for("http://example.org/") is None  # only HTTPS_PROXY is set
    assert e.proxy_for("https://127.0.0.1:8080/") is None
    assert e.proxy_for("https://www.skip.example/") is None


def test_ca_bundle_is_ssl_cert_file_when_it_exists(monkeypatch, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    assert Engine(FAST).ca_bundle == str(bundle)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    assert Engine(FAST).ca_bundle is None
    monkeypatch.delenv("SSL_CERT_FILE")
    assert Engine(FAST).ca_bundle is None


# -- URLs on the wire --------------------------------------------------------------------


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


# -- running many links ------------------------------------------------------------------


@respx.mock
def test_identical_urls_are_fetched_once_and_results_keep_input_order():
    home = respx.get("https://example.org/~me").respond(200)
    deck = respx.get("https://a.example/deck.pdf").respond(404)
    links = [
        make_link("https://example.org/~me", "s1", "presenter"),
        make_link("https://a.example/deck.pdf", "s1", "slides"),
        make_link("https://example.org/~me", "s2", "presenter"),
        make_link("https://example.org/~me", "s3", "presenter"),
    ]
    results = run_links(links)
    assert home.call_count == 1 and deck.call_count == 1
    assert [r.link for r in results] == links
    assert [r.http_status for r in results] == [200, 404, 200, 200]


def test_on_start_and_on_result_are_called_for_every_link():
    transport = httpx.MockTransport(lambda request: httpx.Response(200))
    links = [make_link(f"https://example.org/{i}") for i in range(5)] + [
        make_link("https://example.org/0", "s2")
    ]
    started: list[Link] = []
    finished: list[LinkResult] = []
    results = check_links(
        links,
        FAST,
        on_start=started.append,
        on_result=finished.append,
        services=[FetchService()],
        transport=transport,
        resolver=fake_resolver,
        sleep=Sleeps(),
    )
    assert Counter(map(id, started)) == Counter(map(id, links))
    assert sorted(id(r) for r in finished) == sorted(id(r) for r in results)
    assert all(r.status is Status.OK for r in results)


class Exploding(Service):
    name = "exploding"

    def handles(self, link: Link) -> bool:
        return "boom" in link.url

    async def check(self, link: Link, ctx: CheckContext) -> LinkResult:
        raise ValueError("unexpected markup")


@respx.mock
def test_a_raising_service_gives_unverified_internal_error_and_the_run_goes_on(caplog):
    respx.get("https://example.org/fine").respond(200)
    links = [make_link("https://example.org/boom"), make_link("https://example.org/fine")]
    with caplog.at_level(logging.ERROR, logger="crawler.engine"):
        results = run_links(links, services=[Exploding(), FetchService()])
    assert results[0].status is Status.UNVERIFIED
    assert results[0].detail == "internal error: ValueError: unexpected markup"
    assert results[1].status is Status.OK
    assert "Traceback" in caplog.text or any(r.exc_info for r in caplog.records)


def test_a_link_nobody_handles_is_skipped():
    results = run_links([make_link("https://example.org/x")], services=[Exploding()])
    assert results[0].status is Status.SKIPPED


class Stuck(Service):
    name = "stuck"

    def handles(self, link: Link) -> bool:
        return True

    async def check(self, link: Link, ctx: CheckContext) -> LinkResult:
        await asyncio.Event().wait()  # never set: only the budget ends this
        raise AssertionError("unreachable")


def test_per_link_budget_gives_unverified():
    results = run_links(
        [make_link("https://example.org/x")], Settings(link_timeout=0.05), services=[Stuck()]
    )
    assert results[0].status is Status.UNVERIFIED
    # The time it really took (more than the budget on a busy machine), and the budget.
    took = re.fullmatch(
        r"gave up after (\S+) s \(time allowed for one link: 0.05 s\)", results[0].detail
    )
    assert took is not None and float(took[1]) >= 0.05, results[0].detail
    assert results[0].network_error


def test_waiting_for_a_turn_at_the_host_is_not_charged_to_the_links_budget():
    # Eight links to one host, one at a time, each answered in 0.3 s: the last waits 2.1 s
    # for its turn. The 1.5 s budget is for the link's own requests, not for that queue
    # (before, links 6 to 8 "gave up" behind their neighbours).
    async def slow_answer(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.3)
        return httpx.Response(200)

    links = [make_link(f"https://example.org/{i}") for i in range(8)]
    settings = Settings(per_host=1, link_timeout=1.5)
    results = run_links(links, settings, transport=httpx.MockTransport(slow_answer))
    assert [r.status for r in results] == [Status.OK] * 8, [r.detail for r in results]


def test_a_link_that_gives_up_says_how_long_it_waited_for_its_turn():
    async def main() -> LinkResult:
        async with engine(Settings(per_host=1, link_timeout=0.5), services=[Stuck()]) as e:
            async with e.host_slot("https://example.org/"):  # another link holds the host
                waiting = asyncio.create_task(e.check_link(make_link("https://example.org/x")))
                await asyncio.sleep(1.2)  # longer than the budget: not charged
            return await waiting

    class Stuck(Service):
        name = "stuck in a queue, then stuck"

        def handles(self, link: Link) -> bool:
            return True

        async def check(self, link: Link, ctx: CheckContext) -> LinkResult:
            async with ctx.host_slot(link.url):
                await asyncio.Event().wait()  # never set: only the budget ends this
            raise AssertionError("unreachable")

    result = asyncio.run(main())
    words = re.fullmatch(
        r"gave up after (\S+) s \((\S+) s of it waiting for its turn; "
        r"time allowed for one link: 0.5 s\)",
        result.detail,
    )
    assert words is not None, result.detail
    assert float(words[1]) >= 1.7 and float(words[2]) >= 1.2


def test_previous_results_are_offered_by_session_field_and_url():
    link = make_link("https://example.org/v", "s7", "video")
    old = LinkResult(link, Status.OK, "fine", title="Old title")
    e = Engine(FAST, previous={("s7", "video", "https://example.org/v"): old})
    assert e.previous(link) is old
    assert e.previous(make_link("https://example.org/v", "s8", "video")) is None


def test_run_isolated_runs_in_another_process_and_stops_it_with_the_engine():
    import gc
    import multiprocessing
    import signal

    from crawler.memory import GC_THRESHOLD

    async def main() -> tuple[int, list[multiprocessing.Process], Any, Any]:
        async with engine() as e:
            pid = await e.run_isolated(os.getpid)
            with pytest.raises(ZeroDivisionError):  # the worker's exception, re-raised here
                await e.run_isolated(divmod, 1, 0)
            # Set up as the engine wants its workers: Ctrl-C left to the parent, few collections.
            sigint = await e.run_isolated(signal.getsignal, signal.SIGINT)
            threshold = await e.run_isolated(gc.get_threshold)
            workers = multiprocessing.active_children()
        return pid, workers, sigint, threshold

    pid, workers, sigint, threshold = asyncio.run(main())
    assert pid != os.getpid()
    assert workers and not any(w.is_alive() for w in workers)  # stopped on the way out
    assert sigint == signal.SIG_IGN and threshold == GC_THRESHOLD


def test_a_call_waiting_for_a_worker_does_not_sit_on_a_host_slot():
    import time

    events: list[str] = []
    url = "https://videos.example/v"

    async def main() -> None:
        async with engine(Settings(per_host=2, video_workers=1)) as e:

            async def isolated(name: str) -> None:
                await e.run_isolated(time.sleep, 1.0, slot_for=url)
                events.append(f"{name} done")

            first = asyncio.create_task(isolated("first"))
            second = asyncio.create_task(isolated("second"))  # queued: the one worker is busy
            await asyncio.sleep(0.05)
            async with e.host_slot(url):  # the host's other slot is free meanwhile
                events.append("fetch got a slot")
            await asyncio.gather(first, second)

    asyncio.run(main())
    assert events == ["fetch got a slot", "first done", "second done"]


@respx.mock
def test_per_host_limit_holds_while_other_hosts_run_alongside():
    in_flight: Counter[str] = Counter()
    peak_host: Counter[str] = Counter()
    peak_total = 0

    async def slow(request: httpx.Request) -> httpx.Response:
        nonlocal peak_total
        host = request.url.host
        in_flight[host] += 1
        peak_host[host] = max(peak_host[host], in_flight[host])
        peak_total = max(peak_total, sum(in_flight.values()))
        await asyncio.sleep(0.01)
        in_flight[host] -= 1
        return httpx.Response(200)

    respx.route().mock(side_effect=slow)
    hosts = ["example.org", "a.example", "b.example"]
    links = [make_link(f"https://{h}/{i}") for h in hosts for i in range(6)]
    settings = Settings(concurrency=6, per_host=2)
    results = run_links(links, settings)
    assert all(r.status is Status.OK for r in results)
    assert set(peak_host) == set(hosts)
    assert max(peak_host.values()) <= 2
    assert 2 < peak_total <= 6  # the global limit let several hosts run at once


@respx.mock
def test_retry_after_pauses_only_that_host():
    b_served = asyncio.Event()
    order: list[str] = []
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if seconds >= 1:  # a Retry-After pause: hold it until host B has been served
            await b_served.wait()

    a_answers = iter([httpx.Response(429, headers={"Retry-After": "9"})])

    def host_a(request: httpx.Request) -> httpx.Response:
        order.append(f"A{request.url.path}")
        return next(a_answers, httpx.Response(200))

    async def host_b(request: httpx.Request) -> httpx.Response:
        order.append("B")
        await asyncio.sleep(0)
        b_served.set()
        return httpx.Response(200)

    respx.route(host="a.example").mock(side_effect=host_a)
    respx.route(host="b.example").mock(side_effect=host_b)

    async def main() -> list[LinkResult]:
        async with engine(Settings(concurrency=4, per_host=1), sleep=sleep) as e:
            first = asyncio.create_task(e.check_link(make_link("https://a.example/1")))
            while not order:  # let host A answer 429 first
                await asyncio.sleep(0)
            rest = [make_link("https://a.example/2"), make_link("https://b.example/1")]
            # If host B were held by A's pause, nothing would set b_served: fail, not hang.
            async with asyncio.timeout(5):
                others = await e.check_all(rest)
                return [await first, *others]

    results = asyncio.run(main())
    assert all(r.status is Status.OK for r in results)
    assert order[0] == "A/1"
    assert order.index("B") < order.index("A/2")  # B went while A was paused
    assert len([s for s in sleeps if s >= 1]) == 2  # A's retry and A's next link both waited
    assert all(s == pytest.approx(9, abs=0.5) for s in sleeps if s >= 1)


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


def test_default_transport_reports_connection_refused(httpserver: HTTPServer):
    # A port that was free a moment ago: bind, note it, close.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(allow_private=True, retries=2)
    sleeps = Sleeps()

    async def main() -> FetchResult:
        async with Engine(settings, services=[], sleep=sleeps) as e:
            return await e.fetch(f"http://127.0.0.1:{port}/")

    fr = asyncio.run(main())
    assert fr.error_kind == "network"
    assert fr.error == "connection refused by 127.0.0.1"
    assert fr.attempts == 2 and len(sleeps.calls) == 1


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
from crawler.services.base import Settings

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


def test_without_services_the_registry_is_used():
    from crawler.services.registry import default_services

    e = Engine(FAST)
    chosen = e._service_for(make_link("https://example.org/page"))
    assert type(chosen) is type(default_services()[-1])  # the generic service, asked last


@pytest.mark.parametrize("url", ["https://example.org:99999/x", "https://exa mple.org/x"])
@respx.mock
def test_unparsable_host_is_refused_not_crashed(url):
    fr = fetch(url)
    assert fr.error_kind == "refused"
    assert (fr.error or "").startswith("refused: not a valid URL")


LONG = "a" * 100_000


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("https://example.org/talk\x00.html", "a control character, U+0000 at position 24"),
        ("https://github.com/o/r/blob/main/a\x00.pdf", "a control character, U+0000"),
        ("https://www.youtube.com/watch?v=wzy1QMci_Zs\x00", "a control character, U+0000"),
        ("https://www.slideshare.net/slideshow/deck/1\x07", "a control character, U+0007"),
        (f"https://example.org/{LONG}", "it is 100,020 characters long, more than the 65,536"),
        (f"https://github.com/o/r/blob/main/{LONG}.pdf", "it is 100,037 characters long"),
        (f"https://{LONG}.org/", "characters long, more than the 65,536"),
        (f"https://{'a' * 300}.org/", "its host name, 304 characters, is too long"),
        (
            "https://ｇｉｔｈｕｂ.com/o/r/blob/main/x.pdf",
            "its host name ｇｉｔｈｕｂ.com is written in full-width or look-alike letters; "
            "in plain letters it is github.com",
        ),
        ("https://ｅｘａｍｐｌｅ．ｏｒｇ/", "in plain letters it is example.org"),
        ("https://xn--n3h.net/", "Codepoint U+2603"),  # punycode for a character IDNA forbids
        ("https://example.org/\ud800", "a character that is not valid Unicode"),
    ],
)
@respx.mock
def test_a_url_no_request_can_carry_is_skipped_in_plain_words_by_every_service(url, words):
    # Validation refuses these; the engine, as defence in depth, never hands one to a service
    # (where it ended as "internal error: InvalidURL" with a traceback).
    from crawler.links import make_link as catalogue_link

    anything = respx.route().respond(200)
    fields = ("slides", "video", "presenter")
    links = [catalogue_link("s1", "A talk", "2024-01-01", field, url) for field in fields]
    results = run_links(links, services=None)  # the real services
    for result in results:
        assert result.status is Status.SKIPPED, result.detail
        assert result.detail.startswith("not checked: not a valid URL ("), result.detail
        assert words in result.detail
    assert not anything.called


@respx.mock
def test_a_redirect_to_a_name_idna_forbids_is_refused_not_crashed():
    respx.get("https://example.org/a").respond(302, headers={"Location": "https://xn--n3h.net/"})
    fr = fetch("https://example.org/a", Settings(allow_private=True))
    assert fr.error_kind == "refused" and fr.hops == [Hop("https://example.org/a", 302)]
    assert (fr.error or "").startswith("refused: not a valid URL (Codepoint U+2603")


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


@respx.mock
def test_min_interval_spaces_request_starts_to_one_host_only():
    respx.route().respond(200)
    sleeps = Sleeps()
    same_host = [make_link(f"https://example.org/{i}") for i in range(3)]
    other_hosts = [make_link("https://a.example/"), make_link("https://b.example/")]
    settings = Settings(min_interval=2.0, per_host=4)
    run_links(same_host + other_hosts, settings, sleep=sleeps)
    # Each later start on example.org is booked 2 s after the one before it.
    assert sorted(sleeps.calls) == [pytest.approx(2, abs=0.5), pytest.approx(4, abs=0.5)]


class Remembering(Service):
    """Answers from the previous run's result, without any request."""

    name = "remembering"

    def handles(self, link: Link) -> bool:
        return True

    async def check(self, link: Link, ctx: CheckContext) -> LinkResult:
        old = ctx.previous(link)
        return LinkResult(link, Status.OK, "cached", title=old.title if old else None)


class GcWatching(Service):
    """Notes the collector's settings while a link is checked."""

    name = "gc"

    def __init__(self) -> None:
        self.seen: list[tuple[tuple[int, int, int], int]] = []

    def handles(self, link: Link) -> bool:
        return True

    async def check(self, link: Link, ctx: CheckContext) -> LinkResult:
        import gc

        self.seen.append((gc.get_threshold(), gc.get_freeze_count()))
        return LinkResult(link, Status.OK, "seen")


def test_a_run_collects_garbage_rarely_and_puts_the_collector_back():
    import gc

    from crawler.memory import GC_THRESHOLD

    before = gc.get_threshold()
    frozen = gc.get_freeze_count()
    watching = GcWatching()
    check_links([make_link("https://example.org/a")], FAST, services=[watching])
    [(threshold, freeze_count)] = watching.seen
    assert threshold == GC_THRESHOLD != before
    assert freeze_count > frozen  # what was alive before the run is left out of collections
    assert gc.get_threshold() == before and gc.get_freeze_count() == frozen


def test_check_links_passes_previous_results_to_the_services():
    link = make_link("https://example.org/v", "s1", "video")
    previous = {("s1", "video", link.url): LinkResult(link, Status.OK, "x", title="Talk title")}
    results = check_links([link], FAST, services=[Remembering()], previous=previous)
    assert results[0].title == "Talk title"


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


def test_host_slot_holds_the_per_host_limit_for_libraries_with_their_own_connections():
    """yt-dlp runs inside host_slot: with per_host=1 two holders on one host never overlap."""
    inside: dict[str, int] = {}
    most: dict[str, int] = {}

    async def hold(e: Engine, url: str) -> None:
        host = httpx.URL(url).host
        async with e.host_slot(url):
            inside[host] = inside.get(host, 0) + 1
            most[host] = max(most.get(host, 0), inside[host])
            await asyncio.sleep(0.01)
            inside[host] -= 1

    async def main() -> None:
        async with engine(Settings(per_host=1)) as e:
            urls = ["https://a.example/1", "https://a.example/2", "https://b.example/1"] * 2
            await asyncio.gather(*(hold(e, u) for u in urls))

    asyncio.run(main())
    assert most == {"a.example": 1, "b.example": 1}


class Gentle(FetchService):
    """A service that asks for one request at a time, 3 s apart, on gentle.example."""

    host_limits: ClassVar[Mapping[str, HostLimits]] = {
        "gentle.example": HostLimits(per_host=1, min_interval=3.0)
    }


@respx.mock
def test_a_service_declares_gentler_limits_for_its_hosts_and_subdomains():
    respx.route().respond(200)
    sleeps = Sleeps()
    gentle = [make_link(f"https://www.gentle.example/{i}") for i in range(3)]
    others = [make_link(f"https://example.org/{i}") for i in range(3)]
    run_links(
        gentle + others, Settings(min_interval=0.0, per_host=4), sleep=sleeps, services=[Gentle()]
    )
    # Only the gentle host's later starts were spaced, 3 s apart; example.org was not held.
    assert sorted(sleeps.calls) == [pytest.approx(3, abs=0.5), pytest.approx(6, abs=0.5)]


@respx.mock
def test_the_users_host_limits_replace_the_built_in_ones_both_ways():
    """--host-limit: looser than a service's limits on its site, stricter than the run's
    elsewhere; the most specific domain wins, subdomains included."""
    in_flight: Counter[str] = Counter()
    peak: Counter[str] = Counter()

    async def counted(request: httpx.Request) -> httpx.Response:
        host = request.url.host
        in_flight[host] += 1
        peak[host] = max(peak[host], in_flight[host])
        await asyncio.sleep(0.01)
        in_flight[host] -= 1
        return httpx.Response(200)

    respx.route().mock(side_effect=counted)
    sleeps = Sleeps()
    gentle = [make_link(f"https://www.gentle.example/{i}") for i in range(3)]
    others = [make_link(f"https://example.org/{i}") for i in range(3)]
    mine = (
        ("example.org", HostLimits(per_host=1, min_interval=2.0)),
        ("gentle.example", HostLimits(per_host=1, min_interval=9.0)),
        ("www.gentle.example", HostLimits(per_host=3, min_interval=0.0)),  # more specific
    )
    settings = Settings(per_host=4, min_interval=0.0, host_limits=mine)
    results = run_links(gentle + others, settings, sleep=sleeps, services=[Gentle()])
    assert all(r.status is Status.OK for r in results)
    # The gentle host was not held (its service asks for 1 at a time, 3 s apart), example.org
    # was: one at a time, starts 2 s apart.
    assert peak == {"www.gentle.example": 3, "example.org": 1}
    assert sorted(sleeps.calls) == [pytest.approx(2, abs=0.5), pytest.approx(4, abs=0.5)]


def test_the_real_services_declare_limits_for_youtube_github_and_slideshare():
    from crawler.services.registry import default_services

    async def limits(host: str) -> tuple[int, float]:
        async with Engine(Settings(per_host=4), resolver=fake_resolver) as e:
            gate = e._gates.gate(httpx.URL(f"https://{host}/"))
            return gate.slots._value, gate.min_interval

    assert default_services()  # the registry is what the engine uses by default
    assert asyncio.run(limits("www.youtube.com")) == (2, 1.0)
    assert asyncio.run(limits("raw.githubusercontent.com")) == (4, 0.25)
    assert asyncio.run(limits("www.slideshare.net")) == (2, 1.0)
    assert asyncio.run(limits("b.mytears.org")) == (4, 0.0)


def test_work_goes_round_robin_over_hosts_so_one_slow_host_cannot_fill_every_worker():
    import array

    from crawler.scheduler import _interleave

    queues = [array.array("l", [0, 1, 2]), array.array("l", [3]), array.array("l", [4, 5])]
    assert list(_interleave(queues)) == [0, 3, 4, 1, 5, 2]


@respx.mock
def test_links_are_started_host_by_host_in_turn():
    respx.route().respond(200)
    started: list[str] = []
    links = [make_link(f"https://{h}.example/{i}") for h, i in ("a0", "a1", "a2", "b0")]

    async def main() -> None:
        async with engine(Settings(concurrency=1, per_host=1)) as e:
            await e.check_all(links, on_start=lambda lk: started.append(lk.url))

    asyncio.run(main())
    assert started == [
        "https://a.example/0",
        "https://b.example/0",  # b is not left waiting until a is done
        "https://a.example/1",
        "https://a.example/2",
    ]


@respx.mock
def test_each_host_starts_with_its_videos_and_results_keep_catalogue_order():
    """A video may need yt-dlp (worker processes to start, seconds of CPU): started first,
    it runs beside the plain checks instead of lengthening the end of the run."""
    respx.route().respond(200)
    started: list[str] = []
    links = [
        make_link("https://a.example/page"),
        make_link("https://a.example/talk", session="s2", field="video"),
        make_link("https://b.example/page"),
        make_link("https://a.example/other"),
        make_link("https://b.example/talk", session="s3", field="video"),
    ]

    async def main() -> list[LinkResult]:
        async with engine(Settings(concurrency=1, per_host=1)) as e:
            return await e.check_all(links, on_start=lambda lk: started.append(lk.url))

    results = asyncio.run(main())
    assert started == [
        "https://a.example/talk",
        "https://b.example/talk",
        "https://a.example/page",
        "https://b.example/page",
        "https://a.example/other",
    ]
    assert [r.link for r in results] == links


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


def test_results_share_what_repeats_without_changing_a_value():
    from crawler.memory import shared_values

    links = [make_link(f"https://example.org/{n}", session=f"s{n}") for n in range(3)]
    results = [
        LinkResult(lk, Status.OK, "".join(["reachable ", "(HTTP 200)"]), redirects=[])
        for lk in links
    ]
    results[0].final_url = "".join(["https://example.org/", "0"])  # equal, not the same
    results[1].final_url = "https://example.org/moved"
    before = [(r.detail, r.final_url, list(r.redirects)) for r in results]
    results = [shared_values(r) for r in results]  # as the engine does with each result
    assert [(r.detail, r.final_url, list(r.redirects)) for r in results] == before
    assert results[0].detail is results[1].detail is results[2].detail
    assert results[0].final_url is links[0].url
    assert all(r.redirects == () for r in results)
