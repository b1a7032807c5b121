"""yt-dlp in a worker process: one metadata call (``extract_video``), bounded in what it reads
and where it may be led.

yt-dlp reads a page whole (``urlh.read()``) and inflates a gzip body whole before anything
looks at it: an endless page grew its process to 24 GB, a gzip bomb (1 MiB sent, 1 GiB
unpacked) to 2 GB. Within ``bounded``, every response yt-dlp's urllib handler receives, on
every redirect hop, is read to at most ``max_bytes`` on the wire and after decompression; past
that the call fails and ``Bounds.too_large`` says which page it was. Every hop's URL is also
shown to ``safety.vet_url`` first, which judges it while ``safety.refusing_private`` is in force
(behind a proxy, the only check yt-dlp's requests get). yt-dlp is told to prefer this handler
(``prefer-legacy-http-handler``): its ``requests`` and ``curl_cffi`` handlers, when installed,
would read past these hooks.

Time is bounded by the caller: the engine kills the worker process of a call it gave up on.
"""

from __future__ import annotations

import contextlib
import io
import threading
import urllib.request
import urllib.response
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
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
        wrapped = urllib.response.addinfourl(body, resp.headers, resp.url, resp.code)
        # urllib's handlers set ``msg`` on their responses; typeshed's addinfourl lacks it.
        wrapped.msg = resp.msg  # type: ignore[attr-defined]
        return wrapped

    return http_response


def _vetted_request(original: Callable[..., Any]) -> Callable[..., Any]:
    def http_request(handler: Any, req: Any) -> Any:
        safety.vet_url(req.full_url)  # raises on a refused hop, before any connection
        return original(handler, req)

    return http_request


def _install() -> None:
    """Wrap yt-dlp's urllib handler once per process (it is inert outside ``bounded``)."""
    from yt_dlp.networking import _urllib  # type: ignore[attr-defined]  # private: not in its stubs

    handler = _urllib.HTTPHandler
    if getattr(handler, "_crawler_bounds", False):
        return
    # Brotli cannot be inflated to a bound: never ask for it (and leave it undecoded if sent).
    if "br" in _urllib.SUPPORTED_ENCODINGS:
        _urllib.SUPPORTED_ENCODINGS.remove("br")
    handler.http_request = handler.https_request = _vetted_request(handler.http_request)
    handler.http_response = handler.https_response = _bounded_response(handler.http_response)
    handler._crawler_bounds = True


