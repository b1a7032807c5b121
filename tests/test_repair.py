"""``crawler fix`` (``crawler/repair.py``) end to end: a real ``check`` against a local server
playing GitHub (a renamed branch, a transferred repository, a deleted file), then ``fix`` on a
commented catalogue, compared byte for byte with ``tests/golden/fix_catalog_after.yaml``
(written by hand, not by the code).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from report_samples import check_golden
from test_integration import PDF, ROOT, run_cli
from test_integration_github import github_env, play_github

from crawler import repair

GOLDEN = Path(__file__).parent / "golden"
BEFORE = (GOLDEN / "fix_catalog_before.yaml").read_bytes()
AFTER = (GOLDEN / "fix_catalog_after.yaml").read_bytes()


@pytest.fixture
def checked(httpserver: HTTPServer, tmp_path: Path) -> tuple[Path, Path]:
    """The golden catalogue in ``tmp_path``, checked: (catalogue, its latest.json)."""
    play_github(httpserver)
    httpserver.expect_request(
        "/raw/ConstantPark/DL_Compiler/main/\u1112\u1161.pdf"
    ).respond_with_data(PDF)
    catalog = tmp_path / "catalog.yaml"
    catalog.write_bytes(BEFORE)
    reports = tmp_path / "reports"
    done = run_cli(catalog, reports, "--allow-private", env=github_env(httpserver))
    assert done.returncode == 1, done.stdout + done.stderr  # Gone.pdf is broken
    return catalog, reports / "latest.json"


def run_fix(catalog: Path, report: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "crawler", "fix", "--catalog", str(catalog)]
    command += ["--report", str(report), *extra]
    return subprocess.run(
        command, cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=120
    )


def test_fix_rewrites_only_the_urls_that_have_a_fix(checked):
    catalog, report = checked
    done = run_fix(catalog, report)
    assert done.returncode == 0, done.stderr
    assert catalog.read_bytes() == AFTER
    assert f"{catalog}: 3 fixes applied" in done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        f"{catalog}:10: slides https://github.com/ConstantPark/DL_Compiler/blob/master/TVM.pdf → "
        "https://github.com/ConstantPark/DL_Compiler/blob/main/TVM.pdf "
        "(certain: GitHub's redirect)"
    )
    assert len(lines) == 3


def test_the_catalogue_keeps_its_permissions(checked):
    catalog, report = checked
    catalog.chmod(0o640)  # not what the umask would give a new file
    done = run_fix(catalog, report)
    assert done.returncode == 0, done.stderr
    assert catalog.read_bytes() == AFTER
    assert catalog.stat().st_mode & 0o777 == 0o640


def test_dry_run_prints_the_diff_and_writes_nothing(checked):
    catalog, report = checked
    done = run_fix(catalog, report, "--dry-run")
    assert done.returncode == 0, done.stderr
    assert catalog.read_bytes() == BEFORE
    check_golden("fix_dry_run.diff", done.stdout)
    assert f"{catalog}: 3 fixes would apply" in done.stderr


def test_a_catalogue_changed_since_the_report_is_refused(checked):
    catalog, report = checked
    edited = BEFORE.replace(b"# 2021: the compilers", b"# 2021: compilers")
    catalog.write_bytes(edited)
    done = run_fix(catalog, report)
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {catalog} changed since {report} was written (")
    assert "run `crawler check" in done.stderr
    assert catalog.read_bytes() == edited


def test_the_report_of_another_catalogue_is_refused(checked, tmp_path):
    catalog, report = checked
    other = tmp_path / "other.yaml"
    other.write_bytes(BEFORE + b"# another catalogue\n")
    done = run_fix(other, report)
    assert done.returncode == 2
    assert f"is the report of another catalogue ({catalog}), not of {other}" in done.stderr
    assert other.read_bytes() == BEFORE + b"# another catalogue\n"


def test_a_report_without_fixes_changes_nothing(tmp_path):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_bytes(BEFORE)
    reports = tmp_path / "reports"
    assert run_cli(catalog, reports, "--offline").returncode == 0
    done = run_fix(catalog, reports / "latest.json")
    assert (done.returncode, done.stdout) == (0, "")
    assert done.stderr == f"{catalog}: nothing to fix\n"
    assert catalog.read_bytes() == BEFORE


def test_a_report_that_is_not_there_is_refused(tmp_path):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_bytes(BEFORE)
    done = run_fix(catalog, tmp_path / "latest.json")
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {tmp_path / 'latest.json'}: cannot read it")


@pytest.mark.parametrize(
    "interruption", [OSError(28, "No space left on device"), KeyboardInterrupt()]
)
def test_an_interrupted_write_leaves_the_catalogue_whole(checked, monkeypatch, interruption):
    catalog, report = checked

    def replace_fails(src, dst):
        raise interruption

    monkeypatch.setattr(os, "replace", replace_fails)
    if isinstance(interruption, OSError):
        with pytest.raises(
            repair.Refused, match=r"cannot write .*: No space left on device; it is"
        ):
            repair.apply_fixes(catalog, report)
    else:
        with pytest.raises(KeyboardInterrupt):
            repair.apply_fixes(catalog, report)
    assert catalog.read_bytes() == BEFORE
    assert sorted(p.name for p in catalog.parent.iterdir()) == ["catalog.yaml", "reports"]
