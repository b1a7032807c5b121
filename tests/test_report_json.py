"""latest.json: exact rendering (golden file), lossless round trip, clear errors on bad input.

The golden file is ``tests/golden/latest.json``; rerun with ``UPDATE_GOLDEN=1`` after an
intended change and review the diff.
"""

from __future__ import annotations

import copy
import io
import json

import pytest
from report_samples import check_golden, sample_report

from crawler.model import Field, FindingKind, SessionInfo, Severity
from crawler.report import json as json_report


def test_golden_latest_json():
    check_golden("latest.json", json_report.render(sample_report()))


def test_shape_and_summary():
    data = json_report.to_dict(sample_report())
    assert list(data)[:9] == [
        "schema_version",
        "generated_at",
        "catalog",
        "crawler_version",
        "duration_seconds",
        "offline",
        "network_unreachable",
        "shard",
        "summary",
    ]
    assert data["schema_version"] == json_report.SCHEMA_VERSION == 1
    assert data["catalog"] == {"title": "Deep Learning Compiler Study", "path": "catalog.yaml"}
    assert data["summary"] == {
        "links": 10,
        "ok": 6,
        "redirected": 1,
        "broken": 2,
        "unverified": 1,
        "skipped": 0,
        "duplicated": 1,
        "findings": 4,
    }
    first = data["links"][0]
    assert first["session"] == "2021-02-25-tvm-an-automated-end-to-end-optimizing-compiler"
    assert (first["field"], first["status"], first["size"]) == ("slides", "ok", 2345678)
    assert data["links"][3]["redirects"] == [
        {"url": "http://old.example.org/xla.pdf", "status": 301}
    ]
    assert data["changes"]["newly_broken"][0] == {
        "session": "2021-03-11-xla-optimizing-compiler-for-machine-learning",
        "field": "video",
        "url": "https://youtu.be/_3ykXQH5h2o",
        "line": 19,
    }
    assert data["changes"]["removed_sessions"] == ["2020-01-01-old-talk"]


def test_render_is_utf8_indented_with_trailing_newline():
    report = sample_report()
    report.sessions[0] = SessionInfo("2021-01-01-x", "컴파일러 스터디", "2021-01-01", ("이제민",))
    text = json_report.render(report)
    assert "컴파일러 스터디" in text and "\\u" not in text
    assert text.endswith("}\n") and text.startswith('{\n  "schema_version": 1,')


def test_round_trip_is_lossless():
    report = sample_report()
    again = json_report.from_dict(json.loads(json_report.render(report)))
    assert again == report
    # Changes point at the very results of the rebuilt report, not at copies.
    assert again.changes.newly_broken[0] is again.results[4]
    assert again.changes.removed_sessions == report.changes.removed_sessions


def test_the_vocabulary_reads_back_as_the_models_enums():
    """Finding kinds, severities and fields come back typed, as the checks made them."""
    again = json_report.from_dict(json.loads(json_report.render(sample_report())))
    assert {type(f.kind) for f in again.findings} == {FindingKind}
    assert {type(f.severity) for f in again.findings} == {Severity}
    assert {type(f.field) for f in again.findings} <= {Field, type(None)}
    assert {type(r.link.field) for r in again.results} == {Field}


def test_round_trip_without_changes(tmp_path):
    report = sample_report()
    report.changes = None
    path = tmp_path / "latest.json"
    path.write_text(json_report.render(report), encoding="utf-8")
    assert json_report.load(path) == report


def test_other_schema_version_is_refused():
    data = json_report.to_dict(sample_report())
    data["schema_version"] = 2
    with pytest.raises(ValueError, match=r"schema_version: expected 1, got 2"):
        json_report.from_dict(data)


def _broken(mutate) -> str:
    data = json_report.to_dict(sample_report())
    mutate(data)
    with pytest.raises(ValueError) as info:
        json_report.from_dict(data)
    return str(info.value)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("links"), "report.links: missing"),
        (lambda d: d["links"][2].update(status="fine"), "report.links[2].status: unknown status"),
        (lambda d: d["links"][0].update(size="big"), "report.links[0].size: expected an integer"),
        (lambda d: d["links"][0].update(size=-1), "report.links[0].size: expected 0 or more"),
        (
            # A hand-edited streak of -1000 would hide an escalation for a thousand nights.
            lambda d: d["links"][3].update(consecutive_failures=-1000),
            "report.links[3].consecutive_failures: expected 0 or more, got -1000",
        ),
        (lambda d: d["links"][1].update(field="audio"), "report.links[1].field: 'audio' is not"),
        (lambda d: d["links"].append(7), "report.links[10]: expected an object, got int"),
        (lambda d: d["findings"][0].update(severity="fatal"), "report.findings[0].severity"),
        (lambda d: d["findings"][1].update(kind="typo"), "report.findings[1].kind: 'typo' is not"),
        (lambda d: d["sessions"][0].update(presenters=[1]), "report.sessions[0].presenters[0]"),
        (lambda d: d.update(duration_seconds="fast"), "report.duration_seconds"),
        (lambda d: d["catalog"].pop("title"), "report.catalog.title: missing"),
        (
            lambda d: d["changes"]["newly_broken"][0].update(url="https://nowhere.example/"),
            "report.changes.newly_broken[0]: refers to a link that is not in links",
        ),
    ],
)
def test_garbage_is_a_value_error_naming_the_place(mutate, message):
    assert message in _broken(mutate)


@pytest.mark.parametrize("data", [None, [], "text", 3])
def test_not_an_object(data):
    with pytest.raises(ValueError, match="report"):
        json_report.from_dict(data)


