"""The address guard: which schemes, names and addresses the crawler refuses to contact."""

from __future__ import annotations

import asyncio
import socket
import threading
from urllib.parse import urlsplit

import pytest

from crawler import safety

HINT = "(use --allow-private to check it)"


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.5", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("fd00::1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata endpoints live here
        ("fe80::1", "link-local"),
        ("fe80::1%eth0", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),  # carrier-grade NAT: neither private nor global
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped IPv6 reaches the IPv4 address
        ("::ffff:10.1.2.3", "private"),
        # IPv6 forms that carry an IPv4 address are judged by the address they carry.
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("2002:a00:5::", "private"),  # 6to4 of 10.0.0.5
        ("2002:a9fe:a9fe::1", "link-local"),  # 6to4 of 169.254.169.254
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("64:ff9b::10.0.0.5", "private"),
        ("2001:0:5db8:d822::80ff:fffe", "loopback"),  # Teredo, client 127.0.0.1 (inverted)
        ("2001:0:a00:5::a247:29dd", "private"),  # Teredo, server 10.0.0.5
    ],
)
def test_non_public_addresses_are_named(address, kind):
    assert safety.address_kind(address) == kind


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "8.8.8.8",
        "2606:2800:220:1::1",
        "2002:5db8:d822::1",  # 6to4 of 93.184.216.34
        "64:ff9b::5db8:d822",  # NAT64 (an IPv6-only runner's DNS64 answer) of 93.184.216.34
        "2001:0:5db8:d822::a247:29dd",  # Teredo, server and client public
    ],
)
def test_public_addresses_pass(address):
    assert safety.address_kind(address) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://[2002:7f00:1::]/", "2002:7f00:1:: leads to 127.0.0.1, a loopback address"),
        ("http://[2002:a00:5::]:8080/x", "2002:a00:5:: leads to 10.0.0.5, a private address"),
        ("http://[64:ff9b::a00:5]/", "64:ff9b::a00:5 leads to 10.0.0.5, a private address"),
        (
            "http://[2001:0:5db8:d822::80ff:fffe]/",
            "2001:0:5db8:d822::80ff:fffe leads to 127.0.0.1, a loopback address",
        ),
        ("http://0.0.0.0/", "0.0.0.0 is an unspecified address"),
        ("http://[::]/", ":: is an unspecified address"),
        # What the C resolver (and so a proxy) reads as an address is judged as one.
        ("http://127.1/", "127.1 leads to 127.0.0.1, a loopback address"),
        ("http://2130706433/", "2130706433 leads to 127.0.0.1, a loopback address"),
        ("http://0x0a000005/", "0x0a000005 leads to 10.0.0.5, a private address"),
        ("http://012.0.0.5/", "012.0.0.5 leads to 10.0.0.5, a private address"),
        ("http://127.0.0.1./", "127.0.0.1 is a loopback address"),
        ("http://localhost./", "localhost is a loopback name"),
        ("http://api.localhost./", "api.localhost is a loopback name"),
    ],
)
def test_literal_urls_are_judged_by_the_address_they_reach(url, expected):
    host = urlsplit(url).hostname or ""
    assert safety.host_refusal(host) == f"refused: {expected} {HINT}"


@pytest.mark.parametrize("host", ["8.8", "1.2.3", "0x5db8d822", "1e100.net", "deadbeef", "a.b"])
def test_names_and_public_shorthands_pass_the_host_check(host):
    assert safety.host_refusal(host) is None


def test_a_resolved_address_that_carries_a_private_one_is_refused():
    assert safety.addresses_refusal("six.example", ["93.184.216.34", "2002:a00:5::"]) == (
        f"refused: six.example resolves to 2002:a00:5::, which leads to private address "
        f"10.0.0.5 {HINT}"
    )
    assert safety.addresses_refusal("dns64.example", ["64:ff9b::5db8:d822"]) is None


