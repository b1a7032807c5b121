"""What a URL is (YouTube video, SlideShare deck, GitHub file, anything else) and its identity.

The canonical key makes different spellings of one resource compare equal, so duplicates are
found whatever form a contributor pasted: ``youtu.be/ID`` and ``watch?v=ID&list=…`` are one video,
``blob/main/x.pdf`` and ``raw/master/x.pdf`` are one file. URLs themselves are never rewritten:
the catalogue's bytes go on the wire as written.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from urllib.parse import SplitResult, urlsplit, urlunsplit

from crawler.catalog import Catalog, Position
from crawler.hosts import LinkKind, registered
from crawler.model import Field, Link

DEFAULT_PORTS = {"http": 80, "https": 443}


def classify(url: str) -> LinkKind:
    return identify(url)[0]


def normalize_url(url: str) -> str:
    """Scheme and host lower-cased, default port and fragment dropped, empty path made '/'."""
    return _normalize(urlsplit(url.strip()))


def _normalize(parts: SplitResult) -> str:
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host
    if parts.username or parts.password:
        creds = parts.username or ""
        if parts.password:
            creds += f":{parts.password}"
        netloc = f"{creds}@{netloc}"
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        netloc = f"{netloc}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def canonical_key(url: str) -> str:
    """Identity of the resource behind ``url``: equal keys mean the same video, file or page."""
    return identify(url)[1]


# A plain http(s) URL: lower-case scheme, a host of letters, digits, dots and dashes, a port,
# a path, a query and a fragment, without white space or control characters. ``identify``
# reads such a URL with this one match instead of ``urlsplit`` (a third of a 100,000-link
# run's CPU went to parsing URLs); anything else takes the full path.
_PLAIN_URL = re.compile(
    r"(https?)://([A-Za-z0-9.-]+)(?::([0-9]{1,5}))?"
    r"(/[^?#\x00-\x20\x7f]*)?(?:\?([^#\x00-\x20\x7f]*))?(?:#[^\x00-\x20\x7f]*)?"
)


def identify(url: str) -> tuple[LinkKind, str]:
    """``classify(url)`` and ``canonical_key(url)`` from one parse of the URL.

    The host alone says whose rules apply (``hosts.registered``); any URL no rule claims is
    keyed by its normalised form.
    """
    plain = _PLAIN_URL.fullmatch(url)
    if plain and not url[-1].isspace():  # (normalize_url strips trailing Unicode spaces)
        scheme, host, port, path, query = plain.groups()
        host = host.lower()
        if registered(host) is None:
            # What ``_normalize`` makes of it, without the parse.
            if port is not None:
                number = int(port)
                if number > 65535:  # urlsplit's port is then invalid: take the full path
                    return _identify_parsed(url)
                if number != DEFAULT_PORTS[scheme]:
                    host = f"{host}:{number}"
            key = f"{scheme}://{host}{path or '/'}{'?' + query if query else ''}"
            return LinkKind.GENERIC, url if key == url else key
    return _identify_parsed(url)


def _identify_parsed(url: str) -> tuple[LinkKind, str]:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    kind = registered(host)
    if kind is not None:
        key = kind.host.key(parts, host)
        if key is not None:
            return kind, key
        if kind.host.keyless_too:
            return kind, _normalized_key(url, parts)
    return LinkKind.GENERIC, _normalized_key(url, parts)


def _normalized_key(url: str, parts: SplitResult) -> str:
    if url[:1].isspace() or url[-1:].isspace():
        return normalize_url(url)  # parsed again without the surrounding white space
    key = _normalize(parts)
    # Most URLs are already in normal form: keep one string for both (100,000 links, 9 MB).
    return url if key == url else key


def requested_host(link: Link) -> str:
    """The host ``link``'s checks ask (lower case, no port): ``youtu.be/ID`` and
    ``m.youtube.com/watch?v=ID`` are asked at www.youtube.com, a ``github.com/O/R/blob/…`` file
    at raw.githubusercontent.com (``Host.asks``), any other link at its own host."""
    return link.kind.host.asks or (urlsplit(link.url).hostname or "").rstrip(".")


# Looked up in a dict: calling Field(value) added 7% to every make_link (measured).
_FIELDS: dict[str, Field] = {field: field for field in Field}


def make_link(
    session_id: str,
    session_title: str,
    session_date: str,
    field: Field | str,
    url: str,
    at: Position | None = None,
) -> Link:
    kind, key = identify(url)
    return Link(
        session_id=session_id,
        session_title=session_title,
        session_date=session_date,
        field=_FIELDS[field],  # the member, given it or its value
        url=url,
        kind=kind,
        key=key,
        line=at.line if at else 0,
        column=at.column if at else 0,
    )


def iter_links(catalog: Catalog) -> Iterator[Link]:
    """Every link of the catalogue, in catalogue order: slides, video, then presenter homepages."""
    for s in catalog.sessions:
        date = sys.intern(s.date.isoformat())  # one copy per day, shared by all its links
        if s.slides:
            yield make_link(s.id, s.title, date, Field.SLIDES, s.slides, s.slides_at)
        if s.video:
            yield make_link(s.id, s.title, date, Field.VIDEO, s.video, s.video_at)
        for p in s.presenters:
            if p.url:
                yield make_link(s.id, s.title, date, Field.PRESENTER, p.url, p.url_at)