def test_load_names_the_file(tmp_path):
    path = tmp_path / "latest.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"latest\.json: not JSON"):
        json_report.load(path)
    path.write_bytes(b"\xff\xfe garbage")
    with pytest.raises(ValueError, match="not UTF-8"):
        json_report.load(path)


def test_to_dict_does_not_share_state_with_the_report():
    report = sample_report()
    data = json_report.to_dict(report)
    before = copy.deepcopy(report)
    data["links"][0]["redirects"].append({"url": "x", "status": 1})
    data["sessions"][0]["presenters"].append("someone")
    assert report == before


def test_load_reads_links_line_by_line_and_falls_back_for_other_layouts(tmp_path):
    report = sample_report()
    ours = tmp_path / "latest.json"
    ours.write_text(json_report.render(report), encoding="utf-8")
    reindented = tmp_path / "reindented.json"  # as another tool would rewrite it
    reindented.write_text(json.dumps(json.loads(ours.read_text()), indent=4), encoding="utf-8")
    for path in (ours, reindented):
        seen: list[int] = []

        def handle(item, index, seen=seen):
            seen.append(index)

        rest = json_report.read_by_line(path, {"links": handle})
        assert seen == list(range(len(report.results)))  # every link, in order, either way
        assert rest["links"] == [] and rest["generated_at"] == report.generated_at
    skipped = json_report.read_by_line(ours, {"links": None, "findings": None})
    assert skipped["links"] == skipped["findings"] == [] and skipped["sessions"]
    assert json_report.load(ours) == report == json_report.load(reindented)


def test_a_bad_link_line_is_named(tmp_path):
    path = tmp_path / "latest.json"
    lines = json_report.render(sample_report()).splitlines(keepends=True)
    first_link = lines.index('  "links": [\n') + 2  # the second link
    lines[first_link] = lines[first_link].replace('"status": "', '"status": "fine-', 1)
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ValueError, match=r"latest.json: report.links\[1\].status: unknown status"):
        json_report.load(path)


def test_load_for_a_merge_shares_sessions_and_keeps_only_the_findings_asked_for(tmp_path):
    report = sample_report()
    path = tmp_path / "latest.json"
    path.write_text(json_report.render(report), encoding="utf-8")
    first = json_report.load(path)
    kinds = {f.kind for f in report.findings}
    assert len(kinds) > 1
    kept = sorted(kinds)[0]

    again = json_report.load(path, like=first, finding_kinds={kept})
    assert again.sessions == report.sessions
    assert all(a is b for a, b in zip(again.sessions, first.sessions, strict=True))
    assert again.findings == [f for f in report.findings if f.kind == kept]
    assert again.results == report.results

    # A session that differs from the one it stands beside is read as it is, not shared.
    changed = json_report.to_dict(report)
    changed["sessions"][0]["title"] = "Renamed"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(changed), encoding="utf-8")
    read = json_report.load(other, like=first)
    assert read.sessions[0].title == "Renamed" and read.sessions[0] is not first.sessions[0]
    assert read.sessions[1] is first.sessions[1]


def test_a_link_read_back_shares_its_url_with_its_key_and_final_url(tmp_path):
    report = sample_report()
    report.results[0].final_url = report.results[0].link.url  # answered where it was asked
    path = tmp_path / "latest.json"
    path.write_text(json_report.render(report), encoding="utf-8")
    results = json_report.load(path).results
    assert results == report.results
    same = [r for r in results if r.link.key == r.link.url]
    assert same and all(r.link.key is r.link.url for r in same)
    direct = [r for r in results if r.final_url == r.link.url]
    assert direct and all(r.final_url is r.link.url for r in direct)


def test_only_a_regular_file_of_a_sane_size_is_read(tmp_path):
    # (A named pipe and /dev/zero are refused too: tests/test_cli.py, in a bounded process.)
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as fh:  # sparse: no disk used, but more than any report
        fh.truncate(json_report.MAX_REPORT_BYTES + 1)
    with pytest.raises(ValueError, match=r"huge\.json: larger than 512 MiB"):
        json_report.load(huge)
    with pytest.raises(ValueError, match=r": not a regular file but a directory"):
        json_report.load(tmp_path)
    with pytest.raises(ValueError, match=r"gone\.json: cannot read it: No such file"):
        json_report.load(tmp_path / "gone.json")


def test_a_file_that_says_it_is_small_is_still_read_no_further_than_the_cap(tmp_path):
    # Files in /proc say they are empty; what is read is counted, not what stat says.
    path = tmp_path / "latest.json"
    path.write_bytes(b"[" * 64 + b"]" * 64)
    with json_report._Capped(io.FileIO(path), 100) as capped:
        assert capped.read(100) == b"[" * 64 + b"]" * 36
        with pytest.raises(ValueError, match="larger than 512 MiB"):
            capped.read(1)


@pytest.mark.parametrize("layout", ["one line", "a record line"])
def test_json_nested_beyond_the_recursion_limit_is_a_value_error(tmp_path, layout):
    path = tmp_path / "latest.json"
    deep = "[" * 100_000 + "]" * 100_000
    if layout == "one line":
        path.write_text(deep, encoding="utf-8")
    else:
        lines = json_report.render(sample_report()).splitlines(keepends=True)
        lines[lines.index('  "links": [\n') + 1] = f"    {deep},\n"
        path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ValueError, match=r"latest\.json: JSON nested too deeply to be a report"):
        json_report.load(path)
