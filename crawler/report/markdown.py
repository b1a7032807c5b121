"""``latest.md``: the report a person skims on GitHub.

Order: a header (what, when, one line of counts, loud banners for offline / no network), then
**Needs attention** worst first, then **Changes since the last run**, **Health over time**
(a chart of the last runs' counts), then the whole **Catalogue**. Only the header's run line
changes from one run to the next when nothing else did, so the nightly commit diff shows real
changes only. Every piece of text that came from the
catalogue or the web goes through ``escape``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from crawler.model import Field, LinkResult, RunReport, SessionInfo, Source, Status
from crawler.report import escape
from crawler.report.chart import trend_section
from crawler.report.common import (
    FIELD_LABELS,
    Problem,
    Summary,
    hms,
    human_duration,
    problem,
    ranked,
    summarize,
    video_seconds,
    when,
)
from crawler.units import human_size

# Above this many rows a table shows its first rows and folds the rest into <details>.
ATTENTION_VISIBLE = 50
LIST_VISIBLE = 20
# Above this many sessions the catalogue is folded per year.
CATALOGUE_FOLD = 50

MARKS = {
    Status.OK: "✅",
    Status.REDIRECTED: "↪️",
    Status.BROKEN: "❌",
    Status.UNVERIFIED: "❔",
    Status.SKIPPED: "",
}
LEGEND = "✅ ok · ↪️ redirected · ❌ broken · ❔ unverified (could not check)"
SOURCE_WORDS = {
    Source.API: "the YouTube Data API",
    Source.YT_DLP: "yt-dlp",
    Source.OEMBED: "YouTube's oEmbed",
    Source.PREVIOUS: "a recent run's metadata",
}


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _table_head(header: list[str]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]


def _folded_open(summary: str) -> list[str]:
    # GitHub needs blank lines around Markdown inside an HTML block.
    return ["<details>", f"<summary>{summary}</summary>", ""]


_FOLDED_CLOSE = ("", "</details>")


def _folded(summary: str, body: list[str]) -> list[str]:
    return [*_folded_open(summary), *body, *_FOLDED_CLOSE]


def counts_line(s: Summary, report: RunReport) -> str:
    if report.offline:
        return f"**{_plural(s.links, 'link')}, not checked online** (offline run)" + (
            f" · {s.duplicated} duplicated" if s.duplicated else ""
        )
    parts = [
        f"{s.ok} ok",
        f"{s.broken} broken",
        f"{s.duplicated} duplicated",
        f"{s.redirected} redirected",
        f"{s.unverified} unverified",
    ]
    if s.skipped:
        parts.append(f"{s.skipped} skipped")
    return f"**{_plural(s.checked, 'link')} checked:** " + " · ".join(parts)


def header(report: RunReport) -> list[str]:
    """Title, the run line (the only volatile line), counts and banners."""
    s = summarize(report)
    run = [
        f"Checked {when(report.generated_at)}",
        f"took {human_duration(report.duration_seconds)}",
        f"crawler {escape.text(report.version)}",
    ]
    if report.changes is not None and report.changes.baseline_at:
        run.append(f"compared with the run of {when(report.changes.baseline_at)}")
    lines = [
        f"# Link report: {escape.text(report.catalog_title or report.catalog_path)}",
        "",
        " · ".join(run),
        "",
        counts_line(s, report),
    ]
    if report.shard:
        lines += [
            "",
            f"> Partial report: shard {escape.text(report.shard)} of the catalogue's links.",
        ]
    if report.offline:
        lines += [
            "",
            "> [!NOTE]",
            "> **Offline run: links were not checked online.** Only the catalogue itself was "
            "checked (duplicates, missing links, dates).",
        ]
    for note in report.notes:
        lines += ["", "> [!WARNING]", f"> {escape.text(note)}"]
    if report.network_unreachable:
        lines += [
            "",
            "> [!CAUTION]",
            "> **Could not verify: network unreachable.** The crawler could not reach the "
            "internet, so links it could not check are marked unverified, not broken.",
        ]
    return lines


def _session_cell(p: Problem) -> str:
    return f"{escape.text(p.session_date)} · {escape.text(p.session_title)}"


def _fix_cell(p: Problem) -> str:
    fix = escape.text(p.fix) if p.fix else ""
    if p.fix_url:
        fix = f"{fix} {escape.url(p.fix_url)}".strip()
    if p.fix_kind:
        fix += f" ({escape.text(p.fix_kind)})"
    return fix


def _attention_row(p: Problem) -> list[str]:
    return [
        _session_cell(p),
        FIELD_LABELS.get(p.field, "") if p.field else "",
        escape.url(p.url),
        escape.text(p.what),
        _fix_cell(p),
    ]


def _row_line(row: list[str]) -> str:
    return "| " + " | ".join(cell or " " for cell in row) + " |"


ATTENTION_HEADER = ["Session", "Link", "URL", "What is wrong", "Fix"]


def attention(
    report: RunReport, *, visible: int = ATTENTION_VISIBLE, limit: int | None = None
) -> list[str]:
    """The "Needs attention" section: one row per problem, worst first.

    The first ``visible`` rows show, the rest fold into ``<details>``; rows beyond ``limit``
    are left out with a line saying how many (the GitHub step summary has a size cap).
    """
    return list(_attention_lines(report, visible=visible, limit=limit))


def _attention_lines(
    report: RunReport, *, visible: int = ATTENTION_VISIBLE, limit: int | None = None
) -> Iterator[str]:
    # Lazily, row by row: at 100,000 links there can be 50,000 rows, and ``render`` streams
    # them to the file instead of holding every row, line and the whole text at once.
    items = ranked(report)  # each row's Problem is made as the row is written
    total = len(items)
    left_out = 0
    if limit is not None and total > limit:
        items, left_out = items[:limit], total - limit
    unreachable = sum(
        1 for r in report.results if r.status is Status.UNVERIFIED and r.network_error
    )
    yield f"## Needs attention ({total})"
    yield ""
    if report.network_unreachable and unreachable:
        yield (
            f"**{_plural(unreachable, 'link')} could not be verified: network unreachable** "
            "(not listed one by one)."
        )
        yield ""
    if not items:
        yield (
            "Nothing else needs attention."
            if report.network_unreachable
            else "Nothing needs attention."
        )
        return
    yield from _table_head(ATTENTION_HEADER)
    for src in items[:visible]:
        yield _row_line(_attention_row(problem(src)))
    if len(items) > visible:
        yield ""
        yield from _folded_open(f"{len(items) - visible} more")
        yield from _table_head(ATTENTION_HEADER)
        for src in items[visible:]:
            yield _row_line(_attention_row(problem(src)))
        yield from _FOLDED_CLOSE
    if left_out:
        yield ""
        yield f"… and {left_out} more: see the full report (latest.md)."


def _result_item(r: LinkResult) -> str:
    label = FIELD_LABELS.get(r.link.field, r.link.field)
    return (
        f"{escape.text(r.link.session_date)} · {escape.text(r.link.session_title)} — "
        f"{label} {escape.url(r.link.url)}"
    )


def _session_item(s: SessionInfo) -> str:
    return f"{escape.text(s.date)} · {escape.text(s.title)}"


def _bullets(title: str, items: list[str]) -> list[str]:
    if not items:
        return []
    bullets = [f"- {item}" for item in items]
    if len(bullets) > LIST_VISIBLE:
        return [f"**{title} ({len(items)}):**", "", *_folded("show all", bullets), ""]
    return [f"**{title} ({len(items)}):**", "", *bullets, ""]


def changes(report: RunReport) -> list[str]:
    lines = ["## Changes since the last run", ""]
    c = report.changes
    if c is None or c.baseline_at is None:
        return [*lines, "First run: nothing to compare with yet."]
    body = (
        _bullets("Newly broken", [_result_item(r) for r in c.newly_broken])
        + _bullets("Recovered", [_result_item(r) for r in c.recovered])
        + _bullets("New sessions", [_session_item(s) for s in c.new_sessions])
        + _bullets("Removed sessions", [_session_item(s) for s in c.removed_sessions])
    )
    if not body:
        return [*lines, "No changes."]
    while body and body[-1] == "":
        body.pop()
    return lines + body


def _link_cell(r: LinkResult | None, label: str) -> str:
    if r is None:
        return "—"
    extra = []
    if r.link.field == Field.SLIDES and r.size:
        extra.append(human_size(r.size))
    if r.link.field == Field.VIDEO and r.duration:
        extra.append(hms(r.duration))
    if r.note:
        extra.append(escape.text(r.note))
    if r.source is Source.OEMBED:  # yt-dlp was refused: a weaker answer, without a duration
        extra.append("via oEmbed")
    mark = MARKS[r.status]
    cell = escape.link(label, r.link.url)
    if mark:
        cell = f"{mark} {cell}"
    return cell + "".join(f" · {e}" for e in extra)


def _catalogue_lines(
    sessions: Iterable[SessionInfo],
    slides: dict[str, LinkResult],
    videos: dict[str, LinkResult],
) -> Iterator[str]:
    yield from _table_head(CATALOGUE_HEADER)
    for s in sessions:
        video = videos.get(s.id)
        row = [
            escape.text(s.date),
            escape.text(s.title),
            escape.text(", ".join(s.presenters)),
            _link_cell(slides.get(s.id), "slides"),
            _link_cell(video, (video.title if video and video.title else "video")),
        ]
        yield _row_line(row)


CATALOGUE_HEADER = ["Date", "Session", "Presenters", "Slides", "Video"]


def _catalogue(report: RunReport) -> Iterator[str]:
    seconds = video_seconds(report)
    totals = [_plural(len(report.sessions), "session"), _plural(len(report.results), "link")]
    if seconds:
        totals.append(f"{seconds / 3600:.1f} hours of video")
    yield f"## Catalogue ({' · '.join(totals)})"
    yield ""
    if not report.sessions:
        yield "The catalogue has no sessions."
        return
    # Each session's first slides and first video, indexed once for the whole table (not once
    # per year: that was quadratic in practice, 10 s at 100,000 links).
    slides: dict[str, LinkResult] = {}
    videos: dict[str, LinkResult] = {}
    for r in report.results:
        field = r.link.field
        if field == Field.SLIDES:
            slides.setdefault(r.link.session_id, r)
        elif field == Field.VIDEO:
            videos.setdefault(r.link.session_id, r)
    if len(report.sessions) <= CATALOGUE_FOLD:
        yield from _catalogue_lines(report.sessions, slides, videos)
    else:
        years: dict[str, list[SessionInfo]] = {}
        for s in report.sessions:
            years.setdefault(s.date[:4] or "undated", []).append(s)
        for index, (year, sessions) in enumerate(years.items()):
            if index:
                yield ""
            summary = f"{escape.text(year)} ({_plural(len(sessions), 'session')})"
            yield from _folded_open(summary)
            yield from _catalogue_lines(sessions, slides, videos)
            yield from _FOLDED_CLOSE
    if not report.offline:
        yield ""
        yield LEGEND
        sources = Counter(r.source for r in report.results if r.source is not None)
        if sources:
            yield ""
            yield "Video verdicts: " + " · ".join(
                f"{sources[s]} from {SOURCE_WORDS[s]}" for s in Source if sources[s]
            )


def chunks(report: RunReport) -> Iterator[str]:
    """``latest.md`` in pieces, section by section and line by line (see ``render``)."""
    sections: list[Iterable[str]] = [
        header(report),
        _attention_lines(report),
        changes(report),
        trend_section(report.trend),
        _catalogue(report),
    ]
    for index, section in enumerate(sections):
        if not section:  # a section with nothing to say (no trend yet) is left out
            continue
        if index:
            yield "\n\n"
        for number, line in enumerate(section):
            yield "\n" + line if number else line
    yield "\n"


def render(report: RunReport) -> str:
    """The whole ``latest.md``."""
    return "".join(chunks(report))
