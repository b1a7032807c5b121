"""Is this response really a PDF, and how big is the file? Shared by the generic and GitHub checks.

A ``.pdf`` link is probed with a small ranged GET (the first KiB is enough to see the signature),
so checking a 40 MB deck costs one kilobyte.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

PDF_SIGNATURE = b"%PDF-"
# PDF readers accept the signature anywhere in the first 1024 bytes (some files carry junk
# before it), so that is both how much we ask for and where we look.
PROBE_BYTES = 1024
PROBE_HEADERS: Mapping[str, str] = {"Range": f"bytes=0-{PROBE_BYTES - 1}"}

_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(?:\d+-\d+|\*)/(\d+)\s*$", re.IGNORECASE)


def is_pdf_url(url: str) -> bool:
    """True when the URL's path (not its query) ends in ``.pdf``, in any letter case."""
    return urlsplit(url).path.lower().endswith(".pdf")


def file_name(url_or_path: str) -> str | None:
    """The decoded last path segment: "…/Intro%20to%20MLIR.pdf" → "Intro to MLIR.pdf"."""
    path = urlsplit(url_or_path).path if "://" in url_or_path else url_or_path
    name = unquote(path.rstrip("/").rsplit("/", 1)[-1])
    return name or None


def total_size(status: int | None, headers: Mapping[str, str]) -> int | None:
    """The whole file's size: Content-Range's total for a 206, Content-Length for a full answer."""
    match = _CONTENT_RANGE.match(headers.get("content-range", ""))
    if match:
        return int(match.group(1))
    if status == 206:
        return None  # Content-Length of a partial answer is the part's length, not the file's
    length = headers.get("content-length", "").strip()
    return int(length) if length.isdigit() else None


def looks_like_pdf(body: bytes) -> bool:
    return PDF_SIGNATURE in body[:PROBE_BYTES]


def not_pdf_reason(body: bytes, headers: Mapping[str, str]) -> str | None:
    """None when ``body`` starts a PDF; otherwise plain words on what came instead.

    "not a PDF: the server sent text/html" — the media type says most; for a vague one
    (text/plain, octet-stream: what raw.githubusercontent.com sends) the first bytes are shown.
    """
    if looks_like_pdf(body):
        return None
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if not body:
        return "not a PDF: the file is empty"
    sent = media_type or "a file without a content type"
    if "html" in media_type:
        return f"not a PDF: the server sent {sent}"
    start = body[:24].decode("utf-8", errors="replace").strip()
    start = " ".join(start.split())  # newlines would break one-line reports
    return f"not a PDF: the server sent {sent} starting with {start!r}"
