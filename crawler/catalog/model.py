"""The catalogue as records: the study, its sessions and presenters, with where each was written.

A session's id is its date and a slug of its title, so it stays put when sessions are
reordered or their URLs edited.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from crawler.model import SessionInfo


@dataclass(frozen=True, slots=True)
class Position:
    line: int  # 1-based
    column: int  # 1-based


@dataclass(frozen=True, slots=True)
class Presenter:
    name: str
    email: str | None = None
    url: str | None = None
    url_at: Position | None = None


@dataclass(frozen=True, slots=True)
class Session:
    id: str  # date + slug of the title: stable across reorderings and URL edits
    title: str
    date: dt.date
    presenters: tuple[Presenter, ...]
    slides: str | None
    video: str | None
    at: Position  # where the session starts
    slides_at: Position | None = None
    video_at: Position | None = None


@dataclass(frozen=True, slots=True)
class Catalog:
    path: Path
    title: str
    repository: str | None
    sessions: tuple[Session, ...]
    sha256: str | None = None  # of the file's bytes, when read from a file


class CatalogError(Exception):
    """The catalogue cannot be used; ``problems`` holds one ready-to-print line each."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


_NON_WORD = re.compile(r"[^\w]+")


def slugify(text: str, max_len: int = 60) -> str:
    """Lower-case words joined by '-', letters of any script kept (Hangul titles stay readable)."""
    text = unicodedata.normalize("NFKC", text).lower()
    slug = _NON_WORD.sub("-", text).strip("-_")
    if len(slug) > max_len:
        slug = slug[:max_len].rsplit("-", 1)[0] or slug[:max_len]
    return slug or "untitled"


def session_id(date: dt.date | None, title: str) -> str:
    return f"{date.isoformat() if date else 'undated'}-{slugify(title)}"


def session_infos(catalog: Catalog) -> list[SessionInfo]:
    """The sessions as reports see them."""
    return [
        SessionInfo(
            id=s.id,
            title=s.title,
            date=sys.intern(s.date.isoformat()),  # one copy per day (and shared with the links)
            presenters=tuple(p.name for p in s.presenters),
            line=s.at.line,
        )
        for s in catalog.sessions
    ]
