"""How the CLI ends when the run does not: a crash (exit 4) and Ctrl-C (exit 130), in every
phase, through the real CLI in a subprocess.

The crash or the Ctrl-C is placed with ``tests/crashhook/sitecustomize.py`` (test only: it
replaces one function of the crawler in the subprocess, and in its ``--jobs`` workers), so it
comes exactly where the test says, with no timing luck.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CRASH_HOOK = Path(__file__).parent / "crashhook"
REPORTS = ("latest.md", "latest.json", "badge.json")
CATALOGUE = (
    "study: {title: S}\nsessions:\n"
    "  - {title: A, date: 2021-01-01, slides: 'https://example.org/a.pdf',"
    " video: 'https://youtu.be/AAAAAAAAAAA'}\n"
)


def run(
    *args: str, cwd: Path, crash: str | None = None, interrupt: str | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """``python -m crawler ARGS`` with the hook placing a crash or a Ctrl-C."""
    environment = {**os.environ, **env}
    environment["PYTHONPATH"] = os.pathsep.join([str(CRASH_HOOK), environment["PYTHONPATH"]])
    for name, where in (("CRAWLER_TEST_CRASH", crash), ("CRAWLER_TEST_INTERRUPT", interrupt)):
        if where:
            environment[name] = where
    return subprocess.run(
        [sys.executable, "-m", "crawler", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        # As from a terminal: a shell may start a background job with SIGINT ignored.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A catalogue, and the reports of a previous run in reports/."""
    (tmp_path / "catalog.yaml").write_text(CATALOGUE)
    first = run("check", "--offline", "-q", cwd=tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    return tmp_path


def reports(workdir: Path) -> dict[str, bytes]:
    """Every file of reports/ (temporary files too), by name."""
    return {p.name: p.read_bytes() for p in (workdir / "reports").iterdir()}


@pytest.mark.parametrize(
    "where",
    [
        "crawler.catalog:load",  # loading
        "crawler.history:apply",  # checking, and comparing with the previous run
        "crawler.report.json:chunks",  # writing
    ],
)
def test_a_crash_exits_4_with_one_line_and_leaves_the_reports_byte_identical(workdir, where):
    before = reports(workdir)
    result = run("check", "--offline", cwd=workdir, crash=where)
    assert result.returncode == 4, result.stdout + result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: the crawler crashed (ZeroDivisionError: injected by the test")
    assert "this is a bug, please report it at https://github.com/" in line
    assert line.endswith("; no report written, the previous reports are untouched")
    assert reports(workdir) == before


def test_a_crash_shows_its_traceback_with_v_and_on_github_actions(workdir):
    verbose = run("check", "--offline", "-v", cwd=workdir, crash="crawler.history:apply")
    assert verbose.returncode == 4
    assert "Traceback (most recent call last)" in verbose.stderr
    assert "ZeroDivisionError: injected by the test" in verbose.stderr
    # The nightly job's log is all a maintainer has: the traceback is there without -v.
    ci = run(
        "check", "--offline", cwd=workdir, crash="crawler.history:apply", GITHUB_ACTIONS="true"
    )
    assert ci.returncode == 4
    assert "Traceback (most recent call last)" in ci.stderr
    assert ci.stderr.rstrip().splitlines()[-1].startswith("error: the crawler crashed")


def test_a_crash_in_a_jobs_worker_exits_4_not_2(two_hosts, tmp_path):
    sessions = "".join(
        f"  - {{title: T{i}, date: 2021-01-0{i + 1}, slides: '{s.url_for('/slides/0.pdf')}'}}\n"
        for i, s in enumerate(two_hosts)
    )
    (tmp_path / "catalog.yaml").write_text("study: {title: S}\nsessions:\n" + sessions)
    (tmp_path / "reports").mkdir()
    for name in REPORTS:
        (tmp_path / "reports" / name).write_text(f"previous {name}\n")
    before = reports(tmp_path)
    args = ("check", "--allow-private", "--jobs", "2", "--timeout", "10")

    result = run(*args, cwd=tmp_path, crash="crawler.processes:_check_and_send")
    assert result.returncode == 4, result.stdout + result.stderr
    line = result.stderr.splitlines()[-1]
    assert line.startswith("error: the crawler crashed (RuntimeError: process ")
    assert "ZeroDivisionError: injected by the test" in line and "this is a bug" in line
    assert "_check_in_processes" not in result.stderr  # the crawler's own traceback: only with -v
    # The other worker, stopped perhaps while still starting up, ends quietly too.
    assert "Traceback" not in result.stderr and "KeyboardInterrupt" not in result.stderr
    assert reports(tmp_path) == before
    # With -v, the traceback: the parent's, and the worker's own (where it crashed).
    verbose = run(*args, "-v", cwd=tmp_path, crash="crawler.processes:_check_and_send")
    assert verbose.returncode == 4
    assert "_check_in_processes" in verbose.stderr and "in _work" in verbose.stderr


@pytest.mark.parametrize(
    ("where", "written"),
    [
        ("crawler.catalog:load", False),  # loading
        ("crawler.history:apply", False),  # checking
        ("crawler.report.markdown:chunks", False),  # writing the first file
        ("crawler.report.json:chunks", False),  # writing the last file, two written already
        ("crawler.console:Output.summary", True),  # the summary, after the reports
    ],
)
def test_ctrl_c_exits_130_in_every_phase_and_leaves_whole_reports(workdir, where, written):
    """A real SIGINT, sent by the process to itself at that point (no timing luck)."""
    before = reports(workdir)
    (workdir / "catalog.yaml").write_text(CATALOGUE.replace("title: A", "title: B"))
    result = run("check", "--offline", cwd=workdir, interrupt=where)
    assert result.returncode == 130, result.stdout + result.stderr
    assert "Aborted" not in result.stderr and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("interrupted")
    after = reports(workdir)
    assert set(after) == set(REPORTS)  # no temporary file left behind
    if written:
        assert after != before and all(b"B" in after[name] for name in REPORTS[:2])
        assert result.stderr.splitlines()[-1] == "interrupted; the reports had been written"
    else:
        assert after == before
        assert "the previous reports are untouched" in result.stderr


def float_options() -> list[str]:
    import click

    from crawler.cli import check

    return [
        p.opts[-1]
        for p in check.params
        if isinstance(p, click.Option) and isinstance(p.type, click.types.FloatParamType)
    ]


def test_every_float_option_is_found():
    assert float_options() == ["--min-interval", "--timeout"]


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "-1", "1e999"])
@pytest.mark.parametrize("option", [*float_options(), "--host-limit"])
def test_nan_infinite_and_negative_seconds_are_usage_errors(option, value):
    """A NaN timeout or interval switched the limit off; every number of seconds is checked."""
    from click.testing import CliRunner

    from crawler.cli import main

    given = f"example.org=1/{value}" if option == "--host-limit" else value
    result = CliRunner().invoke(main, ["check", "--offline", "--no-report", option, given])
    assert result.exit_code == 2, result.output
    assert option in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("allow_private", [False, True], ids=["private", "file-and-javascript"])
