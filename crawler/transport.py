"""The production HTTP transport: httpx's API over aiohttp's connection pool.

httpx's own pool is CPU-bound at tens of thousands of requests; aiohttp's is not. This adapter
differs from ``httpx_aiohttp.AiohttpTransport`` in ways that matter to a link checker:

* the URL goes to aiohttp already encoded, so percent-escapes reach the wire byte for byte
  (yarl would otherwise decode ``%41`` to ``A`` or ``%2F`` in a query to ``/``);
* aiohttp's exceptions become the httpx exception that says what happened (a server that
  closed the connection is a ``RemoteProtocolError``, not a "connect timeout");
* given the engine's ``lookup``, it connects to the addresses that lookup gave, the ones the
  engine's safety check judged, never to a second lookup's answer (see ``PinnedResolver``).

Proxies are not handled here: the engine uses httpx's own transport when one is in force.
"""

from __future__ import annotations

import functools
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import httpx
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult

Lookup = Callable[[str], Awaitable[list[str]]]


class MalformedAnswer(httpx.RemoteProtocolError):
    """The server answered, but not in HTTP the parser accepts (a duplicate Content-Length,
    a bad status line, bytes after a HEAD answer); the message says what the parser saw."""


# First match wins, so subclasses come before their bases.
_ERROR_MAP: tuple[tuple[type[BaseException], type[httpx.TransportError]], ...] = (
    (aiohttp.ClientProxyConnectionError, httpx.ProxyError),
    (aiohttp.ClientHttpProxyError, httpx.ProxyError),
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    (aiohttp.SocketTimeoutError, httpx.ReadTimeout),
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    (aiohttp.ClientConnectorError, httpx.ConnectError),  # DNS, refused, TLS
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, MalformedAnswer),  # an unparsable answer
    (aiohttp.ClientOSError, httpx.ReadError),  # reset after connecting
    (aiohttp.InvalidURL, httpx.UnsupportedProtocol),
    (aiohttp.NonHttpUrlClientError, httpx.UnsupportedProtocol),
    (aiohttp.ClientError, httpx.NetworkError),
    (TimeoutError, httpx.TimeoutException),
)


def _mapped(exc: Exception, request: httpx.Request) -> Exception:
    """The httpx exception that says what ``exc`` (aiohttp's) means; others as they are."""
    if isinstance(exc, httpx.HTTPError):
        return exc
    for source, target in _ERROR_MAP:
        if isinstance(exc, source):
            # The parser's own words, not aiohttp's "400, message=…, url=…" wrapping.
            text = exc.message if isinstance(exc, aiohttp.ClientResponseError) else str(exc)
            return target(text or type(exc).__name__, request=request)
    return exc


class _Stream(httpx.AsyncByteStream):
    """The body, chunk by chunk. An iterator object, not an async generator: httpx and the
    engine stop reading at the body cap, and an async generator left unfinished is closed by
    asyncio's finalizer hook, which costs a task and a wake-up of the loop per request."""

    CHUNK = 16 * 1024

    def __init__(self, response: aiohttp.ClientResponse, request: httpx.Request) -> None:
        self._response = response
        self._request = request
        self._chunks = response.content.iter_chunked(self.CHUNK)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            raise
        except Exception as exc:
            mapped = _mapped(exc, self._request)
            if mapped is exc:
                raise
            raise mapped from exc

    async def aclose(self) -> None:
        # Releasing an unfinished response closes its connection: the rest is never read.
        self._response.release()


