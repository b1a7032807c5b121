"""Refuse every connection or name lookup that would leave 127.0.0.0/8 or ::1.

Installed in the test process by ``tests/conftest.py`` and in every subprocess the tests start
(through ``sitecustomize.py`` beside this file, put on ``PYTHONPATH``). A refused attempt raises
``StrayNetworkAccess`` *and* is appended to the file named by ``CRAWLER_NETGUARD_LOG``, so a test
fails even when the code under test swallows the error (the crawler turns network errors into
``unverified``, which would otherwise hide a stray request).
"""

from __future__ import annotations

import ipaddress
import os
import socket

LOG_ENV = "CRAWLER_NETGUARD_LOG"
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class StrayNetworkAccess(ConnectionRefusedError):
    """A test tried to reach an address outside the loopback range."""


def is_local_host(host: object) -> bool:
    if host is None:
        return True  # getaddrinfo(None, port) means a local wildcard bind
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").lower()
    if host in _LOCAL_NAMES or host in ("", "0.0.0.0", "::"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _record(what: str) -> None:
    path = os.environ.get(LOG_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(what + "\n")


def _refuse(what: str) -> StrayNetworkAccess:
    _record(what)
    return StrayNetworkAccess(f"test network guard: refused {what} (only 127.0.0.1/::1 allowed)")


_installed = False


def install() -> None:
    """Patch the socket module in this process (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def guarded_getaddrinfo(host, *args, **kwargs):
        if not is_local_host(host):
            raise _refuse(f"name lookup of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def _check(sock: socket.socket, address) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_local_host(address[0]):
            raise _refuse(f"connection to {address!r}")

    def guarded_connect(self, address):
        _check(self, address)
        return real_connect(self, address)

    def guarded_connect_ex(self, address):
        _check(self, address)
        return real_connect_ex(self, address)

    socket.getaddrinfo = guarded_getaddrinfo
    socket.socket.connect = guarded_connect
    socket.socket.connect_ex = guarded_connect_ex