class _Capture:
    """A yt-dlp ``logger``: keeps warnings and errors instead of printing them."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def reset(self) -> None:
        self.warnings = []

    def debug(self, msg: str) -> None:
        pass

    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        self.warnings.append(msg)

    def error(self, msg: str) -> None:
        pass  # the same text comes back as the DownloadError we classify


@dataclass
class Extraction:
    """What one yt-dlp call gave: the info dict, or the error, plus the warnings on the way."""

    info: dict[str, Any] | None = None
    error: str | None = None
    network: bool = False  # the error's cause was a transport failure, not an answer
    http_status: int | None = None
    warnings: list[str] = field(default_factory=list)
    refused: bool = False  # yt-dlp was led to a non-public address, and not let in
    too_large: bool = False  # a response was longer than yt-dlp may read (``bounded``)
    content_type: str | None = None  # of the last response yt-dlp read


def _default_factory(params: dict[str, Any]) -> Any:
    # Imported on first use: yt-dlp costs ~0.3 s and ~15 MB to import, and most runs (and
    # every run of a catalogue without videos) never call it.
    import yt_dlp

    # types-yt-dlp's options are narrower than what yt-dlp reads: ``cachedir=False`` and
    # ``skip_download=True`` are bools, ``compat_opts`` a set, and the logger is only called as
    # ``debug(msg)``, ``warning(msg)`` and ``error(msg)``.
    return yt_dlp.YoutubeDL(params)  # type: ignore[arg-type]


def _strip_error_prefix(message: str) -> str:
    # YoutubeDL.report_error prefixes "ERROR: " (coloured on a tty, never here: no tty).
    return message.removeprefix("ERROR: ").strip()


# --- yt-dlp, in a worker process ------------------------------------------------------------

# The keys of yt-dlp's info dict that the verdict reads: only these cross the process boundary
# (the whole dict can hold functions, e.g. YouTube's ``__post_extractor``, and is large).
INFO_KEYS = (
    *("_type", "id", "title", "duration", "uploader", "channel", "upload_date", "timestamp"),
    "direct",  # yt-dlp's "direct link": the URL is a file, not a page about a video
)

# One YoutubeDL per thread of the process that runs ``extract_video`` (and per proxy/CA
# setting): instances are not thread-safe, and building one per video would redo the
# extractor set-up (about a second) every time. Per process, so never shared across runs'
# processes; in a worker process there is one thread.
_instances = threading.local()


def _ydl(proxy: str | None, ca_bundle: str | None, timeout: float) -> tuple[Any, _Capture]:
    cache: dict[tuple[Any, ...], tuple[Any, _Capture]] = _instances.__dict__.setdefault(
        "by_settings", {}
    )
    key = (proxy, ca_bundle, timeout)
    if key not in cache:
        capture = _Capture()
        params: dict[str, Any] = {
            "quiet": True,
            "no_warnings": True,
            "noprogress": True,
            "logger": capture,
            "skip_download": True,
            "noplaylist": True,
            "socket_timeout": timeout,
            "retries": 1,
            "extractor_retries": 1,
            "cachedir": False,
            # '' means "no proxy" to yt-dlp; None would let it read the environment again.
            "proxy": proxy or "",
            # yt-dlp trusts certifi's bundle by default; 'no-certifi' makes it load OpenSSL's
            # default paths, which honour SSL_CERT_FILE (the bundle ``ctx.ca_bundle`` names).
            # Its urllib handler is the one whose reads ``bounded`` limits.
            "compat_opts": {"prefer-legacy-http-handler", *(["no-certifi"] if ca_bundle else [])},
        }
        cache[key] = (_default_factory(params), capture)
    return cache[key]


# How many "see that URL" answers of yt-dlp to follow (a page that redirected, a page that
# embeds a video hosted elsewhere). ``process=False`` leaves them unresolved, without a title.
URL_RESULT_HOPS = 2


def _follow_url_results(ydl: Any, info: Any) -> Any:
    """``info``, or what the URL it points to gives, up to ``URL_RESULT_HOPS`` times, while
    it has no title.

    An answer with a title is kept as it is: a page whose JSON-LD describes its video points
    at the media file itself, which is not worth a request. A hop that fails keeps the answer
    before it: the page answered and names a video, which is what the check needed; its
    metadata is then unknown, as before following.
    """
    for _ in range(URL_RESULT_HOPS):
        if not isinstance(info, dict) or info.get("_type") not in ("url", "url_transparent"):
            break
        if info.get("title"):
            break
        target_url = info.get("url")
        if not isinstance(target_url, str) or not target_url:
            break
        try:
            target = ydl.extract_info(target_url, download=False, process=False)
        except Exception:
            break
        if not isinstance(target, dict):
            break
        if info["_type"] == "url_transparent":  # its own fields override the target's
            kept = {k: v for k, v in info.items() if v is not None and k not in ("_type", "url")}
            target = {**target, **kept}
        info = target
    return info


def extract_video(
    url: str,
    proxy: str | None,
    ca_bundle: str | None,
    timeout: float,
    allow_private: bool = False,
) -> Extraction:
    """One yt-dlp call for ``url``: its metadata, or its error in words (never raises).

    Without ``allow_private``, every connection yt-dlp opens must go to a public address
    (``safety.refusing_private``): a redirect, or a second DNS answer, to an internal address
    makes the call ``refused``. Behind a proxy the proxy connects, as for the engine.
    """
    from yt_dlp.networking.exceptions import HTTPError, TransportError
    from yt_dlp.utils import DownloadError

    ydl, capture = _ydl(proxy, ca_bundle, timeout)
    capture.reset()
    # Behind a proxy only the URLs of yt-dlp's requests can be judged, not the addresses.
    vetting = (
        contextlib.nullcontext([])
        if allow_private
        else safety.refusing_private(proxied=proxy is not None)
    )
    info: Any = None
    failed: Extraction | None = None
    with vetting as refusals, bounded() as bounds:
        try:
            # process=False: metadata only, no format selection (which would fail on videos
            # whose formats need a JS runtime or a PO token, although the video is fine).
            info = _follow_url_results(ydl, ydl.extract_info(url, download=False, process=False))
        except DownloadError as exc:
            cause = exc.exc_info[1] if exc.exc_info else None
            failed = Extraction(
                error=_strip_error_prefix(str(exc)),
                network=isinstance(cause, TransportError) and not isinstance(cause, HTTPError),
                http_status=cause.status if isinstance(cause, HTTPError) else None,
                warnings=list(capture.warnings),
            )
        except Exception as exc:  # a yt-dlp bug must not abort the whole run
            failed = Extraction(
                error=f"yt-dlp failed: {type(exc).__name__}: {exc}",
                warnings=list(capture.warnings),
            )
    if refusals:  # whatever yt-dlp made of it (it may even have found another page)
        where = refusals[0].removeprefix("refused: a connection to ")
        return Extraction(
            error=f"refused: yt-dlp was led to {where}",
            refused=True,
            warnings=list(capture.warnings),
        )
    if bounds.too_large:  # whatever yt-dlp made of the cut-off page
        return Extraction(error=f"{bounds.too_large} is too large", too_large=True)
    if failed is not None:
        return failed
    if not isinstance(info, dict):
        return Extraction(error="yt-dlp returned nothing", warnings=list(capture.warnings))
    kept = {k: info[k] for k in INFO_KEYS if k in info}
    return Extraction(info=kept, warnings=list(capture.warnings), content_type=bounds.content_type)
