"""``latest.md``: the report a person skims on GitHub.

Order: a header (what, when, one line of counts, loud banners for offline / no network), then
**Needs attention** worst first, then **Changes since the last run**, then the whole
**Catalogue**. Only the header's run line changes from one run to the next when nothing else
did, so the nightly commit diff shows real changes only. Every piece of text that came from the
catalogue or the web goes through ``escape``.
"""

from __future__ import annotations

from collections.abc import Iterable

from crawler.model import LinkResult, RunReport, SessionInfo, Status
from crawler.report import escape
from crawler.report.common import (
    FIELD_LABELS,
    Problem,
    Summary,
    hms,
    human_duration,
    problems,
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


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _table(header: list[str], rows: Iterable[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return lines


def _folded(summary: str, body: list[str], *, open_: bool = False) -> list[str]:
    # GitHub needs blank lines around Markdown inside an HTML block.
    return [
        "<details open>" if open_ else "<details>",
        f"<summary>{summary}</summary>",
        "",
        *body,
        "",
        "</details>",
    ]


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
    return fix


def _attention_rows(items: list[Problem]) -> list[list[str]]:
    return [
        [
            _session_cell(p),
            FIELD_LABELS.get(p.field, "") if p.field else "",
            escape.url(p.url),
            escape.text(p.what),
            _fix_cell(p),
        ]
        for p in items
    ]


ATTENTION_HEADER = ["Session", "Link", "URL", "What is wrong", "Fix"]


def attention(
    report: RunReport, *, visible: int = ATTENTION_VISIBLE, limit: int | None = None
) -> list[str]:
    """The "Needs attention" section: one row per problem, worst first.

    The first ``visible`` rows show, the rest fold into ``<details>``; rows beyond ``limit``
    are left out with a line saying how many (the GitHub step summary has a size cap).
    """
    items = problems(report)
    total = len(items)
    left_out = 0
    if limit is not None and total > limit:
        items, left_out = items[:limit], total - limit
    unreachable = sum(
        1 for r in report.results if r.status is Status.UNVERIFIED and r.network_error
    )
    lines = [f"## Needs attention ({total})", ""]
    if report.network_unreachable and unreachable:
        lines += [
            f"**{_plural(unreachable, 'link')} could not be verified: network unreachable** "
            "(not listed one by one).",
            "",
        ]
    if not items:
        lines.append(
            "Nothing else needs attention."
            if report.network_unreachable
            else "Nothing needs attention."
        )
        return lines
    rows = _attention_rows(items)
    lines += _table(ATTENTION_HEADER, rows[:visible])
    if len(rows) > visible:
        more = _table(ATTENTION_HEADER, rows[visible:])
        lines += ["", *_folded(f"{len(rows) - visible} more", more)]
    if left_out:
        lines += ["", f"… and {left_out} more: see the full report (latest.md)."]
    return lines


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
    if r.link.field == "slides" and r.size:
        extra.append(human_size(r.size))
    if r.link.field == "video" and r.duration:
        extra.append(hms(r.duration))
    if r.note:
        extra.append(escape.text(r.note))
    mark = MARKS[r.status]
    cell = escape.link(label, r.link.url)
    if mark:
        cell = f"{mark} {cell}"
    return cell + "".join(f" · {e}" for e in extra)


def _catalogue_rows(report: RunReport, sessions: list[SessionInfo]) -> list[list[str]]:
    by_session: dict[str, dict[str, LinkResult]] = {}
    for r in report.results:
        if r.link.field in ("slides", "video"):
            by_session.setdefault(r.link.session_id, {}).setdefault(r.link.field, r)
    rows = []
    for s in sessions:
        links = by_session.get(s.id, {})
        video = links.get("video")
        rows.append(
            [
                escape.text(s.date),
                escape.text(s.title),
                escape.text(", ".join(s.presenters)),
                _link_cell(links.get("slides"), "slides"),
                _link_cell(video, (video.title if video and video.title else "video")),
            ]
        )
    return rows


CATALOGUE_HEADER = ["Date", "Session", "Presenters", "Slides", "Video"]


def catalogue(report: RunReport) -> list[str]:
    seconds = video_seconds(report)
    totals = [_plural(len(report.sessions), "session"), _plural(len(report.results), "link")]
    if seconds:
        totals.append(f"{seconds / 3600:.1f} hours of video")
    lines = [f"## Catalogue ({' · '.join(totals)})", ""]
    if not report.sessions:
        return [*lines, "The catalogue has no sessions."]
    if len(report.sessions) <= CATALOGUE_FOLD:
        lines += _table(CATALOGUE_HEADER, _catalogue_rows(report, report.sessions))
    else:
        years: dict[str, list[SessionInfo]] = {}
        for s in report.sessions:
            years.setdefault(s.date[:4] or "undated", []).append(s)
        for year, sessions in years.items():
            rows = _catalogue_rows(report, sessions)
            summary = f"{escape.text(year)} ({_plural(len(sessions), 'session')})"
            lines += [*_folded(summary, _table(CATALOGUE_HEADER, rows)), ""]
        lines.pop()
    return lines if report.offline else [*lines, "", LEGEND]


def render(report: RunReport) -> str:
    """The whole ``latest.md``."""
    sections = [header(report), attention(report), changes(report), catalogue(report)]
    return "\n\n".join("\n".join(section) for section in sections) + "\n"
