"""New URLs spliced into a catalogue's text, every other character kept as it was.

No YAML round trip (a dumper rewrites quoting, comments' spacing, key order or line width):
each URL scalar is found by the parser where the catalogue loader placed it (line and column),
and only the characters of that scalar are replaced, in the style it was written in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ruamel.yaml import YAML
from ruamel.yaml.events import ScalarEvent


@dataclass(frozen=True, slots=True)
class Edit:
    """Replace the URL ``old`` written at ``line``:``column`` (1-based) with ``new``."""

    line: int
    column: int
    old: str
    new: str


class RewriteError(Exception):
    """An edit cannot be made as asked (the text is not what the report says): nothing is."""


# What may stay a plain (unquoted) scalar anywhere a URL sits, flow lists included: a scheme,
# then no space, quote or flow indicator; and no ": " or trailing ":" (a mapping key).
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s'\"`,\[\]{}]*")


def written(url: str, style: str | None) -> str:
    """``url`` as a scalar of ``style`` (None plain, ``'`` or ``"``): plain only when safe."""
    if style is None and _PLAIN.fullmatch(url) and not url.endswith(":"):
        return url
    if style == '"':
        return '"' + url.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "'" + url.replace("'", "''") + "'"


def rewrite(text: str, edits: Sequence[Edit]) -> str:
    """``text`` with each edit's scalar replaced; ``RewriteError`` when one cannot be made."""
    wanted = {(e.line, e.column): e for e in edits}
    pieces: list[str] = []
    done = 0
    # The pure parser: its marks' indexes count characters of ``text``, as the splice does.
    for event in YAML(typ="safe", pure=True).parse(text):
        if not isinstance(event, ScalarEvent):
            continue
        at = (event.start_mark.line + 1, event.start_mark.column + 1)
        edit = wanted.pop(at, None)
        if edit is None:
            continue
        where = f"{at[0]}:{at[1]}"
        if event.value != edit.old:
            raise RewriteError(f"line {where} holds {event.value!r:.120}, not {edit.old!r:.120}")
        if event.style in ("|", ">") or event.anchor or event.tag:
            raise RewriteError(f"line {where}: a block scalar, anchor or tag: edit it by hand")
        start, end = event.start_mark.index, event.end_mark.index
        pieces += [text[done:start], written(edit.new, event.style)]
        done = end
    if wanted:
        (line, column), edit = next(iter(wanted.items()))
        raise RewriteError(f"line {line}:{column}: no URL {edit.old!r:.120} there")
    pieces.append(text[done:])
    return "".join(pieces)
