"""The catalogue: load ``catalog.yaml``, validate it in one pass, and turn it into records.

Every problem is reported at once, as ``catalog.yaml:LINE:COL: session "TITLE": FIELD: what``,
so a contributor fixes them all in one go. Nothing here touches the network.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.reader import ReaderError

from crawler.fields import NOT_A_URL, is_email, parse_date, url_problem
from crawler.infile import InputFileError, read_bounded
from crawler.model import SessionInfo

TOP_KEYS = {"study", "sessions"}
STUDY_KEYS = {"title", "repository"}
SESSION_KEYS = {"title", "date", "presenters", "slides", "video"}
PRESENTER_KEYS = {"name", "email", "url"}


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


# The most a catalogue may weigh. A 100,000-link catalogue is 10.5 MB (benchmarks/
# gen_catalog.py; the study's own links take ~160 bytes each, 16 MB at 100,000), so this
# leaves room for several times that, yet refuses /dev/zero or a runaway file before it
# fills the memory.
MAX_CATALOG_BYTES = 64 * 1024 * 1024


def load(path: str | Path) -> Catalog:
    """Read and validate a catalogue file; raise ``CatalogError`` listing every problem."""
    path = Path(path)
    try:
        data = read_bounded(
            path,
            MAX_CATALOG_BYTES,
            what="a catalogue",
            instead="point --catalog at the catalogue's YAML file",
        )
    except FileNotFoundError:
        raise CatalogError(
            [f"{path}: no such file (create it with `python -m crawler import README.md`)"]
        ) from None
    except InputFileError as exc:
        raise CatalogError([str(exc)]) from None
    try:
        # Checked here, but not kept: the parser reads the bytes themselves (as text it would
        # hold the text and its own UTF-8 copy, 20 MB at 100,000 links, while it parses).
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogError(
            [f"{path}: not UTF-8 text (byte {exc.start}): save the catalogue as UTF-8"]
        ) from None
    return parse(data, path=path, display_name=path.name)


def parse(
    text: str | bytes, *, path: Path | None = None, display_name: str = "catalog.yaml"
) -> Catalog:
    """Validate catalogue text (or its UTF-8 bytes); ``display_name`` prefixes every problem."""
    validator = _Validator(display_name, path or Path(display_name))
    try:
        data = _Tree(text, validator).build()
    except _Refused:
        raise validator.fail() from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{display_name}:{mark.line + 1}:{mark.column + 1}" if mark else display_name
        what = exc.problem or exc.context or "invalid YAML"
        hint = ""
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        if mark and "\t" in _line(text, mark.line)[: mark.column + 1]:
            hint = " (YAML does not allow tabs for indentation: indent with spaces)"
        raise CatalogError([f"{where}: YAML syntax: {what}{hint}"]) from None
    except ReaderError as exc:  # a character YAML does not allow: it has no mark, find it
        where = _first_unreadable(text)
        if where is None:
            raise CatalogError([f"{display_name}: YAML syntax: {exc.reason}"]) from None
        (line, column), char = where
        raise CatalogError(
            [
                f"{display_name}:{line}:{column}: YAML syntax: the character U+{ord(char):04X} "
                "is not allowed in YAML (control characters are not): remove it"
            ]
        ) from None
    except YAMLError as exc:
        raise CatalogError([f"{display_name}: YAML syntax: {exc}"]) from None
    return validator.run(data)


# What YAML calls printable (YAML 1.2, 5.1); anything else is refused by the parser's reader.
_UNPRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_YAML_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _first_unreadable(text: str | bytes) -> tuple[tuple[int, int], str] | None:
    """Line and column (1-based) of the first character YAML refuses, and the character."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    found = _UNPRINTABLE.search(text)
    if found is None:
        return None
    before = text[: found.start()]
    breaks = list(_YAML_BREAK.finditer(before))
    column = found.start() - (breaks[-1].end() if breaks else 0)
    return (len(breaks) + 1, column + 1), found[0]


def _line(text: str, index: int) -> str:
    lines = text.splitlines()
    return lines[index] if 0 <= index < len(lines) else ""


def _position(mark: Any) -> Position:
    return Position(mark.line + 1, mark.column + 1)


