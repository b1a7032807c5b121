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
import ipaddress
import socket
import threading
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


def address_kind(address: str) -> str | None:
    """Why ``address`` is not a public address ("loopback", "private", ...), or None if it is."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])  # drop an IPv6 zone id
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 reaches 127.0.0.1
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


def is_literal_ip(host: str) -> bool:
    """True for ``192.0.2.1`` or ``::1`` (brackets stripped), False for a name."""
    try:
        ipaddress.ip_address(host.strip("[]").split("%")[0])
    except ValueError:
        return False
    return True


def _is_local_name(host: str) -> bool:
    return host in _LOCAL_NAMES or host.endswith(".localhost")


def scheme_refusal(url: str) -> str | None:
    """A refusal text when ``url`` is not an http(s) URL with a host, else None."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        return f"refused: not a valid URL ({exc})"
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        shown = f"{scheme}:" if scheme else "a URL without a scheme"
        return f"refused: only http and https links are checked, not {shown}"
    if not host:
        return "refused: the URL has no host name"
    if any(c.isspace() or c in _BAD_HOST_CHARS for c in host):
        return f"refused: not a valid URL (bad host name {host!r})"
    return None


def host_refusal(host: str) -> str | None:
    """A refusal judged from the host name alone (no lookup): literal IPs and local names.

    Enough when a proxy resolves names for us; otherwise ``addresses_refusal`` must follow
    for names.
    """
    host = host.strip("[]").lower()
    if is_literal_ip(host):
        kind = address_kind(host)
        return f"refused: {host} is a {kind} address {_HINT}" if kind else None
    if _is_local_name(host):
        return f"refused: {host} is a loopback name {_HINT}"
    return None


def addresses_refusal(host: str, addresses: Iterable[str]) -> str | None:
    """A refusal when any address ``host`` resolves to is not public (DNS may rotate them)."""
    for address in addresses:
        kind = address_kind(address)
        if kind:
            return f"refused: {host} resolves to {kind} address {address} {_HINT}"
    return None


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
    if is_literal_ip(host):
        kind = address_kind(host)
        if kind:
            _refuse(refusals, host, f"a {kind} address")
    elif _is_local_name(host.lower()):
        _refuse(refusals, host, "a loopback name")


def _vet(sock: socket.socket, address: Any) -> None:
    refusals: list[str] | None = getattr(_policy, "refusals", None)
    if refusals is None or _policy.proxied or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    host = str(address[0])
    kind = address_kind(host)
    if kind:
        _refuse(refusals, host, f"a {kind} address")


def _install_connection_guard() -> None:
    """Patch ``socket.socket`` once per process so that ``_vet`` sees every connection."""
    if getattr(socket.socket.connect, "_crawler_guard", False):
        return
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def connect(sock: socket.socket, address: Any) -> None:
        _vet(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: Any) -> int:
        _vet(sock, address)
        return real_connect_ex(sock, address)

    connect._crawler_guard = True  # type: ignore[attr-defined]
    socket.socket.connect = connect  # type: ignore[method-assign]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign]
