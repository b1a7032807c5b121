"""Retries (``crawler.http.retry``): transient statuses and errors asked again with backoff,
a server's Retry-After honoured, capped, and not waited for past the link's budget."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
from engine_fakes import FAST, Sleeps, fetch, make_link, run_links

from crawler.config import Settings
from crawler.http.retry import parse_retry_after
from crawler.model import Status


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
