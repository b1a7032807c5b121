"""Problems about the catalogue as a whole: duplicates, wrong videos, gaps and ordering.

Everything here is a pure function of the catalogue's links (and, for wrong videos, of the
titles the online check fetched), so it runs the same online, offline and at a shard merge.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import pairwise

from crawler.model import (
    Duplicate,
    Field,
    Finding,
    FindingKind,
    Link,
    LinkResult,
    SessionInfo,
    Severity,
)

# Only slides and videos must be unique: a presenter's homepage rightly repeats across talks.
UNIQUE_FIELDS = (Field.SLIDES, Field.VIDEO)


def find_duplicates(links: Iterable[Link]) -> list[Duplicate]:
    """Canonical keys used by more than one slides/video link, in catalogue order."""
    # The first link of each key, and a list only for the keys seen again: a catalogue has
    # 50,000 unique slides and videos for a handful of duplicates.
    first: dict[str, Link] = {}
    again: dict[str, list[Link]] = defaultdict(list)
    for link in links:
        if link.field not in UNIQUE_FIELDS:
            continue
        if link.key in first:
            again[link.key].append(link)
        else:
            first[link.key] = link
    out = []
    for key, link in first.items():  # in the order each key was first used
        if key in again:
            group = (link, *again[key])
            out.append(
                Duplicate(
                    key=key,
                    urls=tuple(dict.fromkeys(lk.url for lk in group)),
                    sessions=tuple(dict.fromkeys(lk.session_id for lk in group)),
                    links=group,
                )
            )
    return out


def duplicate_findings(duplicates: Iterable[Duplicate]) -> list[Finding]:
    """One finding per later use of a duplicated link, pointing at its first use."""
    out = []
    for dup in duplicates:
        first, *others = dup.links
        for link in others:
            fix = f"replace with this session's own {link.field} link, or remove it"
            if link.session_id == first.session_id:
                # One session has one slides and one video link: here they are one link.
                message = f"the {first.field} and the {link.field} are the same link"
                fix = f"give the session its own {first.field} and {link.field} links"
            elif link.field == first.field:
                message = f"same {link.field} as {_session_name(first)}"
            else:
                message = f"same link as the {first.field} of {_session_name(first)}"
            out.append(
                Finding.on_link(link, FindingKind.DUPLICATE, Severity.ERROR, message, fix=fix)
            )
    return out


def _session_name(link: Link) -> str:
    return f"'{link.session_title}' ({link.session_date})"


# One copy of each kind and message: a large catalogue has tens of thousands of these findings.
_MISSING = {
    Field.SLIDES: (FindingKind.MISSING_SLIDES, "no slides link"),
    Field.VIDEO: (FindingKind.MISSING_VIDEO, "no video link"),
}


def missing_links(sessions: Sequence[SessionInfo], links: Iterable[Link]) -> list[Finding]:
    """Sessions without slides or without a video (the README writes '-')."""
    have: dict[Field, set[str]] = {fld: set() for fld in UNIQUE_FIELDS}  # session ids, by field
    for link in links:
        if link.field in have:
            have[link.field].add(link.session_id)
    out = []
    for s in sessions:
        for fld in UNIQUE_FIELDS:
            if s.id not in have[fld]:
                kind, message = _MISSING[fld]
                out.append(Finding.on_session(s, kind, Severity.WARNING, message, field=fld))
    return out


def date_order(sessions: Sequence[SessionInfo]) -> list[Finding]:
    """Sessions dated earlier than the one listed before them (the catalogue is chronological)."""
    out = []
    for before, s in pairwise(sessions):
        if s.date < before.date:
            out.append(
                Finding.on_session(
                    s,
                    FindingKind.DATE_ORDER,
                    Severity.WARNING,
                    f"dated {s.date} but listed after '{before.title}' ({before.date})",
                    fix="move it to its place in date order, or check the date",
                )
            )
    return out


def duplicate_titles(sessions: Sequence[SessionInfo]) -> list[Finding]:
    """Two sessions with the same title (on different dates: same date is a catalogue error)."""
    first: dict[str, SessionInfo] = {}
    out = []
    for s in sessions:
        key = " ".join(s.title.casefold().split())
        if key in first:
            other = first[key]
            out.append(
                Finding.on_session(
                    s,
                    FindingKind.DUPLICATE_TITLE,
                    Severity.WARNING,
                    f"same title as the session of {other.date}",
                    fix="tell the sessions apart in their titles (e.g. 'Part 2')",
                )
            )
        else:
            first[key] = s
    return out


# Words too common in talk and video titles to tell two talks apart.
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "by",
        "for",
        "from",
        "in",
        "into",
        "is",
        "of",
        "on",
        "or",
        "the",
        "to",
        "with",
        "via",
        "using",
        "toward",
        "towards",
        "deep",
        "learning",
        "neural",
        "network",
        "networks",
        "dnn",
        "dl",
        "ml",
        "ai",
        "model",
        "models",
        "efficient",
        "efficiency",
        "paper",
        "review",
        "study",
        "seminar",
        "talk",
        "presentation",
        "session",
        "part",
        "lecture",
        "video",
    ]
)


def title_words(text: str) -> set[str]:
    """Significant lower-case words (≥3 letters, or with a digit), accents folded."""
    text = unicodedata.normalize("NFKD", text.casefold())
    words = re.findall(r"\w+", text)
    out = set()
    for w in words:
        w = "".join(c for c in w if not unicodedata.combining(c))
        if w in _STOPWORDS or (len(w) < 3 and not any(c.isdigit() for c in w)):
            continue
        out.add(w.rstrip("s") if len(w) > 4 else w)  # crude plural folding
    return out


def _squash(text: str) -> str:
    return re.sub(r"\W+", "", unicodedata.normalize("NFKC", text).casefold())


def titles_match(session_title: str, video_title: str) -> bool:
    """Whether a video plausibly records this talk.

    Deliberately lenient — a false 'wrong video?' teaches people to ignore the report. A video
    matches when it names the talk's short name (the part before ':', e.g. "AsyMo") or shares at
    least a third of the significant words of the shorter title. Titles in another script than
    the talk's (a Korean video title for an English talk) are not judged.
    """
    a, b = title_words(session_title), title_words(video_title)
    if not a or sum(1 for w in b if w.isascii()) < 2:
        return True  # nothing comparable
    head = session_title.split(":", 1)[0] if ":" in session_title else ""
    if head and len(head) <= 40 and _squash(head) and _squash(head) in _squash(video_title):
        return True
    overlap = len(a & b) / min(len(a), len(b))
    return overlap >= 1 / 3


def wrong_videos(results: Iterable[LinkResult]) -> list[Finding]:
    """Videos whose title shares nothing with the session's title: a likely copy-paste mistake."""
    out = []
    for r in results:
        link = r.link
        if link.field != Field.VIDEO or not r.title or titles_match(link.session_title, r.title):
            continue
        out.append(
            Finding.on_link(
                link,
                FindingKind.WRONG_VIDEO,
                Severity.WARNING,
                f"wrong video? its title is '{r.title}'",
                fix="check that the link is this talk's recording",
            )
        )
    return out


def catalog_findings(
    sessions: Sequence[SessionInfo],
    links: Sequence[Link],
    duplicates: Sequence[Duplicate] | None = None,
) -> list[Finding]:
    """Every finding that needs no network (``duplicates``: already found, if the caller has)."""
    return [
        *duplicate_findings(find_duplicates(links) if duplicates is None else duplicates),
        *missing_links(sessions, links),
        *date_order(sessions),
        *duplicate_titles(sessions),
    ]
