"""The catalogue's rules, checked in one pass: every problem recorded with its file:line:col.

Problems are listed in file order, as ``catalog.yaml:LINE:COL: session "TITLE": FIELD: what``,
so a contributor fixes them all in one go.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, cast

from crawler.catalog.model import Catalog, CatalogError, Position, Presenter, Session, session_id
from crawler.catalog.yaml import Streamed, YMap, YSeq, position, shown
from crawler.fields import NOT_A_URL, is_email, parse_date, url_problem

TOP_KEYS = {"study", "sessions"}
STUDY_KEYS = {"title", "repository"}
SESSION_KEYS = {"title", "date", "presenters", "slides", "video"}
PRESENTER_KEYS = {"name", "email", "url"}


class Validator:
    """Checks the values ``Tree`` reads, recording every problem; ``run`` gives the catalogue."""

    def __init__(self, name: str, path: Path):
        self.name = name
        self.path = path
        self.problems: list[tuple[int, int, str]] = []
        self.sessions: list[Session] = []
        self.seen: dict[tuple[str, Any], int] = {}
        self.dates: dict[str, dt.date] = {}  # one date object per day written (sessions share)

    def problem(self, pos: Position | None, who: str, what: str) -> None:
        where = f"{self.name}:{pos.line}:{pos.column}" if pos else self.name
        line, col = (pos.line, pos.column) if pos else (0, 0)
        self.problems.append((line, col, f"{where}: {who}{what}"))

    def fail(self) -> CatalogError:
        # In file order, so a contributor can fix them top to bottom.
        return CatalogError([text for _, _, text in sorted(self.problems)])

    def run(self, data: Any) -> Catalog:
        if not isinstance(data, YMap):
            self.problem(
                Position(1, 1), "", "the catalogue must be a mapping with `study` and `sessions`"
            )
            raise self.fail()
        for key in data:
            if key not in TOP_KEYS:
                self.problem(
                    _key_pos(data, key), "", f"unknown key {key!r} (allowed: study, sessions)"
                )

        title, repository = self.study(data)
        self.check_sessions(data)
        if self.problems:
            raise self.fail()
        return Catalog(
            path=self.path, title=title, repository=repository, sessions=tuple(self.sessions)
        )

    def study(self, data: YMap) -> tuple[str, str | None]:
        study = data.get("study")
        if study is None:
            self.problem(Position(1, 1), "", "study: missing (needs at least a title)")
            return "", None
        if not isinstance(study, YMap):
            self.problem(_value_pos(data, "study"), "", "study: must be a mapping with a title")
            return "", None
        for key in study:
            if key not in STUDY_KEYS:
                self.problem(
                    _key_pos(study, key),
                    "study: ",
                    f"unknown key {key!r} (allowed: title, repository)",
                )
        title = study.get("title")
        if not isinstance(title, str) or not title.strip():
            self.problem(_key_pos(data, "study"), "study: ", "title: missing")
            title = ""
        repository = self.url(study, "repository", "study: ", "repository")
        return title, repository

    def check_sessions(self, data: YMap) -> None:
        raw = data.get("sessions")
        if raw is None:
            self.problem(Position(1, 1), "", "sessions: missing (a list of talks)")
        elif not isinstance(raw, Streamed):  # a list was validated while it was read
            self.problem(_value_pos(data, "sessions"), "", "sessions: must be a list")

    def add_session(self, item: Any, at: Position, index: int) -> None:
        session = self.session(item, at, index)
        if session is None:
            return
        dup_key = (session.title.casefold(), session.date)
        if dup_key in self.seen:
            self.problem(
                at,
                f'session "{session.title}": ',
                f"duplicate session: same title and date as the one on line {self.seen[dup_key]}"
                " (remove one)",
            )
        else:
            self.seen[dup_key] = at.line
            self.sessions.append(session)

    def session(self, item: Any, at: Position, index: int) -> Session | None:
        if not isinstance(item, YMap):
            self.problem(at, f"session #{index + 1}: ", "must be a mapping (title, date, …)")
            return None
        title = item.get("title")
        label = (
            f'session "{title}": '
            if isinstance(title, str) and title.strip()
            else (f"session #{index + 1}: ")
        )
        before = len(self.problems)
        for key in item if not item.keys() <= SESSION_KEYS else ():  # (the usual: all known)
            if key not in SESSION_KEYS:
                self.problem(
                    _key_pos(item, key),
                    label,
                    f"unknown key {key!r} (allowed: {', '.join(sorted(SESSION_KEYS))})",
                )
        if not isinstance(title, str) or not title.strip():
            self.problem(at, label, "title: missing")
            title = ""
        date = self.date(item, label, at)
        presenters = self.presenters(item, label)
        urls = {
            fld: None if item.get(fld) == "-" else self.url(item, fld, label, fld, empty_ok=True)
            for fld in ("slides", "video")
        }
        if len(self.problems) != before or date is None:
            return None
        return Session(
            id=session_id(date, title),
            title=title.strip(),
            date=date,
            presenters=presenters,
            slides=urls["slides"],
            video=urls["video"],
            at=at,
            slides_at=_value_pos(item, "slides") if urls["slides"] else None,
            video_at=_value_pos(item, "video") if urls["video"] else None,
        )

    def date(self, item: YMap, label: str, at: Position) -> dt.date | None:
        if "date" not in item or item["date"] is None:
            self.problem(at, label, "date: missing (write it as YYYY-MM-DD)")
            return None
        text = item["date"]
        known = self.dates.get(text) if isinstance(text, str) else None
        if known is not None:
            return known
        date = parse_date(text) if isinstance(text, str) else None
        if date is None:
            self.problem(
                _value_pos(item, "date"),
                label,
                f"date: {shown(text)} is not a date (write YYYY-MM-DD)",
            )
            return None
        self.dates[text] = date
        return date

    def url(
        self, mapping: YMap, key: str, label: str, what: str, *, empty_ok: bool = False
    ) -> str | None:
        """The URL under ``key``, or None (absent, or a problem recorded)."""
        value = mapping.get(key)
        if value is None:
            return None
        problem = url_problem(value)
        if problem is None:
            return cast(str, value)  # url_problem passes only a non-empty str
        if problem == NOT_A_URL:
            problem += (
                " (write the full https://… address, or leave it empty)"
                if empty_ok
                else " (write the full https://… address)"
            )
        self.problem(_value_pos(mapping, key), label, f"{what}: {shown(value)} {problem}")
        return None

    def presenters(self, item: YMap, label: str) -> tuple[Presenter, ...]:
        raw = item.get("presenters")
        if raw is None:
            return ()
        if not isinstance(raw, YSeq):
            self.problem(_value_pos(item, "presenters"), label, "presenters: must be a list")
            return ()
        out = []
        for i, person in enumerate(raw):
            pos = _item_pos(raw, i)
            if not isinstance(person, YMap):
                self.problem(pos, label, f"presenters[{i}]: must be a mapping with a name")
                continue
            for key in person if not person.keys() <= PRESENTER_KEYS else ():
                if key not in PRESENTER_KEYS:
                    self.problem(
                        _key_pos(person, key),
                        label,
                        f"presenters[{i}]: unknown key {key!r} (allowed: email, name, url)",
                    )
            name = person.get("name")
            if not isinstance(name, str) or not name.strip():
                self.problem(pos, label, f"presenters[{i}]: name: missing")
                name = ""
            email = person.get("email")
            if email is not None and not is_email(email):
                self.problem(
                    _value_pos(person, "email"),
                    label,
                    f"presenters[{i}]: email: {shown(email)} is not an e-mail address",
                )
                email = None
            url = self.url(person, "url", label, f"presenters[{i}]: url")
            out.append(
                Presenter(
                    name=name.strip(),
                    email=email,
                    url=url,
                    url_at=_value_pos(person, "url") if url else None,
                )
            )
        return tuple(out)


def _key_pos(mapping: YMap, key: Any) -> Position:
    return position(mapping.key_marks.get(key, mapping.mark))


def _value_pos(mapping: YMap, key: Any) -> Position:
    mark = mapping.value_marks.get(key)
    return position(mark) if mark is not None else _key_pos(mapping, key)


def _item_pos(seq: YSeq, index: int) -> Position:
    return position(seq.item_marks[index]) if index < len(seq.item_marks) else seq.at
