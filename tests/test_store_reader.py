"""Reading a report file (``crawler/store/reader.py``): line by line, a regular file of a sane
size, JSON of a sane depth."""

from __future__ import annotations

import io
import json

import pytest
from report_samples import sample_report

from crawler.infile import Capped
from crawler.report import json as json_report
from crawler.store import decode, reader


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

        rest = reader.read_by_line(path, {"links": handle})
        assert seen == list(range(len(report.results)))  # every link, in order, either way
        assert rest["links"] == [] and rest["generated_at"] == report.generated_at
    skipped = reader.read_by_line(ours, {"links": None, "findings": None})
    assert skipped["links"] == skipped["findings"] == [] and skipped["sessions"]
    assert decode.load(ours) == report == decode.load(reindented)


def test_only_a_regular_file_of_a_sane_size_is_read(tmp_path):
    # (A named pipe and /dev/zero are refused too: tests/test_cli.py, in a bounded process.)
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as fh:  # sparse: no disk used, but more than any report
        fh.truncate(reader.MAX_REPORT_BYTES + 1)
    with pytest.raises(ValueError, match=r"huge\.json: larger than 512 MiB"):
        decode.load(huge)
    with pytest.raises(ValueError, match=r": not a regular file but a directory"):
        decode.load(tmp_path)
    with pytest.raises(ValueError, match=r"gone\.json: cannot read it: No such file"):
        decode.load(tmp_path / "gone.json")


def test_a_file_that_says_it_is_small_is_still_read_no_further_than_the_cap(tmp_path):
    # Files in /proc say they are empty; what is read is counted, not what stat says.
    path = tmp_path / "latest.json"
    path.write_bytes(b"[" * 64 + b"]" * 64)
    with Capped(io.FileIO(path), 100, reader._too_large) as capped:
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
        decode.load(path)
