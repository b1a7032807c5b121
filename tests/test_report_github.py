"""GitHub Actions output: the step summary (appended) and workflow-command annotations."""

from __future__ import annotations

from report_samples import sample_report, simple_report

from crawler.model import Finding, Status
from crawler.report import github


def test_annotations_worst_first_with_file_and_line():
    lines = github.annotations(sample_report())
    assert [line.split(" ", 1)[0] for line in lines] == [
        "::error",  # broken video
        "::error",  # broken slides (hostile session)
        "::error",  # duplicate
        "::error",  # wrong video
        "::warning",  # redirected
        "::notice",  # unverified
        "::warning",  # missing slides
        "::warning",  # date order
    ]
    # Colons are escaped in properties only; the message keeps them.
    assert lines[0] == (
        "::error file=catalog.yaml,line=19,title=broken video link::2021-03-11 "
        '"XLA: Optimizing Compiler for Machine Learning": video https://youtu.be/_3ykXQH5h2o: '
        "broken: Video unavailable (broken since 2026-11-25, 1 night)"
    )
    assert lines[4].startswith("::warning file=catalog.yaml,line=18,title=redirected slides link::")
    assert lines[4].endswith("— fix: use https://new.example.org/xla.pdf")
    assert lines[2].startswith("::error file=catalog.yaml,line=36,title=duplicate video link::")
    assert "same video as 'MobileViT" in lines[2]


def test_properties_and_message_are_escaped():
    report = simple_report({("Talk", "video"): Status.BROKEN})
    report.catalog_path = "dir,with:odd%name.yaml"
    result = report.results[0]
    result.detail = "100% gone\r\nline two\x1b[31m red"
    line = github.annotations(report)[0]
    assert line.startswith("::error file=dir%2Cwith%3Aodd%25name.yaml,line=1,title=broken")
    # One physical line: CR/LF turned into spaces by terminal_safe, % escaped, ANSI gone.
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert "100%25 gone  line two red" in line


def test_finding_without_line_has_no_line_property():
    report = sample_report()
    report.results = []
    report.duplicates = []
    report.findings = [Finding("date-order", "warning", "s", "T", "D", "m")]
    assert github.annotations(report) == ['::warning file=catalog.yaml,title=date-order::D "T": m']


def test_network_unreachable_is_one_warning_not_a_notice_per_link():
    statuses = {(f"Talk {i}", "video"): Status.UNVERIFIED for i in range(30)}
    lines = github.annotations(simple_report(statuses, network_unreachable=True))
    assert lines == [
        "::warning file=catalog.yaml,title=network unreachable::"
        "could not verify 30 links: network unreachable"
    ]


def test_step_summary_has_header_and_attention_but_not_the_catalogue():
    text = github.step_summary(sample_report())
    assert text.startswith("# Link report: Deep Learning Compiler Study\n")
    assert "## Needs attention (8)" in text
    assert "## Catalogue" not in text and "## Changes" not in text


def test_write_step_summary_appends(tmp_path):
    path = tmp_path / "summary.md"
    path.write_text("## Earlier step\n", encoding="utf-8")
    github.write_step_summary(sample_report(), path)
    github.write_step_summary(sample_report(), path)
    text = path.read_text(encoding="utf-8")
    assert text.startswith("## Earlier step\n\n# Link report")
    assert text.count("# Link report: Deep Learning Compiler Study") == 2
