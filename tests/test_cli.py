"""The command line, run as a user runs it: `python -m crawler …` in a subprocess."""

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import crawler

ROOT = Path(__file__).resolve().parent.parent
# The study README the catalogue was imported from (a copy of shared/seed/README.md, so
# the suite runs in any clone).
SEED = ROOT / "tests" / "fixtures" / "seed" / "README.md"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "catalog.yaml").write_text((ROOT / "catalog.yaml").read_text(encoding="utf-8"))
    return tmp_path


def test_offline_check_of_the_bundled_catalogue_names_the_duplicate_and_exits_1(workdir):
    run = crawler("check", "--offline", cwd=workdir)
    assert run.returncode == 1, run.stderr
    line = next(ln for ln in run.stdout.splitlines() if "duplicate" in ln)
    assert line.startswith("catalog.yaml:")
    assert "AsyMo" in line and "MobileViT" in line and "youtu.be/dVH02_O2MzQ" in line
    assert "Traceback" not in run.stderr
    data = json.loads((workdir / "reports" / "latest.json").read_text())
    assert data["duplicates"][0]["key"] == "youtube:dVH02_O2MzQ"
    assert {r["status"] for r in data["links"]} == {"skipped"}
    assert "MobileViT" in (workdir / "reports" / "latest.md").read_text()


def test_offline_check_of_a_clean_catalogue_exits_0(workdir):
    text = (workdir / "catalog.yaml").read_text()
    # Give AsyMo its own (made-up) video: the duplicate is the only error of the bundled catalogue.
    fixed = (
        text[: text.rindex("dVH02_O2MzQ")] + "AAAAAAAAAAA" + text[text.rindex("dVH02_O2MzQ") + 11 :]
    )
    (workdir / "catalog.yaml").write_text(fixed)
    run = crawler("check", "--offline", "-q", cwd=workdir)
    assert run.returncode == 0, run.stdout + run.stderr


def test_a_broken_catalogue_gives_one_line_per_problem_and_exit_2(workdir):
    (workdir / "catalog.yaml").write_text(
        "study:\n"
        "  title: S\n"
        "sessions:\n"
        "  - title: A\n"
        "    date: 2021-13-01\n"
        "    slides: TVM.pdf\n"
        "    speaker: me\n"
    )
    run = crawler("check", "--offline", cwd=workdir)
    assert run.returncode == 2
    problems = [ln for ln in run.stderr.splitlines() if ln.startswith("catalog.yaml:")]
    assert [p.split(": ", 1)[0] for p in problems] == [
        "catalog.yaml:5:11",
        "catalog.yaml:6:13",
        "catalog.yaml:7:5",
    ]
    assert "date: '2021-13-01' is not a date" in problems[0]
    assert "not an absolute http(s) URL" in problems[1]
    assert "unknown key 'speaker'" in problems[2]
    assert "Traceback" not in run.stderr
    assert not (workdir / "reports").exists()


def test_tab_indented_yaml_is_exit_2_without_traceback(workdir):
    (workdir / "catalog.yaml").write_text("study:\n\ttitle: S\nsessions: []\n")
    run = crawler("check", "--offline", cwd=workdir)
    assert run.returncode == 2
    assert run.stderr.startswith("catalog.yaml:2:1: YAML syntax:")
    assert "Traceback" not in run.stderr


def _unusual_catalogue(kind: str, workdir: Path) -> str:
    if kind == "/dev/zero":
        return kind
    path = workdir / kind
    if kind == "fifo":
        os.mkfifo(path)  # nobody ever writes to it: opening it to read would wait forever
    elif kind == "directory":
        path.mkdir()
    else:  # a sparse file: 100 GiB on paper, no disk used, created in no time
        with path.open("wb") as file:
            file.truncate(100 * 1024**3)
    return kind


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX files")
@pytest.mark.parametrize(
    ("kind", "what"),
    [
        ("/dev/zero", "is a device"),
        ("fifo", "is a named pipe (FIFO)"),
        ("directory", "is a directory"),
        ("huge.yaml", "larger than 64 MiB"),
    ],
)
def test_a_catalogue_that_is_no_file_or_too_big_is_one_line_and_exit_2(workdir, kind, what):
    # A timeout, so a catalogue read that blocks fails the test instead of hanging it.
    run = crawler(
        "check",
        "--offline",
        "--catalog",
        _unusual_catalogue(kind, workdir),
        cwd=workdir,
        timeout=60,
    )
    assert run.returncode == 2, run.stderr
    first = run.stderr.splitlines()[0]
    assert kind in first and what in first
    assert "--catalog" in first or "right file" in first  # and what to do about it
    assert "Traceback" not in run.stderr
    assert not (workdir / "reports").exists()


