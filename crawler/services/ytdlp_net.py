"""Bounds on yt-dlp's own requests: how much it may read, and where it may be led.

yt-dlp reads a page whole (``urlh.read()``) and inflates a gzip body whole before anything
looks at it: an endless page grew its process to 24 GB, a gzip bomb (1 MiB sent, 1 GiB
unpacked) to 2 GB. Within ``bounded``, every response yt-dlp's urllib handler receives, on
every redirect hop, is read to at most ``max_bytes`` on the wire and after decompression; past
that the call fails and ``Bounds.too_large`` says which page it was. Every hop's URL is also
shown to ``safety.vet_url`` first, which judges it while ``safety.refusing_private`` is in force
(behind a proxy, the only check yt-dlp's requests get).

yt-dlp is told to prefer this handler (``prefer-legacy-http-handler``): its ``requests`` and
``curl_cffi`` handlers, when installed, would read past these hooks.
"""

from __future__ import annotations

import contextlib
import io
import threading
import urllib.request
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from crawler import safety

MAX_BYTES = 16 * 1024 * 1024  # YouTube's player script, the largest page it needs, is ≈ 3 MB

# Per thread, the bounds of the yt-dlp call the thread is making (None outside ``bounded``).
_local = threading.local()


class PageTooLarge(Exception):
    """A response longer than the bound (raised inside yt-dlp, which may wrap it)."""


@dataclass
class Bounds:
    max_bytes: int
    too_large: str | None = None  # the URL of the first response that was cut off
    content_type: str | None = None  # of the last response (what a "direct link" serves)

    def exceeded(self, url: str) -> PageTooLarge:
        self.too_large = self.too_large or url
        return PageTooLarge(f"{url} is larger than {self.max_bytes} bytes")


@contextlib.contextmanager
def bounded(max_bytes: int = MAX_BYTES) -> Iterator[Bounds]:
    """Within the block, this thread's yt-dlp responses are cut off after ``max_bytes``."""
    _install()
    outer = getattr(_local, "bounds", None)
    _local.bounds = Bounds(max_bytes)
    try:
        yield _local.bounds
    finally:
        _local.bounds = outer


class _Capped:
    """A response body that fails once more than ``bounds.max_bytes`` were read from it."""

    def __init__(self, fp: Any, bounds: Bounds, url: str) -> None:
        self.fp, self.bounds, self.url = fp, bounds, url
        self.left = bounds.max_bytes

    @property
    def closed(self) -> bool:
        return bool(self.fp.closed)

    def close(self) -> None:
        self.fp.close()

    def _take(self, data: bytes) -> bytes:
        self.left -= len(data)
        if self.left < 0:
            self.fp.close()
            raise self.bounds.exceeded(self.url)
        return data

    def read(self, amt: int | None = None) -> bytes:
        want = self.left + 1 if amt is None or amt < 0 else min(amt, self.left + 1)
        return self._take(self.fp.read(want))

    def readline(self, limit: int = -1) -> bytes:
        want = self.left + 1 if limit is None or limit < 0 else min(limit, self.left + 1)
        return self._take(self.fp.readline(want))


def _inflate(encoding: str, data: bytes, bounds: Bounds, url: str) -> bytes:
    """``data`` decoded as yt-dlp would (gzip, raw or zlib deflate), to at most the bound."""
    options = (zlib.MAX_WBITS | 16,) if encoding == "gzip" else (-zlib.MAX_WBITS, zlib.MAX_WBITS)
    for wbits in options:
        try:
            # Like yt-dlp, one gzip member only: junk after it is ignored.
            out = zlib.decompressobj(wbits).decompress(data, bounds.max_bytes + 1)
        except zlib.error:
            continue
        if len(out) > bounds.max_bytes:
            raise bounds.exceeded(url)
        return out
    return data  # not what it claims: left for yt-dlp to fail on, as it would have


def _bounded_response(original: Callable[..., Any]) -> Callable[..., Any]:
    def http_response(handler: Any, req: Any, resp: Any) -> Any:
        bounds: Bounds | None = getattr(_local, "bounds", None)
        if bounds is None:
            return original(handler, req, resp)
        url = req.full_url
        bounds.content_type = resp.headers.get("Content-Type")
        header = resp.headers.get("Content-encoding", "")
        encodings = [e.strip().lower() for e in reversed(header.split(",")) if e.strip()]
        body: Any = _Capped(resp, bounds, url)
        if any(e in ("gzip", "deflate") for e in encodings):
            data = body.read()
            for encoding in encodings:
                if encoding in ("gzip", "deflate"):
                    data = _inflate(encoding, data, bounds, url)
            body = io.BytesIO(data)
        wrapped = urllib.request.addinfourl(body, resp.headers, resp.url, resp.code)
        wrapped.msg = resp.msg
        return wrapped

    return http_response


def _vetted_request(original: Callable[..., Any]) -> Callable[..., Any]:
    def http_request(handler: Any, req: Any) -> Any:
        safety.vet_url(req.full_url)  # raises on a refused hop, before any connection
        return original(handler, req)

    return http_request


def _install() -> None:
    """Wrap yt-dlp's urllib handler once per process (it is inert outside ``bounded``)."""
    from yt_dlp.networking import _urllib

    handler = _urllib.HTTPHandler
    if getattr(handler, "_crawler_bounds", False):
        return
    # Brotli cannot be inflated to a bound: never ask for it (and leave it undecoded if sent).
    if "br" in _urllib.SUPPORTED_ENCODINGS:
        _urllib.SUPPORTED_ENCODINGS.remove("br")
    handler.http_request = handler.https_request = _vetted_request(handler.http_request)
    handler.http_response = handler.https_response = _bounded_response(handler.http_response)
    handler._crawler_bounds = True
