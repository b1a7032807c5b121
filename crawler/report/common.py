"""What every report format agrees on: the counts, the list of problems (worst first), units.

Markdown, the GitHub step summary, annotations and the badge all read these, so a problem is
ranked and worded the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from crawler.model import Duplicate, LinkResult, RunReport, Status

FIELD_LABELS = {"slides": "slides", "video": "video", "presenter": "homepage"}
FIELD_ORDER = {"slides": 0, "video": 1, "presenter": 2, None: 3}

# Rank of a problem in "Needs attention" (lower = listed first).
RANK_BROKEN = 0
RANK_DUPLICATE = 1
RANK_WRONG_VIDEO = 2
RANK_ESCALATED = 3
RANK_OTHER_ERROR = 4
RANK_REDIRECTED = 5
RANK_UNVERIFIED = 6
RANK_WARNING = 7
RANK_NOTICE = 8
_FINDING_RANKS = {"duplicate": RANK_DUPLICATE, "wrong-video": RANK_WRONG_VIDEO}
_WARNING_ORDER = {"missing-video": 0, "missing-slides": 1, "date-order": 2, "duplicate-title": 3}


@dataclass(frozen=True)
class Summary:
    links: int
    ok: int
    redirected: int
    broken: int
    unverified: int
    skipped: int
    duplicated: int  # links repeating one used earlier (a group of 3 counts 2)
    findings: int

    @property
    def checked(self) -> int:
        """Links that were looked at online (everything but skipped)."""
        return self.links - self.skipped


@dataclass(frozen=True, slots=True)
class Problem:
    """One row of "Needs attention" and one GitHub annotation."""

    rank: int
    severity: str  # "error" | "warning" | "notice"
    kind: str  # "broken", "redirected", "unverified", or a Finding kind
    session_id: str
    session_title: str
    session_date: str
    field: str | None
    url: str | None
    what: str  # plain words; untrusted, escape before rendering
    fix: str | None
    line: int
    fix_url: str | None = None  # a URL to show (as a link) after the fix text


def duplicate_size(dup: Duplicate) -> int:
    return len(dup.links) or len(dup.sessions) or len(dup.urls)


def summarize(report: RunReport) -> Summary:
    counts = {status: 0 for status in Status}
    for result in report.results:
        counts[result.status] += 1
    return Summary(
        links=len(report.results),
        ok=counts[Status.OK],
        redirected=counts[Status.REDIRECTED],
        broken=counts[Status.BROKEN],
        unverified=counts[Status.UNVERIFIED],
        skipped=counts[Status.SKIPPED],
        duplicated=sum(max(duplicate_size(d) - 1, 0) for d in report.duplicates),
        findings=len(report.findings),
    )


def short_title(title: str, limit: int = 40) -> str:
    title = " ".join(title.split())
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"


def hms(seconds: float | None) -> str:
    """``h:mm:ss`` (``0:04:05``); empty for unknown."""
    if seconds is None:
        return ""
    total = max(round(seconds), 0)
    return f"{total // 3600}:{total % 3600 // 60:02d}:{total % 60:02d}"


def human_duration(seconds: float) -> str:
    """How long a run took: ``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    total = max(round(seconds), 0)
    if total < 60:
        return f"{total} s"
    if total < 3600:
        return f"{total // 60} min {total % 60:02d} s"
    return f"{total // 3600} h {total % 3600 // 60:02d} min"


def when(iso: str | None) -> str:
    """``2026-11-25T03:17:00Z`` -> ``2026-11-25 03:17 UTC``; anything else as given."""
    if not iso:
        return ""
    if len(iso) >= 16 and iso[10] == "T":
        return f"{iso[:10]} {iso[11:16]} UTC"
    return iso


def day(iso: str | None) -> str:
    return (iso or "")[:10]


def _failing_since(result: LinkResult) -> str:
    if result.consecutive_failures > 1 and result.first_failed:
        return (
            f" (failing for {result.consecutive_failures} runs, since {day(result.first_failed)})"
        )
    return ""


_PROBLEM_STATUSES = frozenset({Status.BROKEN, Status.REDIRECTED, Status.UNVERIFIED})


def problems(report: RunReport) -> list[Problem]:
    """Every problem of the run, worst first, then in catalogue order."""
    order = {s.id: i for i, s in enumerate(report.sessions)}
    out: list[Problem] = []
    escalated = {(f.session_id, f.field, f.url) for f in report.findings if f.kind == "escalated"}

    for r in report.results:
        if r.status not in _PROBLEM_STATUSES:
            continue
        link = r.link
        base = dict(
            session_id=link.session_id,
            session_title=link.session_title,
            session_date=link.session_date,
            field=link.field,
            url=link.url,
            line=link.line,
        )
        if r.status is Status.BROKEN:
            out.append(
                Problem(
                    rank=RANK_BROKEN,
                    severity="error",
                    kind="broken",
                    what=f"broken: {r.detail or 'the server says it is gone'}{_failing_since(r)}",
                    fix=r.fix,
                    **base,
                )
            )
        elif r.status is Status.REDIRECTED:
            fix, fix_url = r.fix, None
            if not fix and r.final_url:
                fix, fix_url = "use", r.final_url
            out.append(
                Problem(
                    rank=RANK_REDIRECTED,
                    severity="warning",
                    kind="redirected",
                    what=f"redirected: {r.detail or 'the link moved'}",
                    fix=fix,
                    fix_url=fix_url,
                    **base,
                )
            )
        elif r.status is Status.UNVERIFIED:
            if (link.session_id, link.field, link.url) in escalated:
                continue  # the escalated finding says it, louder
            if report.network_unreachable and r.network_error:
                continue  # said once in the header, not once per link
            out.append(
                Problem(
                    rank=RANK_UNVERIFIED,
                    severity="notice",
                    kind="unverified",
                    what=f"could not verify: {r.detail or 'no answer'}{_failing_since(r)}",
                    fix=r.fix,
                    **base,
                )
            )

    for f in report.findings:
        if f.kind in _FINDING_RANKS:
            rank = _FINDING_RANKS[f.kind]
        elif f.kind == "escalated":
            rank = RANK_ESCALATED
        elif f.severity == "error":
            rank = RANK_OTHER_ERROR
        elif f.severity == "warning":
            rank = RANK_WARNING
        else:
            rank = RANK_NOTICE
        out.append(
            Problem(
                rank=rank,
                severity=f.severity,
                kind=f.kind,
                session_id=f.session_id,
                session_title=f.session_title,
                session_date=f.session_date,
                field=f.field,
                url=f.url,
                what=f.message,
                fix=f.fix,
                line=f.line,
            )
        )

    def sort_key(p: Problem) -> tuple:
        return (
            p.rank,
            _WARNING_ORDER.get(p.kind, len(_WARNING_ORDER)) if p.rank >= RANK_WARNING else 0,
            order.get(p.session_id, len(order)),
            FIELD_ORDER.get(p.field, 3),
        )

    out.sort(key=sort_key)  # stable: ties stay in the order they were found
    return out


def video_seconds(report: RunReport) -> int:
    """Total length of the catalogue's videos, each distinct video counted once."""
    seen: dict[str, int] = {}
    for r in report.results:
        if r.link.field == "video" and r.duration:
            seen.setdefault(r.link.key, r.duration)
    return sum(seen.values())
