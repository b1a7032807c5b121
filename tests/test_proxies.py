"""Which proxy a URL goes through: the environment's rules, and the same answer as httpx's."""

from __future__ import annotations

import httpx
import pytest

from crawler.proxies import Proxies

VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUEST_METHOD")


@pytest.fixture
def environ(monkeypatch):
    """Set exactly the proxy variables given (every other one, either case, unset)."""

    def setting(**values: str) -> Proxies:
        for name in VARIABLES:
            monkeypatch.delenv(name, raising=False)
            monkeypatch.delenv(name.lower(), raising=False)
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        return Proxies.from_environment()

    return setting


def test_a_proxy_per_scheme(environ):
    proxies = environ(HTTPS_PROXY="http://secure.proxy:3128", HTTP_PROXY="plain.proxy:8080")
    assert proxies.for_url("https://example.org/a.pdf") == "http://secure.proxy:3128"
    assert proxies.for_url("http://example.org/a.pdf") == "http://plain.proxy:8080"  # http://
    assert proxies.in_force


def test_all_proxy_serves_the_schemes_without_their_own(environ):
    proxies = environ(ALL_PROXY="socks5://any.proxy:1080", HTTPS_PROXY="http://secure.proxy:1")
    assert proxies.for_url("http://example.org/") == "socks5://any.proxy:1080"
    assert proxies.for_url("https://example.org/") == "http://secure.proxy:1"


def test_lower_case_names_win(environ):
    proxies = environ(https_proxy="http://lower.proxy:1", HTTPS_PROXY="http://upper.proxy:2")
    assert proxies.for_url("https://example.org/") == "http://lower.proxy:1"


def test_no_proxy_alone_puts_no_proxy_in_force(environ):
    proxies = environ(NO_PROXY="127.0.0.1,localhost")
    assert not proxies.in_force
    assert proxies.for_url("https://example.org/") is None


@pytest.mark.parametrize(
    ("no_proxy", "url", "direct"),
    [
        ("example.com", "https://example.com/", True),
        ("example.com", "https://www.example.com/", True),  # and its subdomains
        ("example.com", "https://myexample.com/", False),  # whole labels only
        ("example.com", "https://example.com.evil.test/", False),
        (".example.com", "https://www.example.com/", True),
        (".example.com", "https://example.com/", False),  # the leading dot: subdomains only
        ("EXAMPLE.com", "https://Www.Example.COM/", True),  # names in any case
        ("10.0.0.5", "http://10.0.0.5:8080/", True),
        ("10.0.0.5", "http://10.0.0.50/", False),
        ("::1", "http://[::1]:8080/", True),
        ("localhost", "http://localhost/", True),
        ("example.com:8443", "https://example.com:8443/", True),  # that port only
        ("example.com:8443", "https://example.com/", False),
        ("http://example.com", "http://example.com/", True),  # that scheme only
        ("http://example.com", "https://example.com/", False),
        ("10.0.0.0/8", "http://10.0.0.0/", True),  # no CIDR: the first address only
        ("10.0.0.0/8", "http://10.1.2.3/", False),
        (" a.test , example.com ,", "https://example.com/", True),  # spaces, empty entries
        ("*", "https://anything.test/", True),
        ("a.test,*", "https://anything.test/", True),  # "*" anywhere in the list
    ],
)
def test_no_proxy_entries(environ, no_proxy, url, direct):
    proxies = environ(ALL_PROXY="http://proxy.internal:3128", NO_PROXY=no_proxy)
    assert proxies.for_url(url) == (None if direct else "http://proxy.internal:3128")


def test_the_most_specific_rule_wins_whatever_the_order():
    proxies = Proxies(
        {
            "all://": "http://any:1",
            "all://*example.com": None,
            "https://": "http://secure:2",
            "https://example.com:8443": "http://port:3",
        }
    )
    assert proxies.for_url("https://example.com:8443/") == "http://port:3"  # a port first
    assert proxies.for_url("https://www.example.com/") is None  # then the longest host
    assert proxies.for_url("https://example.org/") == "http://secure:2"  # then the scheme
    assert proxies.for_url("http://example.org/") == "http://any:1"


def test_a_url_httpx_cannot_send_has_no_proxy(environ):
    proxies = environ(ALL_PROXY="http://proxy.internal:3128")
    assert proxies.for_url("http://[::g]/") is None  # httpx.InvalidURL: no request at all


# The engine's client (httpx, trust_env) routes requests by httpx's own, private rules, and
# the engine must know which URLs go to a proxy (the proxy resolves their names; yt-dlp gets
# the same proxy). So the rules above are held to httpx's: its reference functions give the
# same proxy for every case, and its client sends the same URLs to a proxy.
ENVIRONMENTS = [
    {"HTTPS_PROXY": "http://s.proxy:1", "HTTP_PROXY": "h.proxy:2", "NO_PROXY": ""},
    {"ALL_PROXY": "http://a.proxy:3", "NO_PROXY": "example.com,.skip.test,10.0.0.5,::1"},
    {"ALL_PROXY": "http://a.proxy:3", "NO_PROXY": "localhost, example.com:8443 ,http://p.test"},
    {"HTTPS_PROXY": "http://s.proxy:1", "NO_PROXY": "10.0.0.0/8,EXAMPLE.ORG,*.star.test"},
    {"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2", "no_proxy": "a.test"},
    {"ALL_PROXY": "http://a.proxy:3", "NO_PROXY": "a.test,*"},
    {"NO_PROXY": "example.com"},
]
URLS = [
    f"{scheme}://{host}{port}/x"
    for scheme in ("http", "https")
    for port in ("", ":8443")
    for host in (
        "example.com",
        "www.example.com",
        "myexample.com",
        "skip.test",
        "a.skip.test",
        "p.test",
        "a.star.test",
        "star.test",
        "10.0.0.5",
        "10.1.2.3",
        "10.0.0.0",
        "[::1]",
        "localhost",
        "example.org",
        "www.Example.org",
        "a.test",
        "bücher.example",
    )
]


@pytest.mark.parametrize("env", ENVIRONMENTS, ids=lambda env: ",".join(env.values()))
def test_the_same_answer_as_httpx(environ, env):
    from httpx._utils import URLPattern, get_environment_proxies  # the reference, tests only

    ours = environ(**env)
    reference = sorted(
        ((URLPattern(k), v) for k, v in get_environment_proxies().items()), key=lambda kv: kv[0]
    )
    client = httpx.Client(trust_env=True)
    try:
        for url in URLS:
            parsed = httpx.URL(url)
            theirs = next((proxy for p, proxy in reference if p.matches(parsed)), None)
            assert ours.for_url(url) == theirs, url
            via_proxy = client._transport_for_url(parsed) is not client._transport
            assert (ours.for_url(url) is not None) == via_proxy, url
    finally:
        client.close()
