"""latest.md: exact rendering (golden file), ordering, hostile input, big catalogues.

The golden file is ``tests/golden/latest.md``. After an intended change to the layout, rerun
with ``UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_report_*.py`` and review the diff.
"""

from __future__ import annotations

import dataclasses

from markdown_it import MarkdownIt
from report_samples import (
    HOSTILE_TITLE,
    PREVIOUS_AT,
    check_golden,
    sample_report,
    simple_report,
)

from crawler.model import Changes, Finding, LinkResult, SessionInfo, Source, Status
from crawler.report import markdown


def md_parser() -> MarkdownIt:
    # HTML enabled on purpose: any raw HTML that got through would show up as html tokens.
    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])


def plain(inline) -> str:
    """What a reader sees of an inline token: its text, markup gone, escapes resolved."""
    return "".join(c.content for c in inline.children or [] if c.type in ("text", "code_inline"))


def table_rows(text: str) -> list[list[str]]:
    """Rows of every table, each as its list of rendered cell texts (via markdown-it tokens)."""
    rows, row = [], None
    tokens = md_parser().parse(text)
    for i, tok in enumerate(tokens):
        if tok.type == "tr_open":
            row = []
        elif tok.type in ("td_open", "th_open"):
            row.append(plain(tokens[i + 1]))
        elif tok.type == "tr_close":
            rows.append(row)
    return rows


def all_tokens(text: str):
    for tok in md_parser().parse(text):
        yield tok
        yield from tok.children or []


def test_golden_latest_md():
    check_golden("latest.md", markdown.render(sample_report()))


def test_needs_attention_lists_worst_first():
    text = markdown.render(sample_report())
    section = text.split("## Needs attention")[1].split("## Changes")[0]
    rows = table_rows(section)[1:]  # skip the header row
    what = [row[3] for row in rows]
    assert [w.split(":")[0] for w in what[:2]] == ["broken", "broken"]
    assert what[2].startswith("same video as 'MobileViT")
    assert what[3] == "the video's title does not match the session"  # wrong video
    assert what[4].startswith("redirected")
    assert what[5].startswith("could not verify")
    assert what[6:] == ["no slides in the catalogue", "dated after the next session | out of order"]
    # The duplicate names the session it repeats, and the redirect its fix.
    assert rows[2][4] == "replace with this session's own video link, or remove it"
    assert rows[4][4] == "use https://new.example.org/xla.pdf (certain: permanent redirect)"


def test_hostile_title_cannot_break_rows_inject_html_or_forge_links():
    text = markdown.render(sample_report())
    rows = table_rows(text)
    # Every table (attention: 5 columns, catalogue: 5 columns) keeps its shape.
    assert rows and all(len(row) == 5 for row in rows)
    # The hostile title arrives in one cell, whole and literal, newline flattened to a space.
    flat = " ".join(HOSTILE_TITLE.split())
    assert any(row[1] == flat for row in rows), "catalogue row shows the title literally"
    assert any(row[0] == f"2022-10-01 · {flat}" for row in rows)

    tokens = list(all_tokens(text))
    assert not [t for t in tokens if t.type in ("html_inline", "html_block")]
    assert not [t for t in tokens if t.type == "image"]
    hrefs = [t.attrs["href"] for t in tokens if t.type == "link_open"]
    assert hrefs and all(h.startswith(("https://", "http://")) for h in hrefs)
    assert not any("javascript" in h or "e.vil" in h for h in hrefs)
    # No emphasis, strikethrough or code came out of the title's markup (the report's own
    # bold labels live outside tables).
    in_cells = list(all_tokens("\n".join(ln for ln in text.splitlines() if ln.startswith("|"))))
    assert not [t for t in in_cells if t.type in ("em_open", "strong_open", "s_open")]
    assert not [t for t in tokens if t.type == "code_inline"]
    # And line by line: a table line has exactly 6 unescaped pipes.
    for line in text.splitlines():
        if line.startswith("| "):
            unescaped = line.replace("\\\\", "").replace("\\|", "")
            assert unescaped.count("|") == 6, line


def test_unsafe_url_is_shown_as_text_not_a_link():
    text = markdown.render(sample_report())
    assert "https://e.vil/a\\|b&lt;script&gt;" in text
    assert "<https://e.vil" not in text


def test_network_unreachable_says_it_once_instead_of_listing_every_link():
    statuses = {(f"Talk {i}", "video"): Status.UNVERIFIED for i in range(50)}
    statuses[("Talk 0", "slides")] = Status.OK
    report = simple_report(statuses, network_unreachable=True)
    text = markdown.render(report)
    assert text.count("Could not verify: network unreachable") == 1
    assert "**50 links could not be verified: network unreachable**" in text
    attention = text.split("## Needs attention")[1].split("## Changes")[0]
    assert "could not verify:" not in attention  # no per-link rows
    assert "Needs attention (0)" in text


