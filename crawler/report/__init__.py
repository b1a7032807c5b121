"""The report layer: every format rendered from one ``RunReport``, written atomically.

Guarantee of ``write_reports``: each file is replaced atomically (a reader sees the old file or
the new one, never half of one), and the set is written render-first: every format is rendered
and every temporary file written and fsynced before the first old file is replaced. So a
rendering error, a full disk or a crash while writing leaves all old files untouched. Only a
failure *between* the three final ``os.replace`` calls (three renames in one directory) can
leave a mix of new and old files; ``latest.json`` is replaced last so that history never reads
a JSON report newer than the Markdown a person saw. A Ctrl-C during those renames waits for
them (``WrittenThenInterrupted``).

A kill while a temporary file is written leaves it behind (``.latest.json.*.tmp``, 39 MB at
100,000 links): every write removes its own kind left by earlier runs, once they are
``STALE_TEMP_S`` old (a concurrent run's temporary files are younger: removing them would fail
that run).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import stat
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from crawler.model import RunReport
from crawler.report import badge, markdown
from crawler.report import json as json_report

FILES = ("latest.md", "badge.json", "latest.json")  # replacement order: latest.json last
# A temporary file untouched this long is an earlier run's leftover: a live run writes its
# temporary files in seconds (100 MB at 100,000 links) and renames them at once.
STALE_TEMP_S = 3600.0


class WrittenThenInterrupted(KeyboardInterrupt):
    """Ctrl-C came while the reports were being renamed into place: it waited for the last
    rename, so the reports are this run's (all of them)."""

    def __init__(self, written: list[Path]):
        super().__init__()
        self.written = written


def render_all(report: RunReport) -> dict[str, Iterable[str]]:
    """Every report file's text (or its pieces, streamed to the file), by file name."""
    return {
        "latest.md": markdown.chunks(report),  # streamed too (10 MB at 100,000 links)
        "badge.json": [badge.render(report)],
        "latest.json": json_report.chunks(report),  # 100 MB at 100,000 links: streamed
    }


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it: put it straight back
    os.umask(mask)
    return mask


def _temp_prefix(name: str) -> str:
    return f".{name}."


def remove_stale_temps(directory: Path, names: Iterable[str], *, age: float = STALE_TEMP_S) -> None:
    """Remove the temporary files of ``names`` (``.NAME.XXXXXXXX.tmp``, as ``_write_temp``
    makes them) that earlier runs left in ``directory`` and nobody touched for ``age`` s."""
    pattern = re.compile(
        "|".join(re.escape(_temp_prefix(n)) + r"[A-Za-z0-9_]{8}\.tmp" for n in names)
    )
    now = time.time()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return  # not there yet, or not readable: writing will say so
    for entry in entries:
        if not pattern.fullmatch(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(info.st_mode) and now - info.st_mtime > age:
                os.unlink(entry.path)
        except OSError:
            continue  # gone meanwhile (another run cleaned it), or not ours to remove


@contextlib.contextmanager
def _ctrl_c_deferred() -> Iterator[list[int]]:
    """Hold Ctrl-C until the block is done (the list says whether one came)."""
    came: list[int] = []
    # Signals reach the main thread only; an ignored Ctrl-C (a background job) stays ignored.
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    ):
        yield came
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: came.append(signum))
    try:
        yield came
    finally:
        signal.signal(signal.SIGINT, previous)


def _write_temp(
    directory: Path, name: str, text: str | Iterable[str], mode: int | None = None
) -> Path:
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=_temp_prefix(name), suffix=".tmp")
    try:
        # mkstemp makes the file private (0600); a report is as readable as any file the
        # user creates (0666 less the umask), like the one it replaces would have been;
        # ``mode``: the replaced file's own (a catalogue a user made group-writable stays so).
        os.fchmod(fd, 0o666 & ~_umask() if mode is None else mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.writelines([text] if isinstance(text, str) else text)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def _fsync_dir(directory: Path) -> None:
    # Makes the renames themselves durable; not possible on every platform (Windows).
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: Path, text: str | Iterable[str]) -> None:
    """Replace ``path`` with ``text`` atomically (temp file in the same dir, fsync, rename).

    ``text`` may come in pieces (``json.chunks(report)``): they are streamed to the file.
    The file keeps its permissions; a new one gets the umask's.
    """
    path = Path(path)
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(directory, [path.name])
    try:
        mode: int | None = stat.S_IMODE(path.stat().st_mode)
    except OSError:  # not there yet
        mode = None
    tmp = _write_temp(directory, path.name, text, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(directory)


def write_reports(report: RunReport, out_dir: Path) -> list[Path]:
    """Write latest.md, badge.json and latest.json into ``out_dir`` (created if needed)."""
    out_dir = Path(out_dir)
    texts = render_all(report)  # may raise (and so may latest.md and latest.json while they
    # stream to their temp files): either way before the first rename, so nothing is touched
    out_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out_dir, FILES)
    temps: dict[str, Path] = {}
    try:
        for name in FILES:
            temps[name] = _write_temp(out_dir, name, texts[name])
        written = []
        # Ctrl-C here would leave a mix of new and old files: it waits for the last rename.
        with _ctrl_c_deferred() as interrupted:
            for name in FILES:
                target = out_dir / name
                os.replace(temps[name], target)
                del temps[name]
                written.append(target)
    finally:
        for tmp in temps.values():
            with contextlib.suppress(OSError):
                tmp.unlink()
    _fsync_dir(out_dir)
    if interrupted:
        raise WrittenThenInterrupted(written)
    return written
