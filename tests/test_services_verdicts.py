"""The shared verdict rules: a fetch that brought no usable answer, and an HTTP answer."""

from __future__ import annotations

import pytest
from service_fakes import answer, link_for

from crawler.model import Fix, FixKind, FixSource, Hop, Link, LinkKind, Status
from crawler.services.base import FetchResult
from crawler.services.verdicts import http_verdict, permanent_target, unverified_from_fetch

PAGE = "https://tvm.apache.org/docs/"
LINK = Link("s1", "A talk", "2024-01-01", "slides", "https://example.org/a", LinkKind.GENERIC, "k")


def failed(kind, error, **extra) -> FetchResult:
    return FetchResult(LINK.url, LINK.url, error=error, error_kind=kind, **extra)


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("network", "DNS lookup failed for example.org"),
        ("network", "connection refused by example.org"),
        ("timeout", "timed out after 10 s connecting to example.org"),
    ],
)
def test_network_trouble_is_unverified_and_flagged(kind, error):
    result = unverified_from_fetch(LINK, failed(kind, error))
    assert result.status is Status.UNVERIFIED
    assert result.detail == error
    assert result.network_error is True
    assert result.link is LINK


def test_redirect_loop_is_broken_with_its_hops():
    hops = [Hop("https://example.org/a", 302), Hop("https://example.org/b", 302)]
    fetched = failed(
        "redirect-loop",
        "redirect loop: https://example.org/b sends back to https://example.org/a",
        hops=hops,
    )
    result = unverified_from_fetch(LINK, fetched)
    assert result.status is Status.BROKEN
    assert list(result.redirects) == hops and result.redirects is not hops
    assert result.detail.startswith("redirect loop")
    assert result.network_error is False


def test_too_many_redirects_is_broken():
    result = unverified_from_fetch(LINK, failed("too-many-redirects", "more than 10 redirects"))
    assert result.status is Status.BROKEN and result.detail == "more than 10 redirects"


def test_refused_target_is_skipped_not_a_failure():
    error = (
        "refused: example.org resolves to private address 10.0.0.5 "
        "(use --allow-private to check it)"
    )
    result = unverified_from_fetch(LINK, failed("refused", error))
    assert result.status is Status.SKIPPED
    assert result.detail == (
        "not checked: example.org resolves to private address 10.0.0.5 "
        "(use --allow-private to check it)"
    )
    assert result.network_error is False


def test_transient_answer_after_retries_is_unverified_with_its_status():
    fetched = FetchResult(LINK.url, LINK.url, status=503, attempts=3)
    result = unverified_from_fetch(LINK, fetched)
    assert result.status is Status.UNVERIFIED
    assert result.http_status == 503
    assert result.detail == "the server answered 503 Service Unavailable (tried 3 times)"
    assert result.network_error is False


def test_unknown_status_code_is_still_said():
    result = unverified_from_fetch(LINK, FetchResult(LINK.url, LINK.url, status=599))
    assert result.detail == "the server answered 599"


# --- HTTP answers (services' shared rules) ---------------------------------------------------


@pytest.mark.parametrize("code", [500, 502, 503, 504, 429])
def test_server_errors_and_rate_limits_after_retries_are_unverified(code):
    fetch = answer(PAGE, code, attempts=3)
    result = http_verdict(link_for(PAGE), fetch)
    assert result.status is Status.UNVERIFIED
    assert str(code) in result.detail
    assert result.http_status == code


@pytest.mark.parametrize("code", [400, 405, 406, 418, 451])
def test_other_client_errors_are_not_called_broken(code):
    result = http_verdict(link_for(PAGE), answer(PAGE, code))
    assert result.status is Status.UNVERIFIED
    assert f"HTTP {code}" in result.detail


def test_a_308_anywhere_in_the_chain_counts_as_permanent():
    mid, end = "https://a.example/x", "https://b.example/y"
    fetch = answer(PAGE, 200, hops=[(PAGE, 302), (mid, 308)], final_url=end)
    result = http_verdict(link_for(PAGE), fetch)
    assert result.status is Status.REDIRECTED
    assert result.fix == Fix(end, FixKind.CERTAIN, FixSource.REDIRECT)


def test_the_fix_is_where_the_permanent_redirect_pointed_not_a_later_temporary_hop():
    https = "https://example.org/deck.html"
    signed = "https://cdn.example.net/deck.html?Expires=1700000000&Signature=abc"
    fetch = answer("http://example.org/deck.html", 200, hops=[], final_url=signed)
    fetch.hops = [Hop("http://example.org/deck.html", 301), Hop(https, 302)]
    assert permanent_target(fetch) == https
    result = http_verdict(link_for("http://example.org/deck.html"), fetch)
    assert result.fix == Fix(https, FixKind.CERTAIN, FixSource.REDIRECT)
    assert result.final_url == signed


@pytest.mark.parametrize("code", [302, 303, 307])
def test_temporary_redirects_alone_stay_ok_and_note_the_final_url(code):
    end = "https://tvm.apache.org/docs/v0.9/"
    fetch = answer(PAGE, 200, hops=[(PAGE, code)], final_url=end)
    result = http_verdict(link_for(PAGE), fetch)
    assert result.status is Status.OK
    assert result.detail == f"reachable (HTTP 200) via a temporary redirect to {end}"
    assert result.final_url == end
    assert result.fix is None
    assert list(result.redirects) == [Hop(PAGE, code)]


def test_a_permanent_redirect_to_a_missing_page_is_broken_not_redirected():
    end = "https://tvm.apache.org/gone"
    fetch = answer(PAGE, 404, hops=[(PAGE, 301)], final_url=end)
    result = http_verdict(link_for(PAGE), fetch)
    assert result.status is Status.BROKEN
    assert result.detail == f"not found (HTTP 404) after a redirect to {end}"
    assert result.fix is None
