"""Reading a ``latest.json`` file: bounded, and line by line.

A report read back (the previous run's, the parts of a shard merge) is only ever a regular file
of a sane size (``open_report``), and its long lists are walked one record per line
(``read_by_line``) so that 100,000 links never sit in memory as one tree of dicts. What the
records mean is ``decode.py``'s business.
"""

from __future__ import annotations

import io
import json
import stat
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from crawler.infile import open_bounded

# The most a report file may be. A 100,000-link latest.json is about 85 MB (measured: a
# benchmarks/gen_catalog.py catalogue, ≈ 620 bytes a link line, plus sessions and findings);
# this is room for six times that and long titles, and keeps a file that is not a report (a
# symlink to /dev/zero, a huge file) from being read without end. It holds for every read:
# the line walk keeps one line at a time, and the whole-file read that names a damaged line's
# error is the largest it allows.
MAX_REPORT_BYTES = 512 * 1024 * 1024
_NOT_REGULAR = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a named pipe",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


def _not_regular(mode: int) -> ValueError:
    kind = _NOT_REGULAR.get(stat.S_IFMT(mode), "a special file")
    return ValueError(f"not a regular file but {kind}")


def _too_large() -> ValueError:
    return ValueError(
        f"larger than {MAX_REPORT_BYTES // 2**20} MiB, more than any report (not a report?)"
    )


def open_report(path: Path) -> IO[str]:
    """``path`` opened for reading as UTF-8 text, at most ``MAX_REPORT_BYTES`` of it.

    Only a regular file: a named pipe, a device (a symlink to /dev/zero) or a directory is
    refused with a ``ValueError`` saying what it is, unread (``open_bounded``, which never waits
    for a pipe's writer either).
    """
    binary = open_bounded(path, MAX_REPORT_BYTES, not_a_file=_not_regular, too_large=_too_large)
    return io.TextIOWrapper(binary, encoding="utf-8")


def parse(text: str) -> Any:
    """``json.loads``; nesting deeper than Python's recursion limit is a ``ValueError`` too."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(_TOO_DEEP) from None


_TOO_DEEP = "JSON nested too deeply to be a report"

_LIST_CLOSE = ("  ]\n", "  ],\n")

_decode = json.JSONDecoder().raw_decode
_RECORD_ENDS = (",\n", "\n", ",", "")  # what may follow a record on its line

# What to do with each record of a long list read line by line: a function of the record (a
# parsed JSON value) and its index, or None to skip the record's line without parsing it.
RecordHandler = Callable[[Any, int], None] | None


def read_by_line(path: Path, handlers: Mapping[str, RecordHandler]) -> Any | None:
    """Walk a report written by ``chunks``, one record of each long list per line.

    Each record of a list named in ``handlers`` goes to its handler, in order, instead of into
    the result; the result is the rest of the report, parsed, with those lists empty. Reading
    a 100,000-link report this way never builds it as one big tree of dicts (that tree was the
    peak of a second run's memory). A list laid out otherwise (a file re-indented by another
    tool) reaches the handler all the same, after the whole file was parsed. None when a
    record line is not JSON: the caller then reads the file whole, to name the error.
    """
    opening = {f"  {json.dumps(key)}: [\n": key for key in handlers}  # as written
    skeleton: list[str] = []
    with open_report(path) as fh:
        for line in fh:
            key = opening.get(line)
            if key is None:
                skeleton.append(line)
                continue
            skeleton.append(f"  {json.dumps(key)}: []")
            handler = handlers[key]
            for index, record in enumerate(fh):
                if record in _LIST_CLOSE:
                    skeleton.append(record[3:])  # the "," or nothing, and the newline
                    break
                if handler is None:
                    continue
                # Decoded where it stands (after the 4-space indent), without copying the line.
                try:
                    item, end = _decode(record, 4)
                except json.JSONDecodeError:
                    return None
                except RecursionError:
                    raise ValueError(_TOO_DEEP) from None
                if record[end:] not in _RECORD_ENDS:
                    return None
                handler(item, index)
            else:
                return None
    data = parse("".join(skeleton))
    if isinstance(data, dict):
        for key, handler in handlers.items():
            records = data.get(key)
            if isinstance(records, list) and records:  # not one per line: parsed whole
                data[key] = []
                if handler is not None:
                    for index, item in enumerate(records):
                        handler(item, index)
    return data
