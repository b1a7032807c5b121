"""What a request that got no HTTP answer failed of: plain words for the reader
(``describe_error``), and whether asking again may help (``is_transient``, for ``retry``)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

import httpx

from crawler import safety
from crawler.config import Settings
from crawler.http.budget import OutOfTime
from crawler.services.base import FetchErrorKind


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything behind it (causes, aiohttp's wrapped OS errors)."""
    stack, seen = [exc], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for nested in (
            current.__cause__,
            current.__context__,
            getattr(current, "os_error", None),
            getattr(current, "certificate_error", None),
        ):
            if isinstance(nested, BaseException):
                stack.append(nested)


def describe_error(exc: BaseException, host: str, settings: Settings) -> tuple[FetchErrorKind, str]:
    """Plain words (and a kind) for a request that got no HTTP answer."""
    if isinstance(exc, OutOfTime):
        return "too-slow", str(exc)
    if isinstance(exc, httpx.ConnectTimeout):
        return "timeout", f"timed out after {settings.connect_timeout:g} s connecting to {host}"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout", f"timed out after {settings.read_timeout:g} s waiting for {host}"
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return "refused", f"refused: not a URL the crawler can fetch ({exc})"
    causes = list(_causes(exc))
    for cause in causes:
        if isinstance(cause, safety.AddressRefused):  # a renewed DNS answer, judged again
            return "refused", str(cause)
    text = " ".join(str(c) for c in causes)
    for cause in causes:
        if isinstance(cause, ssl.SSLCertVerificationError):
            # aiohttp's wrapper is an SSLCertVerificationError too, without the details.
            reason = getattr(cause, "verify_message", None)
            if reason:
                return "network", f"TLS certificate verify failed for {host} ({reason})"
    if "CERTIFICATE_VERIFY_FAILED" in text or any(
        isinstance(c, ssl.SSLCertVerificationError) for c in causes
    ):
        return "network", f"TLS certificate verify failed for {host}"
    if any(isinstance(c, ssl.SSLError) for c in causes):
        return "network", f"TLS handshake with {host} failed"
    if any(isinstance(c, socket.gaierror) for c in causes):
        return "network", f"DNS lookup failed for {host}"
    if any(isinstance(c, ConnectionRefusedError) for c in causes) or "refused" in text.lower():
        return "network", f"connection refused by {host}"
    if any(isinstance(c, ConnectionResetError) for c in causes):
        return "network", f"connection reset by {host}"
    if isinstance(exc, httpx.ProxyError):
        return "network", f"the proxy failed to reach {host} ({exc})"
    if _is_malformed(exc):
        reason = " ".join(str(exc).split()).removesuffix(" ^")[:120]  # the parser's words
        return "network", f"{host} sent an answer that is not valid HTTP ({reason})"
    if isinstance(exc, httpx.RemoteProtocolError):
        return "network", f"{host} closed the connection without a complete answer"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return "network", f"the connection to {host} broke ({exc or type(exc).__name__})"
    if isinstance(exc, httpx.ConnectError):
        return "network", f"could not connect to {host} ({exc})"
    return "network", f"network error with {host}: {type(exc).__name__}: {exc}"


def _is_malformed(exc: BaseException) -> bool:
    """True for an answer the transport's parser refused (``transport.MalformedAnswer``)."""
    if not isinstance(exc, httpx.RemoteProtocolError):
        return False
    # Imported here: crawler.transport imports aiohttp, which a run behind a proxy or an
    # offline run never needs otherwise.
    from crawler.transport import MalformedAnswer

    return isinstance(exc, MalformedAnswer)


def is_transient(exc: BaseException) -> bool:
    """True for a failure that asking again may cure (a connection that broke or timed out)."""
    if _is_malformed(exc):  # a server that sends that will send it again
        return False
    if not isinstance(
        exc, httpx.NetworkError | httpx.TimeoutException | httpx.RemoteProtocolError
    ) and not isinstance(exc, httpx.ProxyError):
        return False
    # A bad certificate, an unknown name or a refused address will not fix itself in a second.
    return not any(
        isinstance(c, ssl.SSLCertVerificationError | socket.gaierror | safety.AddressRefused)
        for c in _causes(exc)
    )
