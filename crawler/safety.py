"""Which targets the crawler refuses to contact: non-web schemes and non-public addresses.

A catalogue is edited by many hands and the crawler runs in CI next to internal services, so a
link (or a redirect) pointing at ``http://127.0.0.1/`` or a name resolving to ``10.x`` must not
be fetched unless the user asked for it (``--allow-private``). The engine applies these checks
to every redirect hop. yt-dlp opens its own connections and follows redirects itself, so its
worker processes vet the address of every connection instead (``refusing_private``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import ipaddress
import re
import socket
import threading
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

Resolver = Callable[[str], Awaitable[list[str]]]


class AddressRefused(OSError):
    """A connection the guard refused to make; its text says why ("refused: …")."""


ALLOWED_SCHEMES = ("http", "https")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_HINT = "(use --allow-private to check it)"
_BAD_HOST_CHARS = set('%<>"{}|\\^`/?#@')
# The same, and any whitespace (\s is str.isspace's set), in one search.
_BAD_HOST = re.compile("[\\s" + re.escape("".join(sorted(_BAD_HOST_CHARS))) + "]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NUMERIC_CHARS = set("0123456789abcdefx.")  # 127.1, 0x7f.1, 0177.0.0.1, 2130706433
MAX_URL_LENGTH = 65_536  # httpx's own limit; servers refuse far shorter ones
_TOO_LONG = f"more than the {MAX_URL_LENGTH:,} a request may carry"


# NAT64's well-known prefix (RFC 6052): 64:ff9b::a.b.c.d is a.b.c.d behind a translator.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def carried_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 address leads to: IPv4-mapped (``::ffff:a.b.c.d``), 6to4
    (``2002:AABB:CCDD::``), NAT64 (``64:ff9b::a.b.c.d``) and Teredo (server and client)."""
    if ip.ipv4_mapped is not None:
        return (ip.ipv4_mapped,)
    if ip.sixtofour is not None:
        return (ip.sixtofour,)
    if ip in _NAT64:
        return (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    if ip.teredo is not None:
        return ip.teredo  # the client's address is stored inverted; ``teredo`` undoes it
    return ()


def address_kind(address: str) -> str | None:
    """Why ``address`` is not a public address ("loopback", "private", ...), or None if it is.

    An IPv6 address that carries an IPv4 address is judged by what it carries:
    ``2002:7f00:1::`` (6to4) reaches 127.0.0.1 as surely as ``::ffff:127.0.0.1`` does.
    """
    try:
        ip = ipaddress.ip_address(address.split("%")[0])  # drop an IPv6 zone id
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and (carried := carried_ipv4(ip)):
        return next((k for k in map(_kind, carried) if k), None)
    return _kind(ip)


def _kind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    for kind, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("reserved", ip.is_reserved),  # before private: 240/4 counts as both
        ("private", ip.is_private),
    ):
        if flag:
            return kind
    # Shared address space (100.64/10) and the like are neither private nor public.
    return None if ip.is_global else "non-public"


def _a_kind(kind: str) -> str:
    """The article for a kind of address: "a private", "an unspecified"."""
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def is_literal_ip(host: str) -> bool:
    """True for ``192.0.2.1`` or ``::1`` (brackets stripped), False for a name."""
    try:
        ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return False
    return True


def _is_local_name(host: str) -> bool:
    return host in _LOCAL_NAMES or host.endswith(".localhost")


# Each link's URL is judged twice (before any service sees it, and again as the first hop of
# its fetch), and hops repeat across links: a bounded cache halves the work at 100,000 links.
@functools.lru_cache(maxsize=4096)
def scheme_refusal(url: str) -> str | None:
    """A refusal text when ``url`` is not an http(s) URL with a host, else None.

    Also what no request can carry (validation refuses these, but a hand-made report or a
    redirect must not reach the network code with one): a control character, a URL longer
    than HTTP clients send, a host name longer than DNS allows or in look-alike letters.
    """
    if len(url) > MAX_URL_LENGTH:
        return f"refused: not a valid URL (it is {len(url):,} characters long, {_TOO_LONG})"
    if (control := _CONTROL.search(url)) is not None:
        where = f"U+{ord(control.group()):04X} at position {control.start()}"
        return f"refused: not a valid URL (it contains a control character, {where})"
    try:
        url.encode()
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except UnicodeEncodeError:
        return "refused: not a valid URL (it contains a character that is not valid Unicode)"
    except ValueError as exc:
        return f"refused: not a valid URL ({exc})"
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = f"{scheme}:" if scheme else "a URL without a scheme"
        return f"refused: only http and https links are checked, not {shown}"
    if not host:
        return "refused: the URL has no host name"
    if _BAD_HOST.search(host):
        return f"refused: not a valid URL (bad host name {host[:80]!r})"
    if len(host) > 63 and (len(host) > 253 or any(len(label) > 63 for label in host.split("."))):
        return f"refused: not a valid URL (its host name, {len(host):,} characters, is too long)"
    if not host.isascii() and (plain := unicodedata.normalize("NFKC", host)) != host:
        return (
            f"refused: not a valid URL (its host name {host} is written in full-width or "
            f"look-alike letters; in plain letters it is {plain})"
        )
    return None


