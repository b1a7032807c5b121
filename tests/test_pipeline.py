"""One run top-down, exit codes, and sharding: K/N partial runs merged equal one whole run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_runner import crawler
from pytest_httpserver import HTTPServer
from werkzeug import Response

from crawler.links import make_link
from crawler.model import Finding, LinkResult, RunReport, SessionInfo, Status
from crawler.pipeline import (
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_UNVERIFIED,
    build_report,
    exit_code,
    merge_reports,
)
from crawler.report import json as json_report
from crawler.store import decode

PDF = b"%PDF-1.4\n%%EOF\n"
ROOT = Path(__file__).resolve().parent.parent


def report_of(*results: LinkResult, findings=(), unreachable=False) -> RunReport:
    return RunReport(
        catalog_title="S",
        catalog_path="catalog.yaml",
        generated_at="2026-11-25T00:00:00Z",
        duration_seconds=1.0,
        version="0",
        offline=False,
        sessions=[],
        results=list(results),
        findings=list(findings),
        duplicates=[],
        network_unreachable=unreachable,
    )


def result(status: Status, network_error: bool = False) -> LinkResult:
    link = make_link("s", "S", "2021-01-01", "slides", "https://example.org/a.pdf")
    return LinkResult(link=link, status=status, detail="x", network_error=network_error)


def test_exit_codes():
    assert exit_code(report_of(result(Status.OK), result(Status.REDIRECTED))) == EXIT_OK
    assert exit_code(report_of(result(Status.OK), result(Status.UNVERIFIED))) == EXIT_UNVERIFIED
    assert exit_code(report_of(result(Status.UNVERIFIED), result(Status.BROKEN))) == EXIT_PROBLEMS
    dup = Finding("duplicate", "error", "s", "S", "2021-01-01", "same video")
    assert exit_code(report_of(result(Status.SKIPPED), findings=[dup])) == EXIT_PROBLEMS
    warning = Finding("missing-video", "warning", "s", "S", "2021-01-01", "no video")
    assert exit_code(report_of(result(Status.OK), findings=[warning])) == EXIT_OK


def test_a_skipped_link_is_not_verified_healthy_online_but_offline_runs_skip_all():
    skipped = report_of(result(Status.SKIPPED), result(Status.SKIPPED))
    assert exit_code(skipped) == EXIT_UNVERIFIED  # verified nothing: never 0
    assert exit_code(report_of(result(Status.OK), result(Status.SKIPPED))) == EXIT_UNVERIFIED
    skipped.offline = True  # --offline: the publishing gate, nothing is meant to be checked
    assert exit_code(skipped) == EXIT_OK


def test_no_network_is_exit_3_even_with_catalogue_errors():
    dup = Finding("duplicate", "error", "s", "S", "2021-01-01", "same video")
    offline_net = report_of(
        result(Status.UNVERIFIED, network_error=True), findings=[dup], unreachable=True
    )
    assert exit_code(offline_net) == EXIT_UNVERIFIED


@pytest.fixture
def site(httpserver: HTTPServer) -> HTTPServer:
    for i in range(12):
        httpserver.expect_request(f"/slides/{i}.pdf").respond_with_data(
            PDF, content_type="application/pdf"
        )
    httpserver.expect_request("/slides/gone.pdf").respond_with_data("no", status=404)
    httpserver.expect_request("/slides/html.pdf").respond_with_data(
        "<html>login</html>", content_type="text/html"
    )
    httpserver.expect_request("/old").respond_with_response(
        Response(status=301, headers={"Location": "/new"})
    )
    httpserver.expect_request("/new").respond_with_data("home", content_type="text/html")
    httpserver.expect_request("/flaky").respond_with_data("down", status=500)
    return httpserver


def write_catalog(path: Path, base: str) -> None:
    slides = [f"{base}/slides/{i}.pdf" for i in range(12)]
    slides += [f"{base}/slides/gone.pdf", f"{base}/slides/html.pdf", f"{base}/slides/3.pdf"]
    lines = ["study:", "  title: Shard Study", "sessions:"]
    for i, url in enumerate(slides):
        lines += [
            f'  - title: "Talk {i}"',
            f"    date: 2021-01-{i + 1:02d}",
            "    presenters:",
            "      - name: P",
        ]
        if i % 5 == 0:
            lines.append(f"        url: {base}/old")
        if i == 7:
            lines.append(f"        url: {base}/flaky")
        lines.append(f"    slides: {url}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def comparable(data: dict) -> dict:
    """What must be equal between a whole run and a merged one (timing aside)."""
    keep = (
        "session",
        "field",
        "url",
        "status",
        "http_status",
        "final_url",
        "detail",
        "fix",
        "size",
        "consecutive_failures",
    )
    return {
        "links": [{k: r[k] for k in keep} for r in data["links"]],
        "duplicates": data["duplicates"],
        "findings": data["findings"],
        "summary": data["summary"],
        "sessions": data["sessions"],
    }


def test_two_shards_merged_equal_one_whole_run(site, tmp_path):
    write_catalog(tmp_path / "catalog.yaml", site.url_for("").rstrip("/"))
    common = ("--catalog", "catalog.yaml", "--allow-private", "--timeout", "5", "-q")
    whole = crawler("check", *common, "--report-dir", "whole", cwd=tmp_path)
    assert whole.returncode == EXIT_PROBLEMS, whole.stdout + whole.stderr

    for k in (1, 2):
        part = crawler("check", *common, "--report-dir", "parts", "--shard", f"{k}/2", cwd=tmp_path)
        assert part.returncode in (0, 1, 3), part.stderr
    parts = sorted((tmp_path / "parts").glob("shard-*-of-2.json"))
    assert [p.name for p in parts] == ["shard-1-of-2.json", "shard-2-of-2.json"]
    sizes = [len(json.loads(p.read_text())["links"]) for p in parts]
    assert all(sizes) and sum(sizes) == 19  # both shards did some of the work, none twice

    merged = crawler("merge", *map(str, parts), "--report-dir", "merged", "-q", cwd=tmp_path)
    assert merged.returncode == whole.returncode, merged.stderr

    a = json.loads((tmp_path / "whole" / "latest.json").read_text())
    b = json.loads((tmp_path / "merged" / "latest.json").read_text())
    assert comparable(a) == comparable(b)
    statuses = {r["url"].rsplit("/", 1)[1]: r["status"] for r in a["links"]}
    assert statuses["gone.pdf"] == "broken" and statuses["html.pdf"] == "broken"
    assert statuses["old"] == "redirected" and statuses["flaky"] == "unverified"
    assert [d["key"].rsplit("/", 1)[1] for d in a["duplicates"]] == ["3.pdf"]
    # The Markdown differs at most in the header's run time line.
    md_a = (tmp_path / "whole" / "latest.md").read_text().splitlines()
    md_b = (tmp_path / "merged" / "latest.md").read_text().splitlines()
    assert [x for x in md_a if "took" not in x] == [x for x in md_b if "took" not in x]


def test_a_second_merged_run_reports_the_same_changes_and_escalations(site, tmp_path):
    """Against a previous report, merge finds what one whole run finds: the changes (from the
    previous run, read compactly) and the escalations each shard made (kept from the parts)."""
    base = site.url_for("").rstrip("/")
    write_catalog(tmp_path / "catalog.yaml", base)
    common = ("--catalog", "catalog.yaml", "--allow-private", "--timeout", "5", "--fail-after", "2")

    def both_ways() -> tuple[dict, dict]:
        whole = crawler("check", *common, "-q", "--report-dir", "whole", cwd=tmp_path)
        for k in (1, 2):
            crawler("check", *common, "-q", "--report-dir", "merged", "--shard", f"{k}/2",
                    cwd=tmp_path)  # fmt: skip
        parts = [f"merged/shard-{k}-of-2.json" for k in (1, 2)]
        merged = crawler("merge", *parts, "--report-dir", "merged", "-q", cwd=tmp_path)
        assert merged.returncode == whole.returncode, merged.stderr
        a = json.loads((tmp_path / "whole" / "latest.json").read_text())
        b = json.loads((tmp_path / "merged" / "latest.json").read_text())
        return a, b

    both_ways()  # the first run of each: the previous report of the second
    site.clear()
    for i in range(1, 12):
        site.expect_request(f"/slides/{i}.pdf").respond_with_data(PDF)
    site.expect_request("/slides/0.pdf").respond_with_data("no", status=404)  # newly broken
    site.expect_request("/slides/gone.pdf").respond_with_data(PDF)  # recovered
    site.expect_request("/slides/html.pdf").respond_with_data("<html>login</html>")
    site.expect_request("/old").respond_with_data("home")
    site.expect_request("/flaky").respond_with_data("down", status=500)  # 2nd run: escalated
    a, b = both_ways()

    assert comparable(a) == comparable(b)
    changes = {key: [r["url"].rsplit("/", 1)[1] for r in a["changes"][key]]
               for key in ("newly_broken", "recovered")}  # fmt: skip
    assert changes == {"newly_broken": ["0.pdf"], "recovered": ["gone.pdf"]}
    assert {k: v for k, v in a["changes"].items() if k != "baseline_at"} == {
        k: v for k, v in b["changes"].items() if k != "baseline_at"
    }
    escalated = [f["url"].rsplit("/", 1)[1] for f in b["findings"] if f["kind"] == "escalated"]
    assert escalated == ["flaky"]
    # The merge adds the whole run's counts to the trend, as one run does (not a shard's).
    counts = ("ok", "broken", "redirected", "unverified")
    assert [{k: p[k] for k in counts} for p in b["trend"][-1:]] == [
        {k: a["summary"][k] for k in counts}
    ]


def test_merge_refuses_incomplete_or_mixed_parts(site, tmp_path):
    write_catalog(tmp_path / "catalog.yaml", site.url_for("").rstrip("/"))
    common = ("--catalog", "catalog.yaml", "--offline", "--report-dir", "parts", "-q")
    crawler("check", *common, "--shard", "1/3", cwd=tmp_path)
    crawler("check", *common, "--shard", "2/3", cwd=tmp_path)
    run = crawler("merge", "parts/shard-1-of-3.json", "parts/shard-2-of-3.json", cwd=tmp_path)
    assert run.returncode == 2
    assert "missing 3/3" in run.stderr
    (tmp_path / "parts" / "garbage.json").write_text("{}")
    run = crawler("merge", "parts/garbage.json", cwd=tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr


def test_merge_of_a_file_that_is_no_report_is_exit_2_naming_it(tmp_path):
    import os

    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    os.mkfifo(tmp_path / "pipe.json")  # no writer: reading it would wait forever
    for part, what in [
        ("deep.json", "JSON nested too deeply to be a report"),
        ("/proc/self/mem", "cannot read it: Input/output error"),
        ("pipe.json", "not a regular file but a named pipe"),
    ]:
        run = crawler("merge", part, cwd=tmp_path, timeout=60)
        assert run.returncode == 2, run.stderr
        assert run.stderr.splitlines() == [
            f"error: cannot merge: {part}: {what}; merge takes the shard-K-of-N.json files of "
            "one `check --shard K/N` run, each once"
        ]


def test_merge_refuses_parts_that_are_not_of_one_sharded_run(site, tmp_path):
    write_catalog(tmp_path / "catalog.yaml", site.url_for("").rstrip("/"))
    common = ("--catalog", "catalog.yaml", "--offline", "--report-dir", "parts", "-q")
    for k in (1, 2):
        crawler("check", *common, "--shard", f"{k}/2", cwd=tmp_path)
    one, two = (json.loads((tmp_path / f"parts/shard-{k}-of-2.json").read_text()) for k in (1, 2))

    def merge(name: str, data: dict) -> str:
        (tmp_path / name).write_text(json.dumps(data))
        run = crawler("merge", name, "parts/shard-2-of-2.json", "--report-dir", "out",
                      cwd=tmp_path)  # fmt: skip
        assert run.returncode == 2 and len(run.stderr.splitlines()) == 1, run.stderr
        assert not (tmp_path / "out").exists()
        return run.stderr

    stranger = {**one, "links": [{**one["links"][0], "session": "2099-01-01-nope"}]}
    error = merge("stranger.json", stranger)
    assert "stranger.json: link " in error
    assert "names session '2099-01-01-nope', which is not in its catalogue" in error
    moved = {**one, "links": [*one["links"], two["links"][0]]}  # the same link in both parts
    error = merge("moved.json", moved)
    assert f"moved.json: link {two['links'][0]['url']!r} (" in error
    assert "is not one of shard 1/2's (a part of another catalogue or sharding)" in error
    twice = {**one, "links": [*one["links"], one["links"][-1]]}
    error = merge("twice.json", twice)
    assert f"twice.json: link {one['links'][-1]['url']!r} (" in error
    assert ") is given twice; merge takes" in error
    assert "repeated 2/2 (copy.json and parts/shard-2-of-2.json)" in merge("copy.json", two)
    for k, part in enumerate((one, two), 1):  # both parts list a session twice
        again = {**part, "sessions": [*part["sessions"], part["sessions"][0]]}
        (tmp_path / f"again-{k}.json").write_text(json.dumps(again))
    run = crawler("merge", "again-1.json", "again-2.json", "--report-dir", "out", cwd=tmp_path)
    assert run.returncode == 2 and not (tmp_path / "out").exists(), run.stderr
    assert f"again-1.json: session {one['sessions'][0]['id']!r} is listed twice" in run.stderr


def test_merge_of_a_part_claiming_a_trillion_shards_names_the_first_missing(tmp_path):
    """Listing the missing shards of 1/10^12 once took all memory (a MemoryError traceback)."""
    crawler("check", "--catalog", str(ROOT / "catalog.yaml"), "--offline", "--shard", "1/2",
            "--report-dir", "parts", "-q", cwd=tmp_path)  # fmt: skip
    part = json.loads((tmp_path / "parts" / "shard-1-of-2.json").read_text())
    (tmp_path / "claim.json").write_text(json.dumps({**part, "shard": "1/1000000000000"}))
    run = crawler("merge", "claim.json", cwd=tmp_path, timeout=60)
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith(
        "error: cannot merge: the parts must be shards 1..1000000000000 once each; "
        "missing 2/1000000000000, 3/1000000000000,"
    )
    assert run.stderr.rstrip().endswith("11/1000000000000, … 999,999,999,989 more")


def no_network() -> dict:
    """The engine's ``resolver`` and ``transport`` of a machine without network."""
    import socket

    import httpx

    async def no_dns(host: str) -> list[str]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    def no_route(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("Network is unreachable", request=request)

    return {"resolver": no_dns, "transport": httpx.MockTransport(no_route)}


def bundled_catalog_options(report_dir: Path):
    from crawler.config import CheckOptions, Settings

    return CheckOptions(ROOT / "catalog.yaml", report_dir, settings=Settings(retries=1))


def test_with_no_network_the_bundled_catalogue_is_exit_3_and_nothing_is_broken(tmp_path):
    """What `python -m crawler check` does here, offline: every lookup fails."""
    from crawler.pipeline import run_check
    from crawler.report import markdown

    report = run_check(bundled_catalog_options(tmp_path), engine_kwargs=no_network())
    assert len(report.results) == 46  # 23 slides, 21 videos, 2 homepages
    assert report.network_unreachable
    assert {r.status for r in report.results} == {Status.UNVERIFIED}
    assert exit_code(report) == EXIT_UNVERIFIED
    text = markdown.render(report)
    assert text.count("network unreachable") == 2  # the banner and the one summary line
    assert "broken:" not in text


def test_a_night_without_network_keeps_the_metadata_of_the_last_report(tmp_path):
    """Unverified is not forgotten: titles, durations and sizes stay, so nothing flaps."""
    from crawler.pipeline import run_check
    from crawler.report import write_reports

    options = bundled_catalog_options(tmp_path)
    # The last good night, as it was written: every video's metadata, every PDF's size.
    last = run_check(options, engine_kwargs=no_network())
    for i, r in enumerate(last.results):
        r.status, r.network_error = Status.OK, False
        if r.link.field == "video":
            r.title, r.duration, r.uploader = f"Talk video {i}", 60 + i, "Study group"
            r.upload_date, r.metadata_fetched_at = "20210225", "2026-11-24T03:17:00Z"
        elif r.link.field == "slides":
            r.size = 1000 + i
    last.network_unreachable = False
    wrong = next(r for r in last.results if r.link.field == "video")
    wrong.title = "Cooking pasta at home with grandma"
    write_reports(last, tmp_path)

    tonight = run_check(options, engine_kwargs=no_network())
    assert {r.status for r in tonight.results} == {Status.UNVERIFIED}
    write_reports(tonight, tmp_path)
    written = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    metadata = ("title", "duration", "uploader", "upload_date", "size", "metadata_fetched_at")
    kept = [{k: r[k] for k in metadata} for r in written["links"]]
    assert kept == [{k: getattr(r, k) for k in metadata} for r in last.results]
    assert any(r["size"] for r in written["links"]) and any(r["duration"] for r in written["links"])
    # The findings see the same titles: a wrong video stays flagged on a bad night.
    flagged = [f.url for f in tonight.findings if f.kind == "wrong-video"]
    assert flagged == [wrong.link.url]


def test_jobs_spreads_hosts_over_processes_and_merges_to_the_single_run(two_hosts, tmp_path):
    lines = ["study:", "  title: Jobs Study", "sessions:"]
    for n, server in enumerate(two_hosts):
        for i, name in enumerate(["0", "1", "2", "3", "gone"]):
            lines += [
                f'  - title: "Talk {n}-{i}"',
                f"    date: 2021-0{n + 1}-{i + 1:02d}",
                f"    slides: {server.url_for(f'/slides/{name}.pdf')}",
            ]
    (tmp_path / "catalog.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    common = ("--allow-private", "--timeout", "5")
    whole = crawler("check", *common, "--report-dir", "whole", cwd=tmp_path)
    jobs = crawler("check", *common, "--jobs", "2", "--report-dir", "jobs", cwd=tmp_path)
    # Each host was asked by exactly one process, once per link.
    assert [len(s.log) for s in two_hosts] == [10, 10]  # 5 links each, in each of 2 runs
    assert whole.returncode == jobs.returncode == EXIT_PROBLEMS, jobs.stderr
    assert "checking in 2 processes" in jobs.stderr
    assert sum("BROKEN" in ln for ln in jobs.stderr.splitlines()) == 2
    a = json.loads((tmp_path / "whole" / "latest.json").read_text())
    b = json.loads((tmp_path / "jobs" / "latest.json").read_text())
    assert comparable(a) == comparable(b)
    assert b["shard"] is None and len(b["links"]) == 10
    assert sorted(p.name for p in (tmp_path / "jobs").iterdir()) == [
        "badge.json",
        "latest.json",
        "latest.md",
    ]


def test_jobs_combine_with_a_shard_and_an_offline_run_needs_none(site, tmp_path):
    write_catalog(tmp_path / "catalog.yaml", site.url_for("").rstrip("/"))
    common = ("--catalog", "catalog.yaml", "--allow-private", "--timeout", "5", "--shard", "1/2")
    alone = crawler("check", *common, "--report-dir", "alone", cwd=tmp_path)
    jobs = crawler("check", *common, "--jobs", "2", "--report-dir", "jobs", cwd=tmp_path)
    assert alone.returncode == jobs.returncode, jobs.stderr
    part = "shard-1-of-2.json"
    a = json.loads((tmp_path / "alone" / part).read_text())
    b = json.loads((tmp_path / "jobs" / part).read_text())
    assert comparable(a) == comparable(b) and b["shard"] == "1/2"

    offline = crawler("check", "--catalog", "catalog.yaml", "--offline", "--jobs", "2",
                      "--report-dir", "offline", cwd=tmp_path)  # fmt: skip
    assert offline.returncode == EXIT_PROBLEMS  # the duplicate; nothing to spread
    assert "processes" not in offline.stderr


def test_one_host_down_is_not_the_network_being_unreachable():
    from crawler.pipeline import network_unreachable

    def failed(url: str) -> LinkResult:
        link = make_link("s", "S", "2021-01-01", "slides", url)
        return LinkResult(link, Status.UNVERIFIED, "connection refused", network_error=True)

    one_host = [failed("https://a.example/1.pdf"), failed("https://a.example/2.pdf")]
    assert not network_unreachable(one_host)
    assert network_unreachable([*one_host, failed("https://b.example/x")])
    ok = LinkResult(make_link("s", "S", "2021-01-01", "video", "https://c.example/"), Status.OK, "")
    assert not network_unreachable([*one_host, failed("https://b.example/x"), ok])


def test_a_run_note_met_by_many_links_is_said_once_and_survives_a_merge():
    note = "YouTube Data API not used for the rest of this run: its daily quota is used up"
    results = [
        LinkResult(make_link("s", "S", "2021-01-01", "video", url), Status.UNVERIFIED, "x")
        for url in ("https://youtu.be/aaaaaaaaaaa", "https://youtu.be/bbbbbbbbbbb")
    ]
    results[0].run_note = results[1].run_note = note
    sessions = [SessionInfo("s", "S", "2021-01-01", ())]
    report = build_report(
        catalog_title="S",
        catalog_path="catalog.yaml",
        generated_at="2026-11-25T00:00:00Z",
        duration_seconds=1.0,
        offline=False,
        sessions=sessions,
        all_links=[r.link for r in results],
        results=results,
        shard="1/1",
    )
    assert report.notes == [note]
    part = decode.from_dict(json.loads(json_report.render(report)))
    assert merge_reports([part], None).notes == [note]


@pytest.mark.parametrize(("given", "expected"), [(None, 3), (1, 1)])
def test_the_run_gets_the_video_workers_its_videos_call_for_or_those_given(
    monkeypatch, tmp_path, given, expected
):
    import crawler.engine
    from crawler.config import CheckOptions
    from crawler.pipeline import run_check

    sessions = "\n".join(
        f'  - title: "T{i}"\n    date: 2021-01-01\n    video: "https://v{i % 9}.example/{i}"'
        for i in range(450)  # 450 videos over 9 hosts: three workers
    )
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(f'study:\n  title: "S"\nsessions:\n{sessions}\n', encoding="utf-8")
    seen = []

    def check_links(links, settings, **_):
        seen.append(settings.video_workers)
        return [LinkResult(link, Status.SKIPPED, "not checked here") for link in links]

    monkeypatch.setattr(crawler.engine, "check_links", check_links)
    options = CheckOptions(catalog, tmp_path / "reports", jobs=1, video_workers=given)
    run_check(options)
    assert seen == [expected]
