"""Make untrusted text (titles from the web, URLs, server details) safe to print.

Everything a report shows that did not come from the crawler itself goes through here:
``text`` for Markdown (tables and paragraphs), ``url`` for links, ``terminal_safe`` for the CLI,
``gh_data``/``gh_property`` for GitHub workflow commands. A hostile title cannot break a table
row, inject HTML, forge a link or start a heading.

What is *not* prevented: GitHub's own autolinking of a bare ``https://…`` or ``www.…`` written
in plain text. Such a link shows its real target, so it cannot be forged.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

# Backslash-escaped: every ASCII punctuation mark that can start Markdown syntax (emphasis,
# code, links, images, headings, tables, HTML-ish, footnotes, task lists).
_MD_SPECIAL = set("\\`*_~[]()#!|{}$")
_MD_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
# Block syntax that only matters at the start of a line: lists, quotes, setext underlines.
_LEADING_BLOCK = re.compile(r"^(\s*\d*)([-+=.)])")

# ANSI/VT escape sequences: CSI (ESC [ … final), OSC (ESC ] … BEL|ST), other two-byte ESC x.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, terminated by BEL or ST (or cut off)
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS/SOS/PM/APC strings
    r"|\x1b[@-Z\\-_]"  # two-byte sequences
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
# Bidirectional overrides and isolates: they make text display in another order than it reads
# ("Trojan Source"), so a title could visually impersonate another.
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")

# Characters allowed in a URL shown as a Markdown autolink: RFC 3986 unreserved, reserved and
# '%'. Anything else (spaces, quotes, '<', '>', '|', '\\', '`', non-ASCII, controls) makes the
# URL display as escaped text instead.
_URL_SAFE = re.compile(r"^[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+$")

# Fast paths (a report escapes a few strings per link, 300,000+ at 100,000 links). Text with
# none of the characters ``text`` changes or drops, and no space to fold or strip, is
# returned as it is; every other text takes the full path. The excluded set: Markdown
# specials, entities, C0/C1 controls (ANSI escapes start with one), line and paragraph
# separators, bidi controls.
_PLAIN_TEXT = re.compile(
    r"[^\\`*_~\[\]()#!|{}$&<>\x00-\x1f\x7f-\x9f\u2028\u2029"
    r"\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]*"
)
# An http(s) URL whose host is plain letters, digits, dots and dashes (and an optional port),
# and whose rest has only URL-safe characters: ``is_safe_url`` is true for it without parsing.
_PLAIN_URL = re.compile(
    r"https?://[A-Za-z0-9.-]+(?::[0-9]*)?(?:[/?#][A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*)?"
)


def _clean(value: str) -> str:
    """Drop ANSI sequences, control and bidi characters; newlines and tabs become spaces."""
    value = _ANSI.sub("", value)
    out = []
    for ch in value:
        if ch in "\r\n\t\v\f\u2028\u2029\x85":
            out.append(" ")
        elif ch in _BIDI or unicodedata.category(ch) == "Cc":
            continue
        else:
            out.append(ch)
    return "".join(out)


def text(value: object, *, line_start: bool = False) -> str:
    """Escape any text so it renders literally inside a Markdown paragraph or table cell.

    Pass ``line_start=True`` when the text begins a line, so that ``1.``, ``-``, ``+`` or ``=``
    cannot start a list or a heading (``#``, ``>`` and ``|`` are always escaped).
    """
    value = str(value)
    if (
        not line_start
        and _PLAIN_TEXT.fullmatch(value)
        and "  " not in value
        and not value[:1].isspace()
        and not value[-1:].isspace()
    ):
        return value
    cleaned = re.sub(r" {2,}", " ", _clean(value)).strip()
    out = []
    for ch in cleaned:
        if ch in _MD_SPECIAL:
            out.append("\\" + ch)
        elif ch in _MD_ENTITIES:
            out.append(_MD_ENTITIES[ch])
        else:
            out.append(ch)
    escaped = "".join(out)
    if line_start:
        # "1. foo", "- foo", "+ foo", "=" would start a list or setext heading.
        escaped = _LEADING_BLOCK.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped, count=1)
    return escaped


def is_safe_url(url: str | None) -> bool:
    """An http(s) URL with a host and only characters that cannot break out of Markdown."""
    if not url:
        return False
    if _PLAIN_URL.fullmatch(url):
        return True
    if not _URL_SAFE.match(url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


def url(value: str | None) -> str:
    """A URL as a Markdown autolink when safe, else as escaped (non-clickable) text."""
    if not value:
        return ""
    if is_safe_url(value):
        return f"<{value}>"
    return text(value)


def link(label: str, target: str | None) -> str:
    """``[label](target)`` with an escaped label when ``target`` is safe, else the label alone."""
    if target and is_safe_url(target):
        return f"[{text(label)}](<{target}>)"
    return text(label)


def terminal_safe(value: object, *, keep_newlines: bool = False) -> str:
    """Text safe to print on a terminal: no ANSI escapes, control or bidi characters.

    Newlines become spaces unless ``keep_newlines``; tabs become spaces.
    """
    raw = str(value)
    if not keep_newlines:
        return _clean(raw)
    return "\n".join(_clean(line) for line in re.split(r"\r\n|\r|\n", raw))


def gh_data(value: object) -> str:
    """Escape the message part of a GitHub workflow command (after ``::``)."""
    raw = _ANSI.sub("", str(value))
    return raw.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def gh_property(value: object) -> str:
    """Escape a property value of a GitHub workflow command (``title=…``, ``file=…``)."""
    return gh_data(value).replace(":", "%3A").replace(",", "%2C")
