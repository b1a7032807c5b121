"""What a URL, an e-mail address and a date may be: what validation accepts, the engine can use."""

import datetime as dt

import httpx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from crawler.fields import MAX_URL_LENGTH, is_email, parse_date, url_problem


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/ConstantPark/DL_Compiler/blob/main/TVM.pdf",
        "http://127.0.0.2:8080/slides/talk.pdf",
        "https://[2001:db8::1]:8443/a",
        "https://bücher.example/",  # a proper international name: sent as xn--bcher-kva
        "https://xn--bcher-kva.example/",
        "https://example.org./fully-qualified",
        "https://" + "a" * 63 + ".example/",
        "https://example.org/" + "a" * (MAX_URL_LENGTH - 20),
    ],
)
def test_urls_the_engine_can_fetch_are_accepted(url):
    assert url_problem(url) is None


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://example.org/a\x00b", "control character U+0000 (character 22): remove it"),
        ("https://example.org/\x1b[31m", "control character U+001B"),
        ("https://example.org/\x85", "control character U+0085"),
        ("https://example.org/\ud800", "lone surrogate U+D800"),
        ("https://example.org/" + "a" * 100_000, "is 100,020 characters long; at most 8,000"),
        ("https://" + "a" * 100_000 + ".org/", "characters long; at most 8,000"),
        ("https://" + "a." * 127 + "org/", "host name is 257 characters long; a domain name has"),
        ("https://" + "a" * 64 + ".org/", "a part of 64 characters"),
        ("https://ｅｘａｍｐｌｅ.org/", "not a valid international domain name (full-width or"),
        ("https://ｅｘａｍｐｌｅ.org/", "write it as example.org"),
        ("https://Ⅸ.com/", "write it as ix.com"),
        ("https://a..b/", "'a..b' is not a host name"),
        ("https://%31%32%37.0.0.1/", "is not a host name"),
        ("https://1.2.3.999/", "bad IPv4 address"),
        ("https://1a2b3c4/", "bad IPv4 address"),  # httpx reads it as an address, and refuses it
        ("https://example.org:99999/", "not an absolute http(s) URL"),
        ("ftp://example.org/", "not an absolute http(s) URL"),
        ("https://example.org\\@10.0.0.5/", "backslash before the path makes its host ambiguous"),
    ],
)
def test_urls_the_engine_cannot_fetch_are_refused_saying_why(url, says):
    problem = url_problem(url)
    assert problem is not None and says in problem
    assert len(problem) < 300  # a 100 KB URL is not repeated in its own message


# URL-shaped text with the pieces that broke the engine: controls, odd hosts, long labels.
_host_chars = st.sampled_from([*"abcXYZ019.-_%[]:@ｅü\x00\x7f", "a" * 64, "1.2.3."])
_hosts = st.lists(_host_chars, min_size=1, max_size=12).map("".join)
_urls = st.builds(
    "{}://{}{}{}".format,
    st.sampled_from(["http", "https", "HTTPS"]),
    _hosts,
    st.sampled_from(["", ":80", ":65535", ":65536", ":x"]),
    st.text(max_size=30).map(lambda t: "/" + t),
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_urls, st.text(max_size=40).map("https://".__add__)))
@example("https://1a2b3c4/")
@example("https://example.org/\x00")
@example("https://a..b/")
def test_whatever_validation_accepts_the_engine_can_parse_and_resolve(url):
    if url_problem(url) is not None:
        return
    parsed = httpx.URL(url)  # the engine's parser: must not raise InvalidURL
    host = parsed.raw_host.decode("ascii")
    if not host.startswith("["):
        host.encode("idna")  # what getaddrinfo does with the name: must not raise
    assert len(url) <= MAX_URL_LENGTH


@pytest.mark.parametrize(
    ("text", "date"),
    [
        ("2021-02-25", dt.date(2021, 2, 25)),
        ("20210225", None),  # basic ISO format: not what the message asks for
        ("2021-W01-1", None),  # an ISO week date
        ("2021-02-30", None),  # no such day
        ("２０２１-02-25", None),  # full-width digits
        ("2021-2-25", None),
    ],
)
def test_a_date_is_a_real_day_written_yyyy_mm_dd(text, date):
    assert parse_date(text) == date


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("sonicstage12@naver.com", True),
        ("first.last+tag@mail.example.co.kr", True),
        ("a@b.c", False),  # no one-letter top-level domain exists
        ("a@b", False),
        ("a b@example.org", False),
        ("a@@example.org", False),
        ("a\x00@example.org", False),
        ("a@example..org", False),
        ("x" * 65 + "@example.org", False),
    ],
)
def test_an_email_address(text, ok):
    assert is_email(text) is ok
