"""The address guard: which schemes, names and addresses the crawler refuses to contact."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from crawler import safety


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
    ],
)
def test_non_public_addresses_are_named(address, kind):
    assert safety.address_kind(address) == kind


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:2800:220:1::1"])
def test_public_addresses_pass(address):
    assert safety.address_kind(address) is None


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