class YMap(dict):
    """A YAML mapping with where it starts, and where each of its keys and values starts.

    Where is kept as the parser's own marks (0-based): a ``Position`` is made only for the few
    that end up in a message or a ``Session``, not for each of the 850,000 events of a
    100,000-link catalogue.
    """

    def __init__(self, mark: Any):
        super().__init__()
        self.mark = mark
        self.key_marks: dict[Any, Any] = {}
        self.value_marks: dict[Any, Any] = {}

    @property
    def at(self) -> Position:
        return _position(self.mark)


class YSeq(list):
    """A YAML sequence with where it starts and where each item starts (marks, as in YMap)."""

    def __init__(self, mark: Any):
        super().__init__()
        self.mark = mark
        self.item_marks: list[Any] = []

    @property
    def at(self) -> Position:
        return _position(self.mark)


class _Streamed:
    """Stands for the ``sessions`` list, whose items were validated one by one as they were read."""

    def __init__(self, at: Position):
        self.at = at


_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


def _at(event: Any) -> Position:
    return _position(event.start_mark)


def _events(text: str | bytes) -> Iterator[Any]:
    """The YAML events of ``text``, from ruamel's C parser when it is installed.

    The parser itself rather than ``YAML().parse``: that one builds a loader which refers to
    itself, so the text and the parser's copy of it (20 MB for a 100,000-link catalogue)
    stayed in memory until the garbage collector happened to run.
    """
    try:
        from ruamel.yaml.cyaml import CParser
    except ImportError:  # no C extension (PyPy, an exotic platform): the pure-Python parser
        yield from YAML(typ="safe", pure=True).parse(text)
        return
    parser = CParser(text)
    try:
        while parser.check_event():
            yield parser.get_event()
    finally:
        parser.dispose()


# How deeply mappings and sequences may nest. The schema needs 5 (the catalogue, sessions, a
# session, presenters, a presenter); deeper is a mistake, or an attempt on the parser's
# recursion (3,000 levels hit Python's limit without a position).
MAX_NESTING = 32


# Aliases may repeat at most as many items as characters were written before them, plus this:
# a presenter written once and named in every session is fine; a 3,000-presenter list named by
# 3,000 sessions (280 KB) made 9 million presenters, and as many links to check.
ALIAS_ALLOWANCE = 10_000


class _Refused(Exception):
    """Reading stopped: nesting or aliases went past their limit (the problem is recorded)."""