def test_a_name_is_not_an_address():
    assert safety.address_kind("example.org") is None
    assert safety.is_literal_ip("[::1]") and safety.is_literal_ip("10.0.0.1")
    assert not safety.is_literal_ip("example.org")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/x", None),
        ("HTTP://EXAMPLE.ORG/", None),
        ("ftp://example.org/x", "refused: only http and https links are checked, not ftp:"),
        (
            "mailto:someone@example.org",
            "refused: only http and https links are checked, not mailto:",
        ),
        (
            "//example.org/x",
            "refused: only http and https links are checked, not a URL without a scheme",
        ),
        ("https:///nohost", "refused: the URL has no host name"),
        ("https://example.org:99999/", "refused: not a valid URL (Port out of range 0-65535)"),
        ("https://exa mple.org/", "refused: not a valid URL (bad host name 'exa mple.org')"),
    ],
)
def test_scheme_refusal(url, expected):
    assert safety.scheme_refusal(url) == expected


def test_host_refusal_judges_literal_ips_and_local_names_without_lookups():
    assert safety.host_refusal("example.org") is None
    assert safety.host_refusal("93.184.216.34") is None
    assert safety.host_refusal("127.0.0.1") == (
        "refused: 127.0.0.1 is a loopback address (use --allow-private to check it)"
    )
    assert safety.host_refusal("[::1]") is not None
    assert safety.host_refusal("LOCALHOST") == (
        "refused: localhost is a loopback name (use --allow-private to check it)"
    )
    assert safety.host_refusal("api.localhost") is not None


def test_any_non_public_address_of_a_name_refuses_it():
    # DNS may hand out either address, so one bad one is enough.
    assert safety.addresses_refusal("example.org", ["93.184.216.34"]) is None
    assert safety.addresses_refusal("mixed.example", ["93.184.216.34", "10.0.0.5"]) == (
        "refused: mixed.example resolves to private address 10.0.0.5 "
        "(use --allow-private to check it)"
    )


def test_system_resolver_resolves_localhost():
    # localhost is the one name the test network guard lets through.
    addresses = asyncio.run(safety.system_resolver("localhost"))
    assert addresses
    assert all(safety.address_kind(a) == "loopback" for a in addresses)


# -- refusing_private: the connection guard of yt-dlp's worker processes ---------------------


def _listener(host: str = "127.0.0.1") -> socket.socket:
    server = socket.socket()
    server.bind((host, 0))
    server.listen()
    return server


def _connect(address) -> None:
    with socket.create_connection(address, timeout=2):
        pass


def test_refusing_private_refuses_non_public_peers_within_the_block_only():
    server = _listener()
    address = server.getsockname()
    with server:
        loopback = r"a connection to 127\.0\.0\.1, a loopback address"
        with (
            safety.refusing_private() as refusals,
            pytest.raises(ConnectionRefusedError, match=loopback),
        ):
            _connect(address)
        assert refusals == [
            "refused: a connection to 127.0.0.1, a loopback address "
            "(use --allow-private to check it)"
        ]
        _connect(address)  # after the block, as before it


def test_refusing_private_is_per_thread():
    # yt-dlp runs in worker processes with one thread; the engine's own thread, if it ever
    # shared a process with one, must not be refused anything.
    server = _listener()
    address = server.getsockname()
    other: list[BaseException | None] = []

    def elsewhere() -> None:
        try:
            _connect(address)
            other.append(None)
        except OSError as exc:
            other.append(exc)

    with server, safety.refusing_private():
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
    assert other == [None]


def test_refusing_private_judges_the_address_connected_to_not_the_name(monkeypatch):
    # What a redirect or a second DNS answer leads to is what counts: here 127.0.0.1 stands
    # for a public address and 127.0.0.2 for an internal one.
    monkeypatch.setattr(
        safety, "address_kind", lambda a: "private" if a.startswith("127.0.0.2") else None
    )
    public, internal = _listener("127.0.0.1"), _listener("127.0.0.2")
    with public, internal, safety.refusing_private() as refusals:
        _connect(public.getsockname())
        with pytest.raises(ConnectionRefusedError):
            _connect(internal.getsockname())
    assert refusals == [
        "refused: a connection to 127.0.0.2, a private address (use --allow-private to check it)"
    ]


def test_refusing_private_names_an_unspecified_address_in_good_english():
    server = _listener()
    port = server.getsockname()[1]
    with server, safety.refusing_private() as refusals, pytest.raises(ConnectionRefusedError):
        _connect(("0.0.0.0", port))  # Linux would take it for 127.0.0.1
    assert refusals == [f"refused: a connection to 0.0.0.0, an unspecified address {HINT}"]
