"""The package type-checks: mypy, with pyproject.toml's ``[tool.mypy]`` settings, finds nothing.

Run here rather than as a step of its own in .ci/run, so that README's Quickstart test line
stays the one command a developer and CI run. mypy keeps its incremental cache in
``.mypy_cache`` at the root: a second run checks only what changed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def mypy(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(ROOT / "pyproject.toml"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
    )


def test_the_package_type_checks():
    run = mypy(cwd=ROOT)  # the files are the config's: crawler/
    assert run.returncode == 0, f"mypy found errors:\n{run.stdout}{run.stderr}"
    assert "no issues found" in run.stdout


def test_the_settings_are_strict(tmp_path):
    """An unannotated function and a bare ``# type: ignore`` are errors under our settings."""
    module = tmp_path / "loose.py"
    module.write_text("def double(x):\n    return x * 2\n\n\nN: int = 'two'  # type: ignore\n")
    run = mypy(str(module), cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "[no-untyped-def]" in run.stdout
    assert "[ignore-without-code]" in run.stdout