@functools.lru_cache(maxsize=4096)
def origin_of(url: str) -> str:
    """``scheme://netloc`` of a URL ``scheme_refusal`` let through, lower-cased: what the
    verdicts that depend only on the origin are kept under (cached like ``scheme_refusal``)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def host_refusal(host: str) -> str | None:
    """A refusal judged from the host name alone (no lookup): literal IPs and local names.

    Enough when a proxy resolves names for us; otherwise ``addresses_refusal`` must follow
    for names. A trailing dot and the numeric shorthands the C resolver accepts (``127.1``,
    ``0x7f.1``, ``2130706433``) are literal addresses too: a proxy would resolve them so.
    """
    host = host.strip("[]").lower().rstrip(".")
    address = host if is_literal_ip(host) else _numeric_ipv4(host)
    if address is not None:
        kind = address_kind(address)
        if kind is None:
            return None
        target = _leads_to(address)
        if target == host:
            return f"refused: {host} is {_a_kind(kind)} address {_HINT}"
        return f"refused: {host} leads to {target}, {_a_kind(kind)} address {_HINT}"
    if _is_local_name(host):
        return f"refused: {host} is a loopback name {_HINT}"
    return None


def addresses_refusal(host: str, addresses: Iterable[str]) -> str | None:
    """A refusal when any address ``host`` resolves to is not public (DNS may rotate them)."""
    for address in addresses:
        kind = address_kind(address)
        if kind:
            target = _leads_to(address)
            if target == address:
                return f"refused: {host} resolves to {kind} address {address} {_HINT}"
            return (
                f"refused: {host} resolves to {address}, which leads to {kind} address "
                f"{target} {_HINT}"
            )
    return None


def _numeric_ipv4(host: str) -> str | None:
    """The IPv4 address the C resolver reads in ``host`` (``inet_aton``), or None."""
    if not host[:1].isdigit() or not set(host) <= _NUMERIC_CHARS:
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


def _leads_to(address: str) -> str:
    """The address a non-public literal was judged by: itself, or the IPv4 address inside it
    that is not public (6to4, NAT64, Teredo; an IPv4-mapped address is plainly that)."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv4Address) or ip.ipv4_mapped is not None:
        return address
    return next((str(v4) for v4 in carried_ipv4(ip) if _kind(v4)), address)


async def system_resolver(host: str) -> list[str]:
    """The addresses the operating system gives for ``host`` (raises OSError when it fails)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


# -- connections opened by code that connects by itself (yt-dlp) -----------------------------

# Per thread, the refusals made while the thread is inside ``refusing_private`` (None outside).
# Process-wide by nature: the guard patches the socket type, as only a socket sees the address
# a redirect or a second DNS answer finally leads to.
_policy = threading.local()


def refusing_private(*, proxied: bool = False) -> contextlib.AbstractContextManager[list[str]]:
    """Within the block, this thread's connections to non-public addresses fail with
    ``ConnectionRefusedError``; the block gets the list of refusal texts made meanwhile.

    For yt-dlp, which follows redirects and resolves names itself, past the engine's checks:
    the address judged is the one each connection really goes to. Behind a proxy
    (``proxied``) every connection goes to the proxy, which is the user's choice: then the
    URLs requested are judged instead, by host name (``vet_url``, called on every hop).
    """
    if not proxied:
        _install_connection_guard()
    return _refusing(proxied)


@contextlib.contextmanager
def _refusing(proxied: bool) -> Iterator[list[str]]:
    outer = getattr(_policy, "refusals", None), getattr(_policy, "proxied", False)
    refusals: list[str] = []
    _policy.refusals, _policy.proxied = refusals, proxied
    try:
        yield refusals
    finally:
        _policy.refusals, _policy.proxied = outer


def _refuse(refusals: list[str], host: str, what: str) -> None:
    refusals.append(f"refused: a connection to {host}, {what} {_HINT}")
    raise ConnectionRefusedError(errno.ECONNREFUSED, refusals[-1])


def vet_url(url: str) -> None:
    """Within ``refusing_private``, refuse a request whose host is a non-public literal
    address or a loopback name, before it is sent (and recorded as the block's refusal)."""
    refusals: list[str] | None = getattr(_policy, "refusals", None)
    if refusals is None:
        return
    try:
        host = (urlsplit(url).hostname or "").strip("[]")
    except ValueError:
        return  # not a URL the client can send either
    # As ``host_refusal`` reads it: the numeric shorthands (127.1) and a trailing dot too,
    # which the proxy would resolve to the address they spell.
    name = host.lower().rstrip(".")
    address = name if is_literal_ip(name) else _numeric_ipv4(name)
    if address is not None:
        kind = address_kind(address)
        if kind:
            _refuse(refusals, host, f"{_a_kind(kind)} address")
    elif _is_local_name(name):
        _refuse(refusals, host, "a loopback name")


def _vet(sock: socket.SocketType, address: Any) -> None:
    refusals: list[str] | None = getattr(_policy, "refusals", None)
    if refusals is None or _policy.proxied or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = str(address[0])
    kind = address_kind(host)
    if kind:
        _refuse(refusals, host, f"{_a_kind(kind)} address")


def _install_connection_guard() -> None:
    """Patch ``socket.socket`` once per process so that ``_vet`` sees every connection."""
    if getattr(socket.socket.connect, "_crawler_guard", False):
        return
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def connect(sock: socket.SocketType, address: Any) -> None:
        _vet(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock: socket.SocketType, address: Any) -> int:
        _vet(sock, address)
        return real_connect_ex(sock, address)

    connect._crawler_guard = True  # type: ignore[attr-defined]
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