def test_a_run_that_verified_nothing_is_not_healthy(httpserver, tmp_path, allow_private):
    """Every link skipped — refused private addresses, or homepages redirecting to file: and
    javascript: — is exit 3 ("could not be verified"), says so, and the badge is not green."""
    import json

    httpserver.expect_request("/file").respond_with_data(
        "", status=302, headers={"Location": "file:///etc/passwd"}
    )
    httpserver.expect_request("/js").respond_with_data(
        "", status=301, headers={"Location": "javascript:alert(1)"}
    )
    presenters = "".join(
        f"      - {{name: P{i}, url: '{httpserver.url_for(path)}'}}\n"
        for i, path in enumerate(("/file", "/js"))
    )
    (tmp_path / "catalog.yaml").write_text(
        "study: {title: S}\nsessions:\n  - title: T\n    date: 2021-01-01\n    presenters:\n"
        + presenters
    )
    args = ["check", "--timeout", "10", *(["--allow-private"] if allow_private else [])]
    result = run(*args, cwd=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "could not verify: 2 links skipped, e.g. http://" in result.stdout
    assert ("not file:" if allow_private else "use --allow-private") in result.stdout
    data = json.loads((tmp_path / "reports" / "latest.json").read_text())
    assert {r["status"] for r in data["links"]} == {"skipped"}
    badge = json.loads((tmp_path / "reports" / "badge.json").read_text())
    assert (badge["message"], badge["color"]) == ("not verified", "lightgrey")


def test_one_skipped_link_among_healthy_ones_is_exit_3_not_0(httpserver, tmp_path):
    httpserver.expect_request("/home").respond_with_data("<html>home</html>")
    httpserver.expect_request("/js").respond_with_data(
        "", status=301, headers={"Location": "javascript:alert(1)"}
    )
    (tmp_path / "catalog.yaml").write_text(
        "study: {title: S}\nsessions:\n  - title: T\n    date: 2021-01-01\n    presenters:\n"
        f"      - {{name: A, url: '{httpserver.url_for('/home')}'}}\n"
        f"      - {{name: B, url: '{httpserver.url_for('/js')}'}}\n"
    )
    result = run("check", "--allow-private", "--timeout", "10", "-q", cwd=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "could not verify: 1 link skipped" in result.stdout
    assert "1 ok" in result.stdout.splitlines()[-1]


SEED = ROOT / "tests" / "fixtures" / "seed" / "README.md"


def test_import_of_a_readme_that_is_not_utf8_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "README.md").write_bytes("# Study\n\n| café |\n".encode("latin-1"))
    result = run("import", "README.md", "-o", "catalog.yaml", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        "error: README.md:3: not UTF-8 text (byte 0xe9); save the file as UTF-8 and import it again"
    ]
    assert not (tmp_path / "catalog.yaml").exists()


@pytest.mark.parametrize(
    ("output", "why"),
    [
        ("blocker/catalog.yaml", "a file is in the way of the folder blocker"),
        ("/proc/catalog.yaml", "No such file or directory"),  # /proc takes no new files
    ],
)
def test_import_to_a_path_that_cannot_be_written_is_one_line_and_exit_2(tmp_path, output, why):
    (tmp_path / "blocker").write_text("a file where a folder should be\n")
    result = run("import", str(SEED), "-o", output, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"error: cannot write {output}: {why}; nothing was written (choose a writable path with -o)"
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_a_report_dir_that_is_a_file_or_under_one_is_exit_2(tmp_path):
    (tmp_path / "catalog.yaml").write_text(CATALOGUE)
    (tmp_path / "blocker").write_text("a file\n")
    itself = run("check", "--offline", "--report-dir", "blocker", cwd=tmp_path)
    assert itself.returncode == 2 and "'blocker' is a file" in itself.stderr
    under = run("check", "--offline", "--report-dir", "blocker/reports", cwd=tmp_path)
    assert under.returncode == 2
    assert under.stderr.splitlines() == [
        "error: cannot write the reports to blocker/reports: a file is in the way of the folder "
        "blocker/reports; the previous reports are untouched"
    ]
    shard = run("check", "--offline", "--shard", "1/2", "--report-dir", "blocker/r", cwd=tmp_path)
    assert shard.returncode == 2
    assert "error: cannot write blocker/r/shard-1-of-2.json: a file is in the way" in shard.stderr
    assert "Traceback" not in itself.stderr + under.stderr + shard.stderr


def test_a_reader_that_went_away_is_exit_141_not_a_crash(tmp_path):
    """`crawler check | head`: the reader closed the pipe; no "crashed, this is a bug"."""
    (tmp_path / "catalog.yaml").write_text(CATALOGUE)
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will ever read: the first line written fails
    try:
        result = subprocess.run(
            [sys.executable, "-m", "crawler", "check", "--offline", "--no-report", "-v"],
            cwd=tmp_path,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=180,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 141, result.stderr
    assert "crashed" not in result.stderr and "Traceback" not in result.stderr


def test_a_job_summary_that_cannot_be_written_does_not_change_the_verdict(tmp_path):
    """$GITHUB_STEP_SUMMARY unwritable: a warning, and the run's own exit code (here 0)."""
    (tmp_path / "catalog.yaml").write_text(CATALOGUE)
    (tmp_path / "summary").mkdir()  # a directory where the summary file should be
    result = run("check", "--offline", "-q", cwd=tmp_path, GITHUB_STEP_SUMMARY="summary")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.startswith("warning: cannot write the job summary summary: ")
    assert (tmp_path / "reports" / "latest.json").exists()