class _Tree:
    """Builds plain values with positions from the YAML *event* stream.

    Events, not a node tree or ruamel's round-trip objects: with the C parser
    (ruamel.yaml.clib) a 100,000-link catalogue loads in about a second and a few MB, since each
    session is validated and dropped as soon as its mapping ends. Scalars stay text (a date is
    validated as text, so an impossible one is reported with its line); only YAML's nulls
    become None.
    """

    def __init__(self, text: str | bytes, validator: _Validator):
        self.events = _events(text)
        self.validator = validator
        self.anchors: dict[str, Any] = {}
        self.depth = 0  # mappings and sequences open around the current event
        self.repeated = 0  # items that aliases repeated so far

    def build(self) -> Any:
        """The document's data; raises ``_Refused`` (the parser already closed) past the limit."""
        data: Any = None
        documents = 0
        try:
            for event in self.events:
                if isinstance(event, DocumentStartEvent):
                    documents += 1
                    if documents > 1:  # even when the first one was empty
                        self.validator.problem(
                            _at(event),
                            "",
                            "only one YAML document is allowed (remove this '---' and what "
                            "follows, or merge it into the first)",
                        )
                        break
                elif isinstance(event, MappingStartEvent | SequenceStartEvent | ScalarEvent):
                    data = self.value(event, top=True)
        finally:
            self.events.close()  # stop the parser where the reading stopped
        return data

    def _enter(self, start: Any) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            # Checked as the events stream past, before Python's recursion limit is near and
            # before the parser reads further (it is never asked for the rest).
            self.validator.problem(
                _at(start),
                "",
                f"nested more than {MAX_NESTING} levels deep; a catalogue needs 5 (check the "
                "indentation and brackets here)",
            )
            raise _Refused

    def value(self, event: Any, *, top: bool = False, stream_items: bool = False) -> Any:
        if isinstance(event, ScalarEvent):
            out: Any = _scalar(event)
        elif isinstance(event, AliasEvent):
            if event.anchor not in self.anchors:
                self.validator.problem(_at(event), "", f"unknown alias *{event.anchor}")
            target = self.anchors.get(event.anchor)
            self.repeated += len(target) if isinstance(target, YMap | YSeq) else 1
            if self.repeated > event.start_mark.index + ALIAS_ALLOWANCE:
                self.validator.problem(
                    _at(event),
                    "",
                    f"aliases repeat {self.repeated:,} items, more than the file writes: "
                    "write the entries out instead of repeating long lists",
                )
                raise _Refused
            return target
        elif isinstance(event, MappingStartEvent):
            out = self.mapping(event, top=top)
        elif isinstance(event, SequenceStartEvent):
            out = self.sequence(event, stream_items=stream_items)
        else:  # pragma: no cover - the parser yields nothing else inside a document
            raise YAMLError(f"unexpected {type(event).__name__}")
        if getattr(event, "anchor", None):
            self.anchors[event.anchor] = out
        return out

    # In ``mapping`` and ``sequence``, a plain scalar without an anchor (nearly every event) is
    # read in place rather than through ``value``: the same result, a third less CPU.

    def mapping(self, start: Any, *, top: bool) -> YMap:
        self._enter(start)
        out = YMap(start.start_mark)
        events = self.events
        for event in events:
            if type(event) is MappingEndEvent:
                self.depth -= 1
                return out
            key_mark = event.start_mark
            if type(event) is ScalarEvent and not event.anchor:
                key = _scalar(event)
            else:
                key = self.value(event)
            if not isinstance(key, str):
                self.validator.problem(_position(key_mark), "", "a key must be plain text")
                # Not its repr: an alias-built key can expand to billions of items.
                key = f"<{_shown(key)} on line {key_mark.line + 1}>"
            value_event = next(events)
            if type(value_event) is ScalarEvent and not value_event.anchor:
                value = _scalar(value_event)
            else:
                # The top-level sessions list is validated item by item as it streams past.
                value = self.value(value_event, stream_items=top and key == "sessions")
            if key in out.key_marks:
                first = out.key_marks[key].line + 1
                self.validator.problem(
                    _position(key_mark), "", f"duplicate key {key!r} (first on line {first})"
                )
                continue
            out[key] = value
            out.key_marks[key] = key_mark
            out.value_marks[key] = value_event.start_mark
        raise YAMLError("unexpected end of the YAML stream")  # pragma: no cover

    def sequence(self, start: Any, *, stream_items: bool) -> YSeq | _Streamed:
        self._enter(start)
        out = YSeq(start.start_mark)
        for index, event in enumerate(self.events):
            if type(event) is SequenceEndEvent:
                self.depth -= 1
                return _Streamed(out.at) if stream_items else out
            if type(event) is ScalarEvent and not event.anchor:
                item = _scalar(event)
            else:
                item = self.value(event)
            if stream_items:
                self.validator.add_session(item, _at(event), index)
            else:
                out.append(item)
                out.item_marks.append(event.start_mark)
        raise YAMLError("unexpected end of the YAML stream")  # pragma: no cover


def _scalar(event: Any) -> str | None:
    # Scalars stay text; only YAML's plain nulls become None.
    return None if not event.style and event.value in _NULLS else event.value


class _Validator:
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
        elif not isinstance(raw, _Streamed):  # a list was validated while it was read
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
                f"date: {_shown(text)} is not a date (write YYYY-MM-DD)",
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
            return value
        if problem == NOT_A_URL:
            problem += (
                " (write the full https://… address, or leave it empty)"
                if empty_ok
                else " (write the full https://… address)"
            )
        self.problem(_value_pos(mapping, key), label, f"{what}: {_shown(value)} {problem}")
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
                    f"presenters[{i}]: email: {_shown(email)} is not an e-mail address",
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


def _shown(value: Any) -> str:
    """``value`` as a message quotes it: text cut short (a URL may be 100 KB long), and a
    mapping or list only named (through aliases, a 700-byte one can hold billions of items)."""
    if isinstance(value, YMap):
        return "a mapping"
    if isinstance(value, YSeq):
        return "a list"
    if isinstance(value, str) and len(value) > 100:
        value = f"{value[:80]}…{value[-10:]}"
    return repr(value)


def _key_pos(mapping: YMap, key: Any) -> Position:
    return _position(mapping.key_marks.get(key, mapping.mark))


def _value_pos(mapping: YMap, key: Any) -> Position:
    mark = mapping.value_marks.get(key)
    return _position(mark) if mark is not None else _key_pos(mapping, key)


def _item_pos(seq: YSeq, index: int) -> Position:
    return _position(seq.item_marks[index]) if index < len(seq.item_marks) else seq.at


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