def test_offline_run_says_links_were_not_checked():
    report = simple_report({("Talk", "video"): Status.SKIPPED}, offline=True)
    text = markdown.render(report)
    assert "**1 link, not checked online** (offline run)" in text
    assert "Offline run: links were not checked online." in text
    assert "Needs attention (0)" in text


def test_changes_section_first_run_and_no_changes():
    report = simple_report({("Talk", "video"): Status.OK})
    assert "First run: nothing to compare with yet." in markdown.render(report)
    report.changes = Changes(baseline_at=PREVIOUS_AT)
    text = markdown.render(report)
    assert "## Changes since the last run\n\nNo changes." in text
    assert "compared with the run of 2026-11-24 03:16 UTC" in text


def test_catalogue_shows_sizes_durations_and_totals():
    text = markdown.render(sample_report())
    assert "## Catalogue (5 sessions · 10 links · 1.1 hours of video)" in text
    assert "· 2.3 MB" in text
    assert "[TVM: End-to-End \\[talk\\]](<https://youtu.be/wzy1QMci_Zs>) · 1:02:05" in text
    assert "· 0:00:59 · age-restricted" in text


def test_only_the_run_line_changes_between_identical_runs():
    first = sample_report()
    second = dataclasses.replace(
        sample_report(), generated_at="2026-11-26T04:00:00Z", duration_seconds=3700
    )
    second.changes.baseline_at = "2026-11-25T03:17:00Z"
    a, b = markdown.render(first).splitlines(), markdown.render(second).splitlines()
    differing = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    assert differing == [2]
    assert b[2].startswith("Checked 2026-11-26 04:00 UTC · took 1 h 01 min")


def test_big_catalogue_folds_per_year_and_keeps_rows_intact():
    sessions, results = [], []
    base = simple_report({("x", "video"): Status.OK})
    template = base.results[0]
    for i in range(2500):
        year = 2000 + i // 100
        s = SessionInfo(f"{year}-01-01-talk-{i}", f"Talk {i}", f"{year}-01-01", ("P",))
        sessions.append(s)
        link = dataclasses.replace(
            template.link,
            session_id=s.id,
            session_title=s.title,
            session_date=s.date,
            key=f"video-{i}",
        )
        status = Status.BROKEN if i % 100 == 0 else Status.OK
        results.append(LinkResult(link, status, "x", duration=60))
    report = dataclasses.replace(base, sessions=sessions, results=results)
    text = markdown.render(report)
    assert "## Catalogue (2500 sessions · 2500 links · 41.7 hours of video)" in text
    assert text.count("<summary>2003 (100 sessions)</summary>") == 1
    assert text.count("<details>") == 25
    assert "## Needs attention (25)" in text
    rows = table_rows(text)
    assert all(len(row) == 5 for row in rows)
    assert len(rows) == 2500 + 25 + 25 + 1  # rows + year headers + attention rows + header


def test_long_attention_list_folds_after_the_first_rows():
    statuses = {(f"Talk {i}", "video"): Status.BROKEN for i in range(60)}
    text = markdown.render(simple_report(statuses))
    assert "## Needs attention (60)" in text
    assert "<summary>10 more</summary>" in text
    attention = text.split("## Needs attention")[1].split("## Changes")[0]
    assert len(table_rows(attention)) == 60 + 2


def test_step_summary_limit_leaves_a_pointer():
    statuses = {(f"Talk {i}", "video"): Status.BROKEN for i in range(12)}
    lines = markdown.attention(simple_report(statuses), visible=5, limit=8)
    assert lines[-1] == "… and 4 more: see the full report (latest.md)."
    assert len(table_rows("\n".join(lines))) == 8 + 2


def test_escalated_link_is_listed_once_as_escalated_above_redirects():
    report = simple_report(
        {("Slow", "video"): Status.UNVERIFIED, ("Moved", "slides"): Status.REDIRECTED}
    )
    slow = report.results[0].link
    report.findings = [
        Finding(
            "escalated",
            "error",
            slow.session_id,
            slow.session_title,
            slow.session_date,
            "unverified for 3 consecutive runs since 2026-11-22: timed out",
            field="video",
            url=slow.url,
            line=slow.line,
        )
    ]
    rows = table_rows("\n".join(markdown.attention(report)))[1:]
    assert [row[3] for row in rows] == [
        "unverified for 3 consecutive runs since 2026-11-22: timed out",
        "redirected: redirected detail",
    ]


def test_a_run_note_heads_the_report_and_video_sources_are_counted():
    report = simple_report({("Talk", "video"): Status.OK, ("Other", "video"): Status.OK})
    report.results[0].source = Source.API
    report.results[1].source = Source.OEMBED
    report.notes = ["YouTube Data API not used for the rest of this run: the key is not valid"]
    text = markdown.render(report)
    header = text.split("## Needs attention")[0]
    assert "> [!WARNING]\n> YouTube Data API not used for the rest of this run" in header
    assert "Video verdicts: 1 from the YouTube Data API · 1 from YouTube's oEmbed" in text
    # The weaker answer is marked on its row.
    assert [line.count("via oEmbed") for line in text.splitlines() if "| Other |" in line] == [1]
