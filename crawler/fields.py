"""What a catalogue's values may be: a URL the checks can fetch, an e-mail address, a date.

One definition of each, for the validator (``catalog/``) and the importer alike: what the
importer writes, the validator accepts; what the validator accepts, the HTTP engine can parse
and resolve (it parses with httpx and resolves with the system's resolver, which refuse what is
refused here: control characters, over-long names, host names IDNA does not allow).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from urllib.parse import urlsplit

# RFC 9110 §4.1 recommends that every sender and recipient support URIs of at least 8,000
# octets: a longer one may be refused by a conforming server, so its check would prove nothing.
# (A talk's link is a few hundred characters at most; the study's longest is 170.)
MAX_URL_LENGTH = 8_000
# DNS (RFC 1035): 63 octets a label, 255 a name on the wire, so 253 characters written out.
MAX_HOST_LENGTH = 253
MAX_LABEL_LENGTH = 63

NOT_A_URL = "is not an absolute http(s) URL"

# The usual shape, judged without parsing (httpx costs 20 µs a URL, the validation of a
# 100,000-link catalogue 2 s more): a lower-case http(s) scheme, a host of ASCII letters,
# digits, dots and dashes, a port, and no white space or control character after it.
_PLAIN_HTTP_URL = re.compile(
    r"https?://([A-Za-z0-9][A-Za-z0-9.-]*)(?::([0-9]{1,5}))?"
    r"(?:[/?#][^\s\x00-\x1f\x7f-\x9f\ud800-\udfff]*)?"
)
# What httpx takes for an IPv4 address, and then refuses unless it is one (its own pattern,
# dots unescaped: "1a2b3c4" is one too).
_IPV4_STYLE = re.compile(r"[0-9]+.[0-9]+.[0-9]+.[0-9]+")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")  # (and lone surrogates: not text)
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?")
_SHORT_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOST_NAME = re.compile(rf"{_SHORT_LABEL}(?:\.{_SHORT_LABEL})*\.?")


def url_problem(value: object) -> str | None:
    """Why ``value`` is not an http(s) URL the crawler can check (what to do included), or None."""
    if not isinstance(value, str) or not value:
        return NOT_A_URL
    if len(value) > MAX_URL_LENGTH:
        return (
            f"is {len(value):,} characters long; at most {MAX_URL_LENGTH:,} are accepted "
            "(servers may refuse longer ones, RFC 9110): link a shorter address of the page"
        )
    plain = _PLAIN_HTTP_URL.fullmatch(value)
    if plain and (plain[2] is None or int(plain[2]) <= 65535):
        host = plain[1]
        if _IPV4_STYLE.fullmatch(host):
            return None if _IPV4.fullmatch(host) else f"{NOT_A_URL} (bad IPv4 address {host!r})"
        return _host_problem(host)
    control = _CONTROL.search(value)
    if control:
        kind = "control character" if control[0] < "\ud800" else "lone surrogate"
        return (
            f"{NOT_A_URL}: it contains the {kind} U+{ord(control[0]):04X} "
            f"(character {control.start() + 1}): remove it"
        )
    if any(c.isspace() for c in value):
        return NOT_A_URL
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return NOT_A_URL
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return NOT_A_URL
    if "\\" in parts.netloc:
        # Browsers (WHATWG) read a backslash as '/', Python and httpx as part of the user name: the
        # two disagree on the host ("https://example.org\@10.0.0.5/"), so neither is taken.
        return f"{NOT_A_URL}: a backslash before the path makes its host ambiguous (write '/')"
    import httpx  # (here: the usual URL above needs neither httpx nor its memory)

    try:
        host = httpx.URL(value).raw_host.decode("ascii")  # as the engine will send it
    except httpx.InvalidURL as exc:
        if not parts.hostname.isascii():
            return _idn_problem(parts.hostname)
        return f"{NOT_A_URL} ({exc})"
    return _host_problem(host)


def _host_problem(host: str) -> str | None:
    """Why ``host`` (ASCII: letters or punycode, or an IP literal) cannot be resolved, or None."""
    if _HOST_NAME.fullmatch(host) and len(host.removesuffix(".")) <= MAX_HOST_LENGTH:
        return None  # (the usual: one match)
    if ":" in host or host[-1:].isdigit():
        try:
            ipaddress.ip_address(host)
            return None
        except ValueError:
            pass  # a name ending in a digit, or no address at all: judged as a name
    name = host[:-1] if host.endswith(".") else host  # a fully qualified name's final dot
    if len(name) > MAX_HOST_LENGTH:
        return (
            f"{NOT_A_URL}: its host name is {len(name):,} characters long; "
            f"a domain name has at most {MAX_HOST_LENGTH}"
        )
    for label in name.split("."):
        if len(label) > MAX_LABEL_LENGTH:
            return (
                f"{NOT_A_URL}: its host name has a part of {len(label):,} characters "
                f"({label[:20]}…); a domain name's parts have at most {MAX_LABEL_LENGTH}"
            )
        if not _LABEL.fullmatch(label):
            return (
                f"{NOT_A_URL}: {host[:80]!r} is not a host name "
                "(letters, digits and '-' between dots)"
            )
    return None


def _idn_problem(host: str) -> str:
    """A non-ASCII host IDNA refuses (full-width letters, symbols…): say what it would be."""
    import idna  # (installed with httpx)

    try:
        ascii_form = idna.encode(host, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return f"{NOT_A_URL}: {host[:80]!r} is not a valid international domain name"
    return (
        f"{NOT_A_URL}: its host {host[:80]!r} is not a valid international domain name "
        f"(full-width or look-alike letters?): write it as {ascii_form}"
    )


def is_http_url(value: object) -> bool:
    """An absolute http(s) URL the crawler can check (see ``url_problem``)."""
    return url_problem(value) is None


# An e-mail address as people write them: a local part without spaces, control characters or
# '@', a domain of dot-separated parts ending in a top-level domain of two or more letters
# (or its punycode form). RFC 5321's lengths: 64 for the local part, 254 in all.
_EMAIL = re.compile(
    r"[^@\s\x00-\x1f\x7f-\x9f]{1,64}@(?:[^@\s\x00-\x1f\x7f-\x9f.]{1,63}\.)+"
    r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"
)
MAX_EMAIL_LENGTH = 254


def is_email(value: object) -> bool:
    """An e-mail address (one definition for the importer and the validator)."""
    return (
        isinstance(value, str) and len(value) <= MAX_EMAIL_LENGTH and bool(_EMAIL.fullmatch(value))
    )


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_date(text: str) -> dt.date | None:
    """A real calendar date written YYYY-MM-DD, or None (``fromisoformat`` alone would also
    take ``20210101`` and the week date ``2021-W01-1``)."""
    if not _DATE.fullmatch(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None
