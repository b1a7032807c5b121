"""Run the crawler's CLI as a user does: ``python -m crawler …`` in a subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def crawler(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crawler", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
