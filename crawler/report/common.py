"""What every report format agrees on: the counts, the list of problems (worst first), units.

Markdown, the GitHub step summary, annotations and the badge all read these, so a problem is
ranked and worded the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass

from crawler.model import (
    Duplicate,
    Field,
    Finding,
    FindingKind,
    FixKind,
    FixSource,
    LinkResult,
    RunReport,
    Severity,
    Status,
)

# How reports and the terminal name a link of each field.
FIELD_LABELS = {Field.SLIDES: "slides", Field.VIDEO: "video", Field.PRESENTER: "homepage"}
# Who points to a fix, as the Fix column says it.
FIX_SOURCES = {
    FixSource.REDIRECT: "permanent redirect",
    FixSource.GITHUB: "GitHub's redirect",
    FixSource.GITHUB_TREE: "a close name in the repository",
    FixSource.WAYBACK: "Wayback Machine snapshot",
}
FIELD_ORDER: dict[Field | None, int] = {field: i for i, field in enumerate((*Field, None))}

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
_FINDING_RANKS = {
    FindingKind.DUPLICATE: RANK_DUPLICATE,
    FindingKind.WRONG_VIDEO: RANK_WRONG_VIDEO,
    FindingKind.ESCALATED: RANK_ESCALATED,
}
_WARNING_ORDER = {
    FindingKind.MISSING_VIDEO: 0,
    FindingKind.MISSING_SLIDES: 1,
    FindingKind.DATE_ORDER: 2,
    FindingKind.DUPLICATE_TITLE: 3,
}


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
    severity: Severity
    kind: Status | FindingKind  # broken, redirected, unverified, or a finding's kind
    session_id: str
    session_title: str
    session_date: str
    field: Field | None
    url: str | None
    what: str  # plain words; untrusted, escape before rendering
    fix: str | None
    line: int
    fix_url: str | None = None  # a URL to show (as a link) after the fix text
    fix_kind: str | None = None  # how sure the fix is and who says so, in plain words


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


def _broken_since(result: LinkResult) -> str:
    """ " (broken since 2026-11-02, 12 nights)": how long the link has been failing (its streak
    may have begun as unverified: a host that stopped answering, then said 404)."""
    if result.consecutive_failures < 1 or not result.first_failed:
        return ""
    n = result.consecutive_failures
    return f" (broken since {day(result.first_failed)}, {n} night{'' if n == 1 else 's'})"


_RESULT_RANKS = {
    Status.BROKEN: RANK_BROKEN,
    Status.REDIRECTED: RANK_REDIRECTED,
    Status.UNVERIFIED: RANK_UNVERIFIED,
}

# What a problem is about: a link's result, or a finding.
Source = LinkResult | Finding


def _finding_rank(f: Finding) -> int:
    if f.kind in _FINDING_RANKS:
        return _FINDING_RANKS[f.kind]
    if f.severity == Severity.ERROR:
        return RANK_OTHER_ERROR
    if f.severity == Severity.WARNING:
        return RANK_WARNING
    return RANK_NOTICE


def ranked(report: RunReport) -> list[Source]:
    """What every problem of the run is about, worst first, then in catalogue order.

    The results and findings themselves, not ``Problem``s: a large catalogue can have tens of
    thousands of problems, and a report that streams them makes each ``Problem`` (``problem``)
    only when it writes its row.
    """
    escalated = {
        (f.session_id, f.field, f.url) for f in report.findings if f.kind == FindingKind.ESCALATED
    }
    out: list[Source] = []
    for r in report.results:
        if r.status not in _RESULT_RANKS:
            continue
        if r.status is Status.UNVERIFIED:
            link = r.link
            if (link.session_id, link.field, link.url) in escalated:
                continue  # the escalated finding says it, louder
            if report.network_unreachable and r.network_error:
                continue  # said once in the header, not once per link
        out.append(r)
    out.extend(report.findings)

    # Rank, then the kind of warning, then catalogue order (session, then field), packed into
    # one int: tens of thousands of problems each had a tuple as their key.
    order = {s.id: i for i, s in enumerate(report.sessions)}
    warnings, positions = len(_WARNING_ORDER) + 1, len(order) + 1
    fields, no_field = len(FIELD_ORDER), FIELD_ORDER[None]

    def sort_key(src: Source) -> int:
        field: Field | None
        if isinstance(src, LinkResult):
            rank, warning = _RESULT_RANKS[src.status], 0
            session_id, field = src.link.session_id, src.link.field
        else:
            rank, session_id, field = _finding_rank(src), src.session_id, src.field
            warning = _WARNING_ORDER.get(src.kind, warnings - 1) if rank >= RANK_WARNING else 0
        position = order.get(session_id, positions - 1)
        place = (rank * warnings + warning) * positions + position
        return place * fields + FIELD_ORDER.get(field, no_field)

    out.sort(key=sort_key)  # stable: ties stay in the order they were found
    return out


def problem(src: Source) -> Problem:
    """The problem ``src`` (one of ``ranked``) stands for."""
    if isinstance(src, Finding):
        return Problem(
            rank=_finding_rank(src),
            severity=src.severity,
            kind=src.kind,
            session_id=src.session_id,
            session_title=src.session_title,
            session_date=src.session_date,
            field=src.field,
            url=src.url,
            what=src.message,
            fix=src.fix,
            line=src.line,
        )
    r, link = src, src.link
    fix, fix_url, fix_kind = None, None, None
    if r.fix:
        fix = "use" if r.fix.kind is FixKind.CERTAIN else "maybe"
        fix_url, fix_kind = r.fix.url, f"{r.fix.kind}: {FIX_SOURCES[r.fix.source]}"
    if r.status is Status.BROKEN:
        severity, kind = Severity.ERROR, Status.BROKEN
        what = f"broken: {r.plain_detail or 'the server says it is gone'}{_broken_since(r)}"
    elif r.status is Status.REDIRECTED:
        severity, kind = Severity.WARNING, Status.REDIRECTED
        what = f"redirected: {r.plain_detail or 'the link moved'}"
        if not fix and r.final_url:
            fix, fix_url = "use", r.final_url
    else:
        severity, kind = Severity.NOTICE, Status.UNVERIFIED
        what = f"could not verify: {r.plain_detail or 'no answer'}{_failing_since(r)}"
    return Problem(
        rank=_RESULT_RANKS[r.status],
        severity=severity,
        kind=kind,
        session_id=link.session_id,
        session_title=link.session_title,
        session_date=link.session_date,
        field=link.field,
        url=link.url,
        what=what,
        fix=fix,
        fix_url=fix_url,
        fix_kind=fix_kind,
        line=link.line,
    )


def problems(report: RunReport) -> list[Problem]:
    """Every problem of the run, worst first, then in catalogue order."""
    return [problem(src) for src in ranked(report)]


def video_seconds(report: RunReport) -> int:
    """Total length of the catalogue's videos, each distinct video counted once."""
    seen: dict[str, int] = {}
    for r in report.results:
        if r.link.field == Field.VIDEO and r.duration:
            seen.setdefault(r.link.key, r.duration)
    return sum(seen.values())
