"""YAML read as events into plain values with positions, within limits.

One document, nested at most ``MAX_NESTING`` levels, aliases repeating no more items than the
file writes: past a limit, reading stops at once with the problem and its place. The
``sessions`` list is handed to the validator item by item as it streams past.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from crawler.catalog.model import Position


def position(mark: Any) -> Position:
    return Position(mark.line + 1, mark.column + 1)


class YMap(dict[Any, Any]):
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
        return position(self.mark)


class YSeq(list[Any]):
    """A YAML sequence with where it starts and where each item starts (marks, as in YMap)."""

    def __init__(self, mark: Any):
        super().__init__()
        self.mark = mark
        self.item_marks: list[Any] = []

    @property
    def at(self) -> Position:
        return position(self.mark)


class Streamed:
    """Stands for the ``sessions`` list, whose items were validated one by one as they were read."""

    def __init__(self, at: Position):
        self.at = at


_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


def _at(event: Any) -> Position:
    return position(event.start_mark)


def _events(text: str | bytes) -> Generator[Any, None, None]:
    """The YAML events of ``text``, from ruamel's C parser when it is installed.

    The parser itself rather than ``YAML().parse``: that one builds a loader which refers to
    itself, so the text and the parser's copy of it (20 MB for a 100,000-link catalogue)
    stayed in memory until the garbage collector happened to run.
    """
    try:
        # ruamel imports CParser into cyaml (from its C extension) but leaves it out of __all__.
        from ruamel.yaml.cyaml import CParser  # type: ignore[attr-defined]
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


class Refused(Exception):
    """Reading stopped: nesting or aliases went past their limit (the problem is recorded)."""


class Receiver(Protocol):
    """What the tree tells as it reads (the validator): each problem, and each session."""

    def problem(self, pos: Position | None, who: str, what: str) -> None: ...

    def add_session(self, item: Any, at: Position, index: int) -> None: ...


class Tree:
    """Builds plain values with positions from the YAML *event* stream.

    Events, not a node tree or ruamel's round-trip objects: with the C parser
    (ruamel.yaml.clib) a 100,000-link catalogue loads in about a second and a few MB, since each
    session is validated and dropped as soon as its mapping ends. Scalars stay text (a date is
    validated as text, so an impossible one is reported with its line); only YAML's nulls
    become None.
    """

    def __init__(self, text: str | bytes, validator: Receiver):
        self.events = _events(text)
        self.validator = validator
        self.anchors: dict[str, Any] = {}
        self.depth = 0  # mappings and sequences open around the current event
        self.repeated = 0  # items that aliases repeated so far

    def build(self) -> Any:
        """The document's data; raises ``Refused`` (the parser already closed) past the limit."""
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
            raise Refused

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
                raise Refused
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
                self.validator.problem(position(key_mark), "", "a key must be plain text")
                # Not its repr: an alias-built key can expand to billions of items.
                key = f"<{shown(key)} on line {key_mark.line + 1}>"
            value_event = next(events)
            if type(value_event) is ScalarEvent and not value_event.anchor:
                value = _scalar(value_event)
            else:
                # The top-level sessions list is validated item by item as it streams past.
                value = self.value(value_event, stream_items=top and key == "sessions")
            if key in out.key_marks:
                first = out.key_marks[key].line + 1
                self.validator.problem(
                    position(key_mark), "", f"duplicate key {key!r} (first on line {first})"
                )
                continue
            out[key] = value
            out.key_marks[key] = key_mark
            out.value_marks[key] = value_event.start_mark
        raise YAMLError("unexpected end of the YAML stream")  # pragma: no cover

    def sequence(self, start: Any, *, stream_items: bool) -> YSeq | Streamed:
        self._enter(start)
        out = YSeq(start.start_mark)
        for index, event in enumerate(self.events):
            if type(event) is SequenceEndEvent:
                self.depth -= 1
                return Streamed(out.at) if stream_items else out
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


def shown(value: Any) -> str:
    """``value`` as a message quotes it: text cut short (a URL may be 100 KB long), and a
    mapping or list only named (through aliases, a 700-byte one can hold billions of items)."""
    if isinstance(value, YMap):
        return "a mapping"
    if isinstance(value, YSeq):
        return "a list"
    if isinstance(value, str) and len(value) > 100:
        value = f"{value[:80]}…{value[-10:]}"
    return repr(value)
