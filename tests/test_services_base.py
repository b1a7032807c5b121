"""unverified_from_fetch: the one rule for fetches that brought no usable answer."""

from __future__ import annotations

import pytest

from crawler.hosts import LinkKind
from crawler.model import Hop, Link, Status
from crawler.services.base import FetchResult, HostLimits, limits_for, unverified_from_fetch

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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("github.com=8/0.1", ("github.com", HostLimits(8, 0.1))),
        ("GitHub.com.=2", ("github.com", HostLimits(2, 0.0))),
        ("*.example.org=1/3", ("example.org", HostLimits(1, 3.0))),
        ("127.0.0.1=1/0", ("127.0.0.1", HostLimits(1, 0.0))),
    ],
)
def test_a_host_limit_is_domain_count_and_optional_seconds(text, expected):
    assert HostLimits.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "github.com",
        "github.com=",
        "github.com=x",
        "github.com=2/x",
        "https://github.com/=2",
        "=2",
        "github.com=0",
        "github.com=65",
        "github.com=2/-1",
        "github.com=2/nan",
        "github.com=2/inf",
        "git hub.com=2",
    ],
)
def test_a_bad_host_limit_says_what_it_takes(text):
    with pytest.raises(ValueError, match=r"DOMAIN=N|1 <= N <= 64"):
        HostLimits.parse(text)


def test_limits_for_picks_the_most_specific_domain():
    table = [
        ("youtube.com", HostLimits(2, 1.0)),
        ("www.youtube.com", HostLimits(1, 5.0)),
        ("tube.com", HostLimits(9, 0.0)),
    ]
    assert limits_for("WWW.YouTube.com.", table) == HostLimits(1, 5.0)
    assert limits_for("m.youtube.com", table) == HostLimits(2, 1.0)
    assert limits_for("youtube.com", table) == HostLimits(2, 1.0)
    assert limits_for("notyoutube.com", table) is None  # a suffix, not a parent domain
    assert limits_for("example.org", table) is None