def test_a_url_the_engine_could_not_fetch_is_refused_by_validation_with_its_place(workdir):
    # Before, these passed validation and each link ended as "internal error: InvalidURL".
    (workdir / "catalog.yaml").write_text(
        "study: {title: S}\n"
        "sessions:\n"
        "  - title: A\n"
        "    date: 2021-01-01\n"
        '    slides: "https://example.org/a\\0.pdf"\n'
        "    video: https://ｙｏｕｔｕ.ｂｅ/wzy1QMci_Zs\n",
        encoding="utf-8",
    )
    run = crawler("check", "--no-report", cwd=workdir)
    assert run.returncode == 2, run.stdout + run.stderr
    problems = [ln for ln in run.stderr.splitlines() if ln.startswith("catalog.yaml:")]
    assert [p.split(": ", 1)[0] for p in problems] == ["catalog.yaml:5:13", "catalog.yaml:6:12"]
    assert "control character U+0000" in problems[0]
    assert problems[1].endswith("write it as youtu.be")
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("levels", [3_000, 100_000])
def test_a_deeply_nested_catalogue_is_one_line_with_its_place(workdir, levels):
    # 3,000 levels used to end in "maximum recursion depth exceeded" with no position.
    (workdir / "catalog.yaml").write_text(
        "study: {title: S}\nsessions:\n  - " + "[" * levels + "]" * levels + "\n"
    )
    run = crawler("check", "--offline", cwd=workdir, timeout=120)
    assert run.returncode == 2, run.stderr
    assert run.stderr.splitlines()[0] == (
        "catalog.yaml:3:35: nested more than 32 levels deep; a catalogue needs 5 "
        "(check the indentation and brackets here)"
    )
    assert "Traceback" not in run.stderr


def test_an_invalid_catalogue_leaves_the_previous_reports_alone(workdir):
    assert crawler("check", "--offline", cwd=workdir).returncode == 1
    before = (workdir / "reports" / "latest.json").read_bytes()
    (workdir / "catalog.yaml").write_text("sessions: {}\n")
    assert crawler("check", "--offline", cwd=workdir).returncode == 2
    assert (workdir / "reports" / "latest.json").read_bytes() == before


def test_no_report_writes_no_files_but_still_exits_by_the_findings(workdir):
    run = crawler("check", "--offline", "--no-report", cwd=workdir)
    assert run.returncode == 1
    assert "duplicate" in run.stdout
    assert not (workdir / "reports").exists()


