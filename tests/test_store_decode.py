"""Reading latest.json back (``crawler/store/decode.py``): lossless round trip, clear errors on bad
input."""

from __future__ import annotations

import json

import pytest
from report_samples import sample_report

from crawler.model import Field, FindingKind, Fix, FixKind, FixSource, Severity, Source
from crawler.report import json as json_report
from crawler.store import decode


def test_round_trip_is_lossless():
    report = sample_report()
    again = decode.from_dict(json.loads(json_report.render(report)))
    assert again == report
    # Changes point at the very results of the rebuilt report, not at copies.
    assert again.changes.newly_broken[0] is again.results[4]
    assert again.changes.removed_sessions == report.changes.removed_sessions


def test_the_vocabulary_reads_back_as_the_models_enums():
    """Finding kinds, severities and fields come back typed, as the checks made them."""
    again = decode.from_dict(json.loads(json_report.render(sample_report())))
    assert {type(f.kind) for f in again.findings} == {FindingKind}
    assert {type(f.severity) for f in again.findings} == {Severity}
    assert {type(f.field) for f in again.findings} <= {Field, type(None)}
    assert {type(r.link.field) for r in again.results} == {Field}


def test_round_trip_without_changes(tmp_path):
    report = sample_report()
    report.changes = None
    path = tmp_path / "latest.json"
    path.write_text(json_report.render(report), encoding="utf-8")
    assert decode.load(path) == report


def test_other_schema_version_is_refused():
    data = json_report.to_dict(sample_report())
    data["schema_version"] = 3
    with pytest.raises(ValueError, match=r"schema_version: expected 2, got 3"):
        decode.from_dict(data)


def test_a_version_1_report_is_read_with_its_redirect_fix_typed():
    """Version 1 wrote a fix as text and no catalogue hash: still the next run's memory."""
    data = json_report.to_dict(sample_report())
    data["schema_version"] = 1
    del data["catalog"]["sha256"]
    data["links"][3]["fix"] = "moved permanently — use https://new.example.org/xla.pdf"
    data["links"][4]["fix"] = "check it by hand"  # no URL to use: no fix
    again = decode.from_dict(data)
    assert again.catalog_sha256 is None
    assert again.results[3].fix == Fix(
        "https://new.example.org/xla.pdf", FixKind.CERTAIN, FixSource.REDIRECT
    )
    assert again.results[4].fix is None


def test_a_fix_of_an_unknown_kind_is_refused():
    data = json_report.to_dict(sample_report())
    data["links"][3]["fix"]["kind"] = "probable"
    with pytest.raises(ValueError, match=r"report\.links\[3\]\.fix\.kind: 'probable' is not"):
        decode.from_dict(data)


def _broken(mutate) -> str:
    data = json_report.to_dict(sample_report())
    mutate(data)
    with pytest.raises(ValueError) as info:
        decode.from_dict(data)
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
        decode.from_dict(data)


def test_load_names_the_file(tmp_path):
    path = tmp_path / "latest.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"latest\.json: not JSON"):
        decode.load(path)
    path.write_bytes(b"\xff\xfe garbage")
    with pytest.raises(ValueError, match="not UTF-8"):
        decode.load(path)


def test_a_bad_link_line_is_named(tmp_path):
    path = tmp_path / "latest.json"
    lines = json_report.render(sample_report()).splitlines(keepends=True)
    first_link = lines.index('  "links": [\n') + 2  # the second link
    lines[first_link] = lines[first_link].replace('"status": "', '"status": "fine-', 1)
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(ValueError, match=r"latest.json: report.links\[1\].status: unknown status"):
        decode.load(path)


def test_load_for_a_merge_shares_sessions_and_keeps_only_the_findings_asked_for(tmp_path):
    report = sample_report()
    path = tmp_path / "latest.json"
    path.write_text(json_report.render(report), encoding="utf-8")
    first = decode.load(path)
    kinds = {f.kind for f in report.findings}
    assert len(kinds) > 1
    kept = sorted(kinds)[0]

    again = decode.load(path, like=first, finding_kinds={kept})
    assert again.sessions == report.sessions
    assert all(a is b for a, b in zip(again.sessions, first.sessions, strict=True))
    assert again.findings == [f for f in report.findings if f.kind == kept]
    assert again.results == report.results

    # A session that differs from the one it stands beside is read as it is, not shared.
    changed = json_report.to_dict(report)
    changed["sessions"][0]["title"] = "Renamed"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(changed), encoding="utf-8")
    read = decode.load(other, like=first)
    assert read.sessions[0].title == "Renamed" and read.sessions[0] is not first.sessions[0]
    assert read.sessions[1] is first.sessions[1]


def test_a_link_read_back_shares_its_url_with_its_key_and_final_url(tmp_path):
    report = sample_report()
    report.results[0].final_url = report.results[0].link.url  # answered where it was asked
    path = tmp_path / "latest.json"
    path.write_text(json_report.render(report), encoding="utf-8")
    results = decode.load(path).results
    assert results == report.results
    same = [r for r in results if r.link.key == r.link.url]
    assert same and all(r.link.key is r.link.url for r in same)
    direct = [r for r in results if r.final_url == r.link.url]
    assert direct and all(r.final_url is r.link.url for r in direct)


def test_video_sources_and_run_notes_read_back_and_are_absent_when_unset():
    report = sample_report()
    plain = json.loads(json_report.render(report))
    assert "notes" not in plain and not any("source" in link for link in plain["links"])
    report.results[0].source = Source.API
    report.notes = ["YouTube Data API not used for the rest of this run: quota"]
    data = json.loads(json_report.render(report))
    assert data["links"][0]["source"] == "api" and data["notes"] == report.notes
    again = decode.from_dict(data)
    assert again.results[0].source is Source.API and again.notes == report.notes
    data["links"][0]["source"] = "gossip"
    with pytest.raises(ValueError, match="source"):
        decode.from_dict(data)
