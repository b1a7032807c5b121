"""Which proxy a URL goes through, from HTTPS_PROXY, HTTP_PROXY, ALL_PROXY and NO_PROXY.

These are the rules httpx's client routes requests by when it reads the environment
(``trust_env``), written out here because httpx keeps them private. The engine must give the
answer its client acts on: a URL sent to a proxy has its name resolved by the proxy (the
address guard then judges only addresses written out), and yt-dlp is handed the same proxy.

- ``HTTP_PROXY``/``HTTPS_PROXY`` by the URL's scheme, ``ALL_PROXY`` for any; a proxy given
  without a scheme is ``http://``; lower-case names win (``urllib.request.getproxies``).
- ``NO_PROXY``, comma-separated, as curl reads it: ``*`` turns every proxy off;
  ``example.com`` spares it and its subdomains (not ``myexample.com``), ``.example.com`` only
  the subdomains; an IP address, ``::1`` or ``localhost`` that host; ``host:port`` that port;
  ``http://host`` that scheme. No CIDR ranges (curl 7.86 has them): ``10.0.0.0/8`` is 10.0.0.0.
- The most specific rule wins: one with a port, then the longest host, then the longest scheme.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from typing import NamedTuple
from urllib.request import getproxies

import httpx


class Rule(NamedTuple):
    """URLs of ``scheme`` ("" any), on a host ``host`` matches (None any), on ``port`` (None
    any) go through ``proxy``, or direct when it is None."""

    scheme: str
    host: re.Pattern[str] | None
    port: int | None
    proxy: str | None

    @classmethod
    def parse(cls, pattern: str, proxy: str | None) -> tuple[tuple[int, int, int], Rule]:
        """The rule for ``pattern`` ("https://", "all://*example.com", "all://[::1]", ...),
        with its rank: one with a port first, then the longest host, then the longest scheme."""
        url = httpx.URL(pattern)
        scheme = "" if url.scheme == "all" else url.scheme
        host = "" if url.host == "*" else url.host
        rank = (0 if url.port is not None else 1, -len(host), -len(scheme))
        return rank, cls(scheme, _host_regex(host), url.port, proxy)

    def matches(self, url: httpx.URL) -> bool:
        return (
            (not self.scheme or self.scheme == url.scheme)
            and (self.host is None or self.host.match(url.host) is not None)
            and (self.port is None or self.port == url.port)
        )


class Proxies:
    """The proxy rules in force, most specific first; ``for_url`` applies them."""

    def __init__(self, table: Mapping[str, str | None]) -> None:
        ranked = [Rule.parse(pattern, proxy) for pattern, proxy in table.items()]
        # Sorted by rank alone: on a tie the table's order holds (as in httpx's client).
        self.rules = [rule for _, rule in sorted(ranked, key=lambda item: item[0])]

    @classmethod
    def from_environment(cls) -> Proxies:
        return cls(environment_table())

    @property
    def in_force(self) -> bool:
        """True when some URL would go through a proxy."""
        return any(rule.proxy is not None for rule in self.rules)

    def for_url(self, url: str) -> str | None:
        """The proxy ``url`` goes through, or None (direct, or not a URL httpx can send)."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            return None
        return next((rule.proxy for rule in self.rules if rule.matches(parsed)), None)


def _host_regex(host: str) -> re.Pattern[str] | None:
    if not host:
        return None
    if host.startswith("*."):  # *.example.com: www.example.com, not example.com
        return re.compile(f"^.+\\.{re.escape(host[2:])}$")
    if host.startswith("*"):  # *example.com: example.com and www.example.com
        return re.compile(f"^(.+\\.)?{re.escape(host[1:])}$")
    return re.compile(f"^{re.escape(host)}$")


def environment_table() -> dict[str, str | None]:
    """The environment's proxies as rules: URL pattern → proxy URL (None: direct)."""
    info = getproxies()
    table: dict[str, str | None] = {}
    for scheme in ("http", "https", "all"):
        if info.get(scheme):
            proxy = info[scheme]
            table[f"{scheme}://"] = proxy if "://" in proxy else f"http://{proxy}"
    for entry in (entry.strip() for entry in info.get("no", "").split(",")):
        if entry == "*":
            return {}
        if not entry:
            continue
        if "://" in entry:
            table[entry] = None
        elif _is_ip(entry, ipaddress.IPv4Address) or entry.lower() == "localhost":
            table[f"all://{entry}"] = None
        elif _is_ip(entry, ipaddress.IPv6Address):
            table[f"all://[{entry}]"] = None
        else:
            # "example.com" spares its subdomains too ("*example.com" matches on whole labels).
            table[f"all://*{entry}"] = None
    return table


def _is_ip(text: str, kind: type[ipaddress.IPv4Address] | type[ipaddress.IPv6Address]) -> bool:
    try:
        kind(text.split("/")[0])  # "192.168.0.0/16" counts (as its first address)
    except ValueError:
        return False
    return True
