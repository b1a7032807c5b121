"""The terminal output of `python -m crawler check`: problem lines and the summary."""

from pathlib import Path

import pytest
from cli_runner import crawler

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "catalog.yaml").write_text((ROOT / "catalog.yaml").read_text(encoding="utf-8"))
    return tmp_path


def test_quiet_still_prints_the_errors_but_not_the_warnings(workdir):
    run = crawler("check", "--offline", "-q", cwd=workdir)
    assert run.returncode == 1
    lines = run.stdout.splitlines()
    assert any(": error: duplicate:" in ln for ln in lines)
    assert not any(": warning:" in ln for ln in lines)
    assert lines[-1].startswith("23 sessions, 46 links:")


def test_many_warnings_are_summed_up_after_the_first_twenty(tmp_path):
    sessions = "".join(
        f"  - {{title: 'Talk {i}', date: 2021-01-01, slides: 'https://example.org/{i}.pdf'}}\n"
        for i in range(30)
    )
    (tmp_path / "catalog.yaml").write_text("study: {title: S}\nsessions:\n" + sessions)
    run = crawler("check", "--offline", "--no-report", cwd=tmp_path)
    assert run.returncode == 0
    lines = run.stdout.splitlines()
    assert sum(": warning: missing-video:" in ln for ln in lines) == 20
    assert "… and 10 more warnings (-v or the report lists all)" in lines
    verbose = crawler("check", "--offline", "--no-report", "-v", cwd=tmp_path)
    assert sum(": warning: missing-video:" in ln for ln in verbose.stdout.splitlines()) == 30
