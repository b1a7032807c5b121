"""Reading a named input file within limits: a regular file only, never blocking, never too much.

``--catalog /dev/zero`` read until the memory ran out and a FIFO hung the run. Here the path is
judged before it is opened (a device is never opened) and again on what was opened (O_NONBLOCK:
a FIFO swapped in meanwhile cannot block), and the read stops one byte past the limit whatever
size the file claims (a file still growing, a /proc file that says 0).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


class InputFileError(Exception):
    """The file cannot be used; the message is one line naming it and what to do."""


_NOT_A_FILE = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a device"),
    (stat.S_ISBLK, "a device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_bounded(path: Path, limit: int, *, what: str, instead: str) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    ``what`` names the file in messages ("a catalogue"); ``instead`` says what to give instead of
    a directory, a device or a pipe. A missing file raises ``FileNotFoundError`` (the caller
    knows how to make one); anything else ``InputFileError``.
    """
    mode = getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | os.O_RDONLY
    try:
        _judge(path, os.stat(path), limit, what, instead)
        fd = os.open(path, mode)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _unreadable(path, exc) from None
    try:
        _judge(path, os.fstat(fd), limit, what, instead)
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(limit + 1)
    except OSError as exc:
        raise _unreadable(path, exc) from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise _too_big(path, limit, what)
    return data


def _judge(path: Path, info: os.stat_result, limit: int, what: str, instead: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = next((name for test, name in _NOT_A_FILE if test(info.st_mode)), "not a file")
        raise InputFileError(f"{path}: is {kind}: {instead}")
    if info.st_size > limit:
        raise _too_big(path, limit, what)


def _unreadable(path: Path, exc: OSError) -> InputFileError:
    return InputFileError(f"{path}: cannot read: {exc.strerror or exc} (is it the right file?)")


def _too_big(path: Path, limit: int, what: str) -> InputFileError:
    return InputFileError(
        f"{path}: larger than {_size(limit)}, the most {what} may be: is it the right file?"
    )


def _size(limit: int) -> str:
    return f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit:,} bytes"
