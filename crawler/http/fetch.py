"""One request and its redirects: ``Fetcher.fetch``, the path every request of a run takes.

Redirects are followed here, not by httpx: every hop is recorded and vetted (``resolve``),
a cookie a server sets on the way is sent back (consent walls), a chain that comes back to a
URL without a new cookie is a loop, and credentials stay with the host they were meant for.
Each request passes its host's gate and the run's global limit (``gates``) and is retried
when worth it (``retry``); at most the cap of its body is read, and never unpacked further.
Network failures come back as plain words (``errors``), never raised.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import zlib
from collections.abc import Mapping

import httpx

from crawler import safety
from crawler.config import Settings
from crawler.http.budget import LinkClock
from crawler.http.errors import describe_error
from crawler.http.gates import HOST_PAUSE_STATUSES, HostGates
from crawler.http.resolve import Names
from crawler.http.retry import Answer, Retries
from crawler.http.slots import Slots
from crawler.model import Hop
from crawler.services.base import FetchResult

log = logging.getLogger(__name__)

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def _origin(url: str) -> tuple[str, bytes, int | None]:
    parsed = httpx.URL(url)
    return parsed.scheme, parsed.raw_host, parsed.port  # raw: no IDNA decoding, which may fail


class _Inflater:
    """gzip or deflate decoding that never unpacks more than asked for. httpx decodes whole
    chunks: one 16 KiB chunk of a gzip bomb is 16 MiB in memory before the cap applies."""

    def __init__(self, encoding: str) -> None:
        self._deflate = encoding == "deflate"  # zlib-wrapped, or raw from some servers
        self._inflate = zlib.decompressobj(zlib.MAX_WBITS if self._deflate else 16 + zlib.MAX_WBITS)

    def feed(self, data: bytes, room: int) -> bytes:
        try:
            return self._inflate.decompress(data, room)
        except zlib.error:
            if not self._deflate:
                raise
            self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
            return self._inflate.decompress(data, room)
        finally:
            self._deflate = False  # the raw form is tried on the first chunk only


async def _read_capped(response: httpx.Response, limit: int) -> bytes:
    """At most ``limit`` bytes of the body, decoded; the rest is never read from the wire,
    and never unpacked either."""
    if limit <= 0:
        return b""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    inflater = None
    if encoding in ("gzip", "x-gzip", "deflate") and not response.is_stream_consumed:
        inflater = _Inflater(encoding)
    # httpx decodes the rest: no coding, several, br or zstd (when installed), or a body
    # already in memory (a mock transport's).
    # No coding at all: the raw stream, without httpx's decoder and re-chunking in between.
    plain = not encoding or encoding == "identity"
    raw = inflater is not None or (plain and not response.is_stream_consumed)
    stream = response.aiter_raw() if raw else response.aiter_bytes()
    chunks: list[bytes] = []
    size = 0
    # On damage, keep what decoded before it.
    with contextlib.suppress(httpx.DecodingError, zlib.error):
        # httpx types its streams as AsyncIterator; they are async generators, with aclose.
        async with contextlib.aclosing(stream) as pieces:  # type: ignore[type-var]
            async for piece in pieces:
                chunk = piece if inflater is None else inflater.feed(piece, limit - size)
                chunks.append(chunk[: limit - size])
                size += len(chunks[-1])
                if size >= limit:
                    break
    return b"".join(chunks)


def unusable(url: str) -> str | None:
    """Why ``url`` cannot be requested at all, or None. Asked before any service sees a link
    (behind validation, which refuses these too), so that no service meets a URL httpx
    cannot parse and reports an internal error instead of plain words."""
    refusal = safety.scheme_refusal(url)
    if refusal is None:
        # What scheme_refusal lets through and httpx refuses is in the host part (an IDNA
        # name, an IPv4 address out of range): asked once per origin.
        refusal = _unusable_origin(safety.origin_of(url))
    return refusal


@functools.lru_cache(maxsize=1024)
def _unusable_origin(origin: str) -> str | None:
    try:
        httpx.URL(origin).host  # noqa: B018 - decodes an IDNA name, which may fail
    except (httpx.InvalidURL, UnicodeError) as exc:  # idna's errors are UnicodeErrors
        return f"refused: not a valid URL ({exc})"
    return None


class Fetcher:
    """The run's HTTP client (connections reused) and the rules every request follows.

    ``proxied``: a proxy is in force, and requests go through the client, which picks the
    proxy's transport (``transport`` None: httpx's own, reading ``SSL_CERT_FILE``)."""

    def __init__(
        self,
        settings: Settings,
        transport: httpx.AsyncBaseTransport | None,
        *,
        proxied: bool,
        gates: HostGates,
        names: Names,
        clock: LinkClock,
    ) -> None:
        s = self.settings = settings
        self._gates = gates
        self._names = names
        self._clock = clock
        # Without a proxy, requests go straight to the transport (see ``_exchange``).
        self._direct = None if proxied else transport
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,  # the engine follows them, vetting every hop
            timeout=httpx.Timeout(
                connect=s.connect_timeout,
                read=s.read_timeout,
                write=s.read_timeout,
                pool=s.connect_timeout,
            ),
            limits=httpx.Limits(
                max_connections=max(1, s.concurrency) * 2,
                max_keepalive_connections=max(1, s.concurrency),
            ),
            headers={"User-Agent": s.user_agent},
            trust_env=True,
        )
        self._header_sets: dict[tuple[tuple[str, str], ...], httpx.Headers] = {}
        self._timeout_ext = self._client.timeout.as_dict()
        self._global = Slots(s.concurrency)
        self._retries = Retries(settings, clock, self._attempt)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        follow_redirects: bool = True,
    ) -> FetchResult:
        """``CheckContext.fetch``: the request, its redirects and retries, never raising."""
        method = method.upper()
        limit = self.settings.max_body_bytes if max_bytes is None else max_bytes
        if method == "HEAD":
            limit = 0
        sent_headers = dict(headers or {})
        hops: list[Hop] = []
        # URL → how many answers of this chain had set a cookie when we asked it. Coming back
        # to a URL is a loop only if no cookie was set since: "set a consent cookie and come
        # back" is how walls work.
        cookies_set = 0
        seen = {url: cookies_set}
        current = url
        while True:
            refusal = await self._names.guard(current)
            if refusal is None and hops and (why := unusable(current)) is not None:
                refusal = "refused", why  # a redirect to a URL no request can carry
            if refusal is not None:
                kind, text = refusal
                return FetchResult(url, current, hops=hops, error=text, error_kind=kind)
            answer, failure, attempts = await self._retries.send(
                method, current, sent_headers, limit
            )
            if method == "HEAD" and isinstance(failure, httpx.RemoteProtocolError):
                # A server that sends a body after its HEAD answer (or botches HEAD otherwise)
                # leaves an answer no client can read: a GET, its body left unread, confirms.
                answer, failure, more = await self._retries.send("GET", current, sent_headers, 0)
                attempts += more
            if failure is not None:
                kind, text = describe_error(failure, httpx.URL(current).host, self.settings)
                return FetchResult(
                    url, current, hops=hops, error=text, error_kind=kind, attempts=attempts
                )
            assert answer is not None
            location = answer.headers.get("location", "").strip()
            target = None
            if follow_redirects and answer.status in REDIRECT_STATUSES and location:
                with contextlib.suppress(httpx.InvalidURL):
                    target = str(httpx.URL(current).join(location))
            if target is None:
                return FetchResult(
                    url,
                    current,
                    status=answer.status,
                    headers=answer.headers,
                    body=answer.body,
                    hops=hops,
                    attempts=attempts,
                )
            hops.append(Hop(current, answer.status))
            cookies_set += "set-cookie" in answer.headers
            if seen.get(target) == cookies_set:
                return FetchResult(
                    url,
                    target,
                    hops=hops,
                    error=f"redirect loop: {current} sends back to {target}",
                    error_kind="redirect-loop",
                )
            if len(hops) > self.settings.max_redirects:
                return FetchResult(
                    url,
                    target,
                    hops=hops,
                    error=f"more than {self.settings.max_redirects} redirects",
                    error_kind="too-many-redirects",
                )
            if _origin(target) != _origin(current):
                # Credentials (a GitHub token) are for the host they were meant for.
                sent_headers = {
                    k: v for k, v in sent_headers.items() if k.lower() != "authorization"
                }
            seen[target] = cookies_set
            current = target

    async def _attempt(
        self, method: str, url: str, headers: Mapping[str, str], limit: int
    ) -> Answer:
        request = self._build_request(method, url, headers)
        gate = self._gates.gate(request.url)
        # Slots taken by hand, not with ``LinkClock.slot``: this runs for every request.
        await self._clock.acquire(gate.slots)
        try:
            await self._gates.wait_turn(gate)
            # The global slot is taken only now: a paused host must not hold up other hosts.
            await self._clock.acquire(self._global)
            try:
                response = await self._exchange(request)
                try:
                    body = await _read_capped(response, limit)
                finally:
                    await response.aclose()
            finally:
                self._global.release()
        finally:
            gate.slots.release()
        answer = Answer(response.status_code, response.headers, body)
        if response.status_code in HOST_PAUSE_STATUSES:
            wait = self._retries.retry_after(answer)
            if wait is not None:
                log.info(
                    "%s asks to wait %g s (HTTP %d)", request.url.host, wait, response.status_code
                )
                gate.pause(wait)
        return answer

    def _build_request(self, method: str, url: str, headers: Mapping[str, str]) -> httpx.Request:
        if self._direct is None:
            return self._client.build_request(method, url, headers=headers)
        # What ``AsyncClient.build_request`` does for us, minus the per-request merging that
        # costs more than the request itself at 10,000 links (base URL, params, cookie copies).
        # The services send a handful of distinct header sets: merge each with the client's
        # defaults once (httpx copies a Headers instance cheaply, a mapping it re-encodes).
        key = tuple(headers.items())
        merged = self._header_sets.get(key)
        if merged is None:
            merged = self._client.headers.copy()
            merged.update(headers)
            if len(self._header_sets) < 64:  # bounded, should a service vary them per link
                self._header_sets[key] = merged
        request = httpx.Request(
            method, url, headers=merged, extensions={"timeout": self._timeout_ext}
        )
        if self._client.cookies.jar:  # cookies a server set earlier in the run (consent walls)
            self._client.cookies.set_cookie_header(request)
        return request

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        """One request, one response (not followed, body unread)."""
        if self._direct is None:
            # A proxy is in force: the client picks the proxy transport for this URL (and
            # keeps the cookies itself).
            return await self._client.send(request, stream=True)
        # Straight to the transport: the client's auth, redirect and hook machinery would only
        # pass the request through (the engine follows redirects itself), and its cookie
        # bookkeeping parses every response's headers into an email.Message.
        response = await self._direct.handle_async_request(request)
        response.request = request
        if "set-cookie" in response.headers:
            self._client.cookies.extract_cookies(response)
        return response