class PinnedResolver(AbstractResolver):
    """Names resolve through the engine's own lookup, asked once per host and run.

    The engine refuses a link whose host resolves to a private address, judging the addresses
    its lookup returned. If aiohttp looked the name up again to connect, a DNS server could
    answer with a public address for the check and ``127.0.0.1`` for the connection
    (DNS rebinding). Connecting only to the judged addresses closes that gap.
    """

    def __init__(self, lookup: Lookup) -> None:
        self._lookup = lookup

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = await self._lookup(host)  # OSError when it fails, as aiohttp expects
        results: list[ResolveResult] = []
        for address in addresses:
            kind = socket.AF_INET6 if ":" in address else socket.AF_INET
            if family in (socket.AF_INET, socket.AF_INET6) and kind != family:
                continue
            results.append(
                ResolveResult(
                    hostname=host,
                    host=address,
                    port=port,
                    family=kind,
                    proto=0,
                    flags=socket.AI_NUMERICHOST,
                )
            )
        if not results:
            raise OSError(f"no usable address for {host}")
        return results

    async def close(self) -> None:
        return None


class ExactAiohttpTransport(httpx.AsyncBaseTransport):
    """Send httpx requests through one aiohttp session, URLs byte-exact.

    ``lookup``: resolve names with it (``PinnedResolver``); None: aiohttp's own resolver.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        limit: int = 100,
        lookup: Lookup | None = None,
    ) -> None:
        # SSL_CERT_FILE/SSL_CERT_DIR are honoured here, exactly as httpx itself reads them.
        self._ssl = ssl_context or httpx.create_ssl_context(trust_env=True)
        self._limit = limit
        self._lookup = lookup
        self._session: aiohttp.ClientSession | None = None
        # A run sends a handful of distinct header sets: each decoded for aiohttp once.
        self._header_lists: dict[tuple[tuple[bytes, bytes], ...], list[tuple[str, str]]] = {}

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None:
            if self._lookup is not None:
                # The lookup caches per run; aiohttp must not keep answers of its own.
                connector = aiohttp.TCPConnector(
                    ssl=self._ssl,
                    limit=self._limit,
                    resolver=PinnedResolver(self._lookup),
                    use_dns_cache=False,
                )
            else:
                connector = aiohttp.TCPConnector(
                    ssl=self._ssl, limit=self._limit, ttl_dns_cache=300
                )
            self._session = aiohttp.ClientSession(
                connector=connector,
                cookie_jar=aiohttp.DummyCookieJar(),  # httpx keeps the cookies
                auto_decompress=False,  # httpx decodes
                # Real sites send long headers (a 10 KB Content-Security-Policy); aiohttp's
                # 8 KiB default would turn them into protocol errors.
                max_line_size=64 * 1024,
                max_field_size=64 * 1024,
            )
        return self._session

    @staticmethod
    @functools.lru_cache(maxsize=16)
    def _timeout(connect: float | None, read: float | None) -> aiohttp.ClientTimeout:
        # One object per setting, not per request (a run has one or two settings).
        return aiohttp.ClientTimeout(total=None, sock_connect=connect, sock_read=read)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        session = self._get_session()
        timeout = request.extensions.get("timeout", {})
        data = request.content or None  # the engine sends no streamed uploads
        try:
            response = await session.request(
                request.method,
                yarl.URL(str(request.url), encoded=True),
                headers=self._headers(request.headers),
                data=data,
                allow_redirects=False,
                compress=False,
                timeout=self._timeout(timeout.get("connect"), timeout.get("read")),
                server_hostname=request.extensions.get("sni_hostname"),
            )
        except Exception as exc:
            mapped = _mapped(exc, request)
            if mapped is exc:
                raise
            raise mapped from exc
        extensions: dict[str, object] = {"http_version": b"HTTP/1.1"}
        if response.reason:
            extensions["reason_phrase"] = response.reason.encode()
        return httpx.Response(
            status_code=response.status,
            headers=list(response.raw_headers),
            stream=_Stream(response, request),
            request=request,
            extensions=extensions,
        )

    def _headers(self, headers: httpx.Headers) -> list[tuple[str, str]]:
        key = tuple(headers.raw)
        decoded = self._header_lists.get(key)
        if decoded is None:
            decoded = list(headers.multi_items())
            if len(self._header_lists) < 64:  # bounded, should headers vary per request
                self._header_lists[key] = decoded
        return decoded

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
