"""Reading a named input file within limits: a regular file only, never blocking, never too much.

``--catalog /dev/zero`` read until the memory ran out and a FIFO hung the run. Here the path is
judged before it is opened (a device is never opened) and again on what was opened (O_NONBLOCK:
a FIFO swapped in meanwhile cannot block), and the read stops one byte past the limit whatever
size the file claims (a file still growing, a /proc file that says 0). The catalogue is read
with ``read_bounded``; the reports read back (``crawler/store/``) with ``open_bounded``.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any


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

    def not_a_file(mode: int) -> InputFileError:
        kind = next((name for test, name in _NOT_A_FILE if test(mode)), "not a file")
        return InputFileError(f"{path}: is {kind}: {instead}")

    try:
        with open_bounded(
            path, limit, not_a_file=not_a_file, too_large=lambda: _too_big(path, limit, what)
        ) as file:
            return file.read()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise _unreadable(path, exc) from None


def open_bounded(
    path: Path,
    limit: int,
    *,
    not_a_file: Callable[[int], Exception],
    too_large: Callable[[], Exception],
) -> io.BufferedReader:
    """``path`` opened for reading: a regular file, and never more than ``limit`` bytes of it.

    Each caller words its refusals: ``not_a_file(st_mode)`` is raised for a directory, a device,
    a pipe or a socket, before anything is read; ``too_large()`` for a file that says it is
    larger than ``limit`` or turns out to be when read. ``OSError`` as it comes.
    """
    _judge(os.stat(path), limit, not_a_file, too_large)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags | getattr(os, "O_CLOEXEC", 0))
    try:
        _judge(os.fstat(fd), limit, not_a_file, too_large)
        raw = io.FileIO(fd, "r", closefd=True)
    except BaseException:
        os.close(fd)
        raise
    return io.BufferedReader(Capped(raw, limit, too_large))


def _judge(
    info: os.stat_result,
    limit: int,
    not_a_file: Callable[[int], Exception],
    too_large: Callable[[], Exception],
) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise not_a_file(info.st_mode)
    if info.st_size > limit:
        raise too_large()


class Capped(io.RawIOBase):
    """A file that refuses to give more than ``limit`` bytes, with ``too_large()`` (a size on
    disk can lie: files in /proc say 0)."""

    def __init__(self, raw: io.FileIO, limit: int, too_large: Callable[[], Exception]) -> None:
        self._raw, self._left, self._too_large = raw, limit, too_large

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with memoryview(buffer) as view:
            n = self._raw.readinto(view[: self._left + 1]) or 0
        if n > self._left:
            raise self._too_large()
        self._left -= n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def _unreadable(path: Path, exc: OSError) -> InputFileError:
    return InputFileError(f"{path}: cannot read: {exc.strerror or exc} (is it the right file?)")


def _too_big(path: Path, limit: int, what: str) -> InputFileError:
    return InputFileError(
        f"{path}: larger than {_size(limit)}, the most {what} may be: is it the right file?"
    )


def _size(limit: int) -> str:
    return f"{limit // 2**20} MiB" if limit >= 2**20 else f"{limit:,} bytes"
