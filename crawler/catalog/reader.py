"""Reading a catalogue: the file within limits, its YAML parsed and validated.

A file or YAML the parser cannot read becomes one problem line naming the file, the line and
what to do.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.reader import ReaderError

from crawler.catalog.model import Catalog, CatalogError
from crawler.catalog.validate import Validator
from crawler.catalog.yaml import Refused, Tree
from crawler.infile import InputFileError, read_bounded

# The most a catalogue may weigh. A 100,000-link catalogue is 10.5 MB (benchmarks/
# gen_catalog.py; the study's own links take ~160 bytes each, 16 MB at 100,000), so this
# leaves room for several times that, yet refuses /dev/zero or a runaway file before it
# fills the memory.
MAX_CATALOG_BYTES = 64 * 1024 * 1024


def load(path: str | Path) -> Catalog:
    """Read and validate a catalogue file; raise ``CatalogError`` listing every problem."""
    return load_with_bytes(path)[0]


def load_with_bytes(path: str | Path) -> tuple[Catalog, bytes]:
    """``load``, and the very bytes it read (``crawler fix`` edits those, no later copy)."""
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
    catalog = parse(data, path=path, display_name=path.name)
    # Recorded in latest.json: `crawler fix` refuses to edit a catalogue changed since.
    return dataclasses.replace(catalog, sha256=hashlib.sha256(data).hexdigest()), data


def parse(
    text: str | bytes, *, path: Path | None = None, display_name: str = "catalog.yaml"
) -> Catalog:
    """Validate catalogue text (or its UTF-8 bytes); ``display_name`` prefixes every problem."""
    validator = Validator(display_name, path or Path(display_name))
    try:
        data = Tree(text, validator).build()
    except Refused:
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
        found = _first_unreadable(text)
        if found is None:
            raise CatalogError([f"{display_name}: YAML syntax: {exc.reason}"]) from None
        (line, column), char = found
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
