"""write_reports: all three files, written atomically, render-first.

Guarantee under test: a rendering error or a failure while writing the temporary files leaves
every old file untouched and no temporary file behind; each file is replaced atomically.
"""

from __future__ import annotations

import json
import os

import pytest
from report_samples import sample_report

from crawler import report as report_layer
from crawler.report import badge, markdown
from crawler.report import json as json_report
from crawler.store import decode

OLD = {"latest.md": "old md\n", "latest.json": '{"old": true}\n', "badge.json": "old badge\n"}


def _old_reports(directory):
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in OLD.items():
        (directory / name).write_text(text, encoding="utf-8")


def _contents(directory):
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(directory.iterdir())}


def test_writes_all_three_files_creating_the_directory(tmp_path):
    out = tmp_path / "reports" / "nightly"
    report = sample_report()
    paths = report_layer.write_reports(report, out)
    assert sorted(p.name for p in paths) == ["badge.json", "latest.json", "latest.md"]
    assert _contents(out) == {
        "badge.json": badge.render(report),
        "latest.json": json_report.render(report),
        "latest.md": markdown.render(report),
    }
    assert decode.load(out / "latest.json") == report


def test_overwrites_previous_reports(tmp_path):
    _old_reports(tmp_path)
    report_layer.write_reports(sample_report(), tmp_path)
    assert json.loads((tmp_path / "badge.json").read_text())["label"] == "links"
    assert "old md" not in (tmp_path / "latest.md").read_text()


def test_rendering_error_leaves_old_reports_intact(tmp_path, monkeypatch):
    _old_reports(tmp_path)

    def explode(report):
        yield '{\n  "schema_version": 1'
        raise RuntimeError("renderer bug")

    # The JSON is streamed last, into its temp file: it fails halfway through writing.
    monkeypatch.setattr(json_report, "chunks", explode)
    with pytest.raises(RuntimeError, match="renderer bug"):
        report_layer.write_reports(sample_report(), tmp_path)
    assert _contents(tmp_path) == OLD


def test_failure_while_writing_leaves_old_reports_intact_and_no_temp_files(tmp_path, monkeypatch):
    _old_reports(tmp_path)
    real_fsync = os.fsync
    calls = []

    def disk_full_on_third(fd):
        calls.append(fd)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", disk_full_on_third)
    with pytest.raises(OSError, match="No space left"):
        report_layer.write_reports(sample_report(), tmp_path)
    assert _contents(tmp_path) == OLD  # two temp files were complete, yet nothing replaced


def test_failure_between_replacements_keeps_each_file_whole(tmp_path, monkeypatch):
    _old_reports(tmp_path)
    real_replace = os.replace
    calls = []

    def fail_second(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError("device went away")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", fail_second)
    report = sample_report()
    with pytest.raises(OSError, match="device went away"):
        report_layer.write_reports(report, tmp_path)
    after = _contents(tmp_path)
    assert sorted(after) == ["badge.json", "latest.json", "latest.md"]  # no temp files
    # latest.md (first) is new and whole, the rest old and whole; latest.json, which the
    # next run reads, is never newer than the others.
    assert after["latest.md"] == markdown.render(report)
    assert after["badge.json"] == OLD["badge.json"]
    assert after["latest.json"] == OLD["latest.json"]


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path, monkeypatch):
    target = tmp_path / "sub" / "shard-1-of-2.json"
    report_layer.atomic_write(target, "first\n")
    assert target.read_text() == "first\n"

    def refuse(src, dst):
        raise OSError("rename refused")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="rename refused"):
        report_layer.atomic_write(target, "second\n")
    assert target.read_text() == "first\n"
    assert [p.name for p in target.parent.iterdir()] == ["shard-1-of-2.json"]


def test_reports_get_ordinary_file_permissions_not_mkstemps_private_ones(tmp_path):
    import os
    import stat

    old = os.umask(0o022)
    try:
        report_layer.write_reports(sample_report(), tmp_path)
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes == {"latest.md": 0o644, "latest.json": 0o644, "badge.json": 0o644}


def test_atomic_write_streams_pieces_and_a_failing_stream_leaves_the_old_file(tmp_path):
    target = tmp_path / "part.json"
    report_layer.atomic_write(target, json_report.chunks(sample_report()))
    assert target.read_text(encoding="utf-8") == json_report.render(sample_report())

    def broken():
        yield "{"
        raise ValueError("cannot render")

    with pytest.raises(ValueError, match="cannot render"):
        report_layer.atomic_write(target, broken())
    assert target.read_text(encoding="utf-8") == json_report.render(sample_report())
    assert [p.name for p in tmp_path.iterdir()] == ["part.json"]


def test_ctrl_c_during_the_renames_waits_for_the_last_one(tmp_path, monkeypatch):
    """A real SIGINT while the first file is renamed: all three files are the new ones, and
    the interrupt comes after, saying so."""
    import signal

    out = tmp_path / "reports"
    _old_reports(out)
    report = sample_report()
    real_replace = os.replace

    def replace_then_ctrl_c(src, dst):
        real_replace(src, dst)
        os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(report_layer.os, "replace", replace_then_ctrl_c)
    with pytest.raises(report_layer.WrittenThenInterrupted) as caught:
        report_layer.write_reports(report, out)
    assert [p.name for p in caught.value.written] == list(report_layer.FILES)
    assert _contents(out) == {
        "badge.json": badge.render(report),
        "latest.json": json_report.render(report),
        "latest.md": markdown.render(report),
    }
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_stale_temporary_files_of_earlier_runs_are_removed_and_nothing_else(tmp_path):
    """A run killed while writing leaves .latest.json.XXXXXXXX.tmp behind: the next write
    removes such files once they are an hour old, and only those."""
    out = tmp_path / "reports"
    out.mkdir()
    hour_ago = os.path.getmtime(out) - report_layer.STALE_TEMP_S - 60

    def leftover(name: str, *, old: bool) -> os.PathLike:
        path = out / name
        path.write_bytes(b"x" * 4096)
        if old:
            os.utime(path, (hour_ago, hour_ago))
        return path

    stale = [
        leftover(".latest.json.k3j_x9a2.tmp", old=True),
        leftover(".latest.md.abcdefgh.tmp", old=True),
        leftover(".badge.json.12345678.tmp", old=True),
    ]
    kept = [
        leftover(".latest.json.zz9_a0b1.tmp", old=False),  # another run writing it right now
        leftover(".notes.md.abcdefgh.tmp", old=True),  # not a report's
        leftover("latest.json.abcdefgh.tmp", old=True),  # not our pattern (no leading dot)
        leftover(".latest.json.abc.tmp", old=True),
    ]
    (out / ".latest.json.dir00000.tmp").mkdir()  # not a file
    os.utime(out / ".latest.json.dir00000.tmp", (hour_ago, hour_ago))

    report_layer.write_reports(sample_report(), out)
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept)
    assert (out / ".latest.json.dir00000.tmp").is_dir()

    # atomic_write (a shard's report, an imported catalogue) cleans its own file's leftovers.
    shard_leftover = leftover(".shard-1-of-2.json.abcdefgh.tmp", old=True)
    report_layer.atomic_write(out / "shard-1-of-2.json", "{}\n")
    assert not shard_leftover.exists()
    assert kept[0].exists()