def test_import_of_the_seed_readme_prints_the_bundled_catalogue(tmp_path):
    run = crawler("import", str(SEED), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout == (ROOT / "catalog.yaml").read_text(encoding="utf-8")


def test_import_to_a_file(tmp_path):
    run = crawler("import", str(SEED), "-o", "out.yaml", cwd=tmp_path)
    assert run.returncode == 0
    assert (tmp_path / "out.yaml").read_text(encoding="utf-8") == (ROOT / "catalog.yaml").read_text(
        encoding="utf-8"
    )
    assert "23 sessions" in run.stderr


def test_help_documents_the_exit_codes(tmp_path):
    run = crawler("check", "--help", cwd=tmp_path)
    assert run.returncode == 0
    for code in ("0 ", "1 ", "2 ", "3 "):
        assert f"  {code}" in run.stdout


def test_help_says_how_long_one_link_may_take(tmp_path):
    run = crawler("check", "--help", cwd=tmp_path)
    help_text = " ".join(run.stdout.split())  # click wraps the lines
    assert "one link may take 4 x this + 10 s in all" in help_text


def test_usage_errors_exit_2(tmp_path):
    assert crawler("check", "--shard", "5/2", cwd=tmp_path).returncode == 2
    assert crawler("check", "--concurrency", "0", cwd=tmp_path).returncode == 2
    assert crawler("check", "-q", "-v", "--offline", cwd=tmp_path).returncode == 2


def test_quickstart_is_two_lines_and_ci_runs_the_second_verbatim():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    first, second = block.strip().splitlines()
    assert "python -m crawler check" in first
    assert "pytest" in second and ".[test]" in second
    assert second in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize(
    ("with_video", "jobs"),
    [(False, 1), (True, 1), (True, 2)],
    ids=["http", "http+yt-dlp-workers", "jobs-2+yt-dlp-workers"],
)
def test_ctrl_c_mid_run_exits_130_and_leaves_the_previous_reports_intact(
    tmp_path, with_video, jobs
):
    """A real SIGINT while links are being checked (servers that never answer in time).

    With a video, yt-dlp's worker processes are waiting on a server too; with --jobs 2, two
    check processes each wait on their own host. All of them must end with the crawler
    (their connections are closed), not linger.
    """
    import signal
    import socket
    import threading
    import time

    from conftest import TWO_HOSTS

    hung: list[socket.socket] = []
    accepted = threading.Event()
    servers = []
    for host in TWO_HOSTS if jobs > 1 else ("127.0.0.1",):
        server = socket.socket()
        server.bind((host, 0))
        server.listen()
        servers.append(server)

        def accept_and_hang(server: socket.socket = server) -> None:
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                hung.append(conn)  # never answer: the crawler waits for its read timeout
                accepted.set()

        threading.Thread(target=accept_and_hang, daemon=True).start()
    where = [f"http://{host}:{port}" for host, port in (s.getsockname() for s in servers)]
    sessions = [f"  - {{title: T{i}, date: 2021-01-0{i + 1}, slides: '{w}/a.pdf'}}\n"
                for i, w in enumerate(where)]  # fmt: skip
    if with_video:
        sessions[0] = sessions[0].replace("}", f", video: '{where[0]}/talk'}}")
    (tmp_path / "catalog.yaml").write_text("study: {title: S}\nsessions:\n" + "".join(sessions))
    reports = tmp_path / "reports"
    reports.mkdir()
    old = {name: f"previous {name}\n" for name in ("latest.md", "latest.json", "badge.json")}
    for name, text in old.items():
        (reports / name).write_text(text)

    command = ["check", "--allow-private", "--timeout", "60", "--jobs", str(jobs)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "crawler", *command],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # As from a terminal: a shell starts background jobs (a CI step run with '&') with
        # SIGINT ignored, and the crawler rightly keeps that; the test is about Ctrl-C.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert accepted.wait(60), "the crawler never connected"
        expected = len(servers) + with_video
        deadline = time.monotonic() + 30
        while len(hung) < expected and time.monotonic() < deadline:
            time.sleep(0.05)  # until every process (and yt-dlp's worker) has connected
        assert len(hung) >= expected
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        for conn in hung:  # every client of the hung server is gone: EOF or reset, no wait
            conn.settimeout(10)  # a client still alive would make recv time out
            with contextlib.suppress(ConnectionResetError):
                while conn.recv(65536):  # the request it sent, then EOF
                    pass
    finally:
        proc.kill()
        for server in servers:
            server.close()
        for conn in hung:
            conn.close()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert {p.name: p.read_text() for p in reports.iterdir()} == old


def test_two_runs_count_failures_escalate_with_fail_after_and_report_recovery(httpserver, tmp_path):
    """Run 1 and 2 cannot verify a link (403), run 2 escalates it, run 3 sees it recover."""
    state = {"status": 403}

    def handler(request):
        from werkzeug import Response

        return Response("x", status=state["status"], content_type="text/html")

    httpserver.expect_request("/home").respond_with_handler(handler)
    url = httpserver.url_for("/home")
    (tmp_path / "catalog.yaml").write_text(
        "study: {title: S}\nsessions:\n"
        "  - title: T\n    date: 2021-01-01\n    presenters:\n"
        f"      - {{name: P, url: '{url}'}}\n"
    )
    args = ("check", "--allow-private", "--timeout", "5")

    def link() -> dict:
        data = json.loads((tmp_path / "reports" / "latest.json").read_text())
        (entry,) = data["links"]
        return entry

    first = crawler(*args, "--fail-after", "2", cwd=tmp_path)
    assert first.returncode == 3, first.stdout + first.stderr
    assert (link()["status"], link()["consecutive_failures"]) == ("unverified", 1)
    first_failed = link()["first_failed"]

    second = crawler(*args, "--fail-after", "2", cwd=tmp_path)
    assert second.returncode == 1, second.stdout + second.stderr
    assert link()["consecutive_failures"] == 2
    assert link()["first_failed"] == first_failed
    assert "escalated" in second.stdout
    assert "unverified for 2 consecutive runs" in (tmp_path / "reports" / "latest.md").read_text()

    state["status"] = 200
    third = crawler(*args, "--fail-after", "2", cwd=tmp_path)
    assert third.returncode == 0, third.stdout + third.stderr
    assert (link()["status"], link()["consecutive_failures"]) == ("ok", 0)
    data = json.loads((tmp_path / "reports" / "latest.json").read_text())
    assert [r["url"] for r in data["changes"]["recovered"]] == [url]
    md = (tmp_path / "reports" / "latest.md").read_text()
    changes = md.split("## Changes since the last run", 1)[1].split("\n## ", 1)[0]
    assert "ecovered" in changes and url in changes


def test_an_unwritable_report_dir_is_one_clear_line_not_a_traceback(workdir):
    (workdir / "blocker").write_text("a file where the report dir's parent should be")
    run = crawler("check", "--offline", "--report-dir", "blocker/reports", cwd=workdir)
    assert run.returncode == 2
    assert "error: cannot write the reports to blocker/reports" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(
    ("option", "text", "expected"),
    [
        *[("--jobs", t, e) for t, e in [("1", 1), ("3", 3), ("auto", None), (None, None)]],
        *[("--video-workers", t, e) for t, e in [("1", 1), ("6", 6), ("auto", None), (None, None)]],
    ],
)
def test_jobs_and_video_workers_are_a_count_or_auto_by_default(monkeypatch, option, text, expected):
    from click.testing import CliRunner

    import crawler.cli as cli

    seen: dict[str, object] = {}

    def capture(options, **_):
        seen[option] = getattr(options, option.removeprefix("--").replace("-", "_"))
        raise KeyboardInterrupt  # stop before anything is checked

    monkeypatch.setattr(cli, "run_check", capture)
    args = ["check", "-q", *([option, text] if text else [])]
    assert CliRunner().invoke(cli.main, args).exit_code == 130
    assert seen[option] == expected


@pytest.mark.parametrize(
    ("option", "text", "says"),
    [
        *[("--jobs", t, "1 to 64 or auto") for t in ["0", "65", "two", ""]],
        *[("--video-workers", t, "1 to 16 or auto") for t in ["0", "17", "many"]],
    ],
)
def test_a_bad_jobs_or_video_workers_value_is_a_usage_error(tmp_path, option, text, says):
    run = crawler("check", option, text, cwd=tmp_path)
    assert run.returncode == 2
    assert option in run.stderr and says in run.stderr


def test_host_limits_come_from_the_options_or_the_environment(monkeypatch):
    from click.testing import CliRunner

    import crawler.cli as cli
    from crawler.config import HostLimits

    seen: dict[str, object] = {}

    def capture(options, **_):
        seen["limits"] = options.settings.host_limits
        raise KeyboardInterrupt  # stop before anything is checked

    monkeypatch.setattr(cli, "run_check", capture)
    runner = CliRunner()
    args = ["check", "-q", "--host-limit", "github.com=8/0.1", "--host-limit", "YouTube.com=1"]
    assert runner.invoke(cli.main, args).exit_code == 130
    assert seen["limits"] == (
        ("github.com", HostLimits(8, 0.1)),
        ("youtube.com", HostLimits(1, 0.0)),
    )
    # The nightly workflow passes a repository variable through the environment.
    env = {"CRAWLER_HOST_LIMITS": "slideshare.net=1/2 example.org=2"}
    assert runner.invoke(cli.main, ["check", "-q"], env=env).exit_code == 130
    assert seen["limits"] == (
        ("slideshare.net", HostLimits(1, 2.0)),
        ("example.org", HostLimits(2, 0.0)),
    )
    bad = runner.invoke(cli.main, ["check", "-q"], env={"CRAWLER_HOST_LIMITS": "github.com"})
    assert bad.exit_code == 2
    assert "--host-limit" in bad.output and "DOMAIN=N or DOMAIN=N/SECONDS" in bad.output


def crawler_in(memory: int, *args: str, cwd: Path, timeout: float = 120):
    """``crawler(*args)`` in a process that may map at most ``memory`` bytes (RLIMIT_AS)."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    command = [sys.executable, "-m", "crawler", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=limit)  # fmt: skip


@pytest.mark.parametrize(
    ("make", "what"),
    [
        (lambda path: path.symlink_to("/dev/zero"), "not a regular file but a character device"),
        (lambda path: __import__("os").mkfifo(path), "not a regular file but a named pipe"),
    ],
    ids=["dev-zero", "fifo"],
)
def test_a_previous_report_that_is_no_file_is_ignored_without_reading_it(workdir, make, what):
    """A symlink to /dev/zero was read to 4 GB, and a named pipe waited for a writer forever:
    now either is refused at once, with the same warning as a damaged report, in 600 MB."""
    reports = workdir / "reports"
    reports.mkdir()
    make(reports / "latest.json")
    run = crawler_in(600 * 2**20, "check", "--offline", "-q", cwd=workdir, timeout=60)
    assert run.returncode == 1, run.stderr  # the bundled catalogue's duplicate, as always
    [warning] = [ln for ln in run.stderr.splitlines() if "previous report" in ln]
    assert f"latest.json: {what} (treating this as a first run)" in warning
    assert "Traceback" not in run.stderr
    assert json.loads((reports / "latest.json").read_text())["links"]  # replaced by tonight's
