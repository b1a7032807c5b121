"""The records every stage shares: one status vocabulary, one result per link, one finding type.

Shaped once here so that checks (``services/``), findings, history and every report format
speak the same language.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from crawler.hosts import LinkKind


class Field(enum.StrEnum):
    """Where a link sits in its session, in the order a session lists them."""

    SLIDES = "slides"
    VIDEO = "video"
    PRESENTER = "presenter"  # a presenter's homepage


class Status(enum.StrEnum):
    """The only verdicts a link can get.

    ``broken`` is reserved for a definitive answer from a server (404/410, a soft-404 page,
    a ``.pdf`` that is not a PDF, "Video unavailable"); anything we could not get a definitive
    answer for is ``unverified``.
    """

    OK = "ok"
    REDIRECTED = "redirected"
    BROKEN = "broken"
    UNVERIFIED = "unverified"
    SKIPPED = "skipped"


class Source(enum.StrEnum):
    """Which of a video's sources gave its verdict (``LinkResult.source``), in the order they
    are asked: the YouTube Data API (with a key), yt-dlp, YouTube's oEmbed, and a recent run's
    metadata confirmed by a cheap probe."""

    API = "api"
    YT_DLP = "yt-dlp"
    OEMBED = "oembed"
    PREVIOUS = "previous"


# Statuses worst first (0 the worst): the order problems are listed in, and which status
# colours a badge. Not to be confused with ``Severity``, the weight of a finding.
STATUS_RANK: dict[Status, int] = {
    Status.BROKEN: 0,
    Status.REDIRECTED: 1,
    Status.UNVERIFIED: 2,
    Status.SKIPPED: 3,
    Status.OK: 4,
}


class FixKind(enum.StrEnum):
    """How sure a fix is: ``certain`` when the host itself points to the new place (a permanent
    redirect, a moved deck, a renamed branch), ``suggested`` for a guess a person confirms."""

    CERTAIN = "certain"
    SUGGESTED = "suggested"


class FixSource(enum.StrEnum):
    """Who pointed to the fix."""

    REDIRECT = "redirect"  # a permanent redirect (301/308), SlideShare's move included
    GITHUB = "github"  # github.com's redirect for a renamed branch or a moved repository
    GITHUB_TREE = "github-tree"  # a close name in the repository's tree ("did you mean")
    WAYBACK = "wayback"  # the newest Wayback Machine snapshot


@dataclass(frozen=True, slots=True)
class Fix:
    """The URL a link should become; ``crawler fix`` writes it into the catalogue."""

    url: str
    kind: FixKind
    source: FixSource


@dataclass(frozen=True, slots=True)
class Link:
    """One URL of the catalogue, where it stands and what it is."""

    session_id: str
    session_title: str
    session_date: str  # ISO date, kept as text so records serialise without fuss
    field: Field
    url: str  # byte-for-byte as written in the catalogue
    kind: LinkKind
    key: str  # canonical identity, used to spot duplicates (see links.canonical_key)
    line: int = 0  # 1-based line in the catalogue file, 0 when unknown
    column: int = 0


@dataclass(frozen=True, slots=True)
class Hop:
    """One step of a redirect chain the crawler followed itself."""

    url: str
    status: int


@dataclass(slots=True)
class LinkResult:
    """The verdict on one link, with everything a report needs to explain it."""

    link: Link
    status: Status
    detail: str  # plain words: why this status
    http_status: int | None = None
    final_url: str | None = None
    # An immutable empty default: one shared () instead of an empty list on every result.
    redirects: Sequence[Hop] = ()
    fix: Fix | None = None  # the URL to use instead, when one is known
    title: str | None = None  # video or deck title, PDF file name
    duration: int | None = None  # seconds, videos only
    uploader: str | None = None
    upload_date: str | None = None  # YYYYMMDD as yt-dlp gives it
    size: int | None = None  # bytes, PDFs
    note: str | None = None  # extra information that is not a problem ("age-restricted")
    # True when the failure was the network itself (DNS, connect, timeout, proxy), not a
    # server's answer: lets the run say once "network unreachable" instead of 50 failures.
    network_error: bool = False
    # Filled by history.py from the previous report.
    first_failed: str | None = None
    consecutive_failures: int = 0
    # When title/duration were fetched (UTC ISO); lets the next run reuse them while fresh.
    metadata_fetched_at: str | None = None
    # The crawler's own words when ``detail`` also quotes another tool's message (yt-dlp's,
    # with its advice to its own users: cookies flags, FAQ links): what reports and the
    # terminal show. latest.json keeps both.
    reason: str | None = None
    source: Source | None = None  # videos: which source gave the verdict
    # A remark about the whole run that came up while checking this link (the YouTube Data
    # API key refused): said once by the summary and the report header, not stored per link.
    run_note: str | None = None

    @property
    def plain_detail(self) -> str:
        """What the report's "What is wrong" and the terminal say about this link."""
        return self.reason or self.detail


class Severity(enum.StrEnum):
    """How loud a finding is: an error fails the run (exit 1), the others are reported."""

    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"


class FindingKind(enum.StrEnum):
    """What a finding is about (the ``kind`` latest.json writes)."""

    DUPLICATE = "duplicate"  # a slides or video link used again
    WRONG_VIDEO = "wrong-video"  # the video's title shares nothing with the talk's
    MISSING_SLIDES = "missing-slides"
    MISSING_VIDEO = "missing-video"
    DATE_ORDER = "date-order"  # a session listed before an earlier one
    DUPLICATE_TITLE = "duplicate-title"
    ESCALATED = "escalated"  # unverified for ``--fail-after`` runs in a row


@dataclass(frozen=True, slots=True)
class Finding:
    """A problem that is about the catalogue rather than about one server's answer."""

    kind: FindingKind
    severity: Severity
    session_id: str
    session_title: str
    session_date: str
    message: str
    field: Field | None = None
    url: str | None = None
    fix: str | None = None
    line: int = 0

    @classmethod
    def on_link(
        cls,
        link: Link,
        kind: FindingKind,
        severity: Severity,
        message: str,
        fix: str | None = None,
    ) -> Finding:
        """A finding about one link, placed on its line of the catalogue."""
        return cls(
            kind=kind,
            severity=severity,
            session_id=link.session_id,
            session_title=link.session_title,
            session_date=link.session_date,
            message=message,
            field=link.field,
            url=link.url,
            fix=fix,
            line=link.line,
        )

    @classmethod
    def on_session(
        cls,
        session: SessionInfo,
        kind: FindingKind,
        severity: Severity,
        message: str,
        fix: str | None = None,
        field: Field | None = None,
    ) -> Finding:
        """A finding about a whole session, placed on the line where it starts."""
        return cls(
            kind=kind,
            severity=severity,
            session_id=session.id,
            session_title=session.title,
            session_date=session.date,
            message=message,
            field=field,
            fix=fix,
            line=session.line,
        )


@dataclass(frozen=True, slots=True)
class Duplicate:
    """One canonical link used in more than one place of the catalogue."""

    key: str
    urls: tuple[str, ...]
    sessions: tuple[str, ...]  # session ids, in catalogue order
    links: tuple[Link, ...] = ()


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What reports show of a session (a plain copy, so reports need not import the catalogue)."""

    id: str
    title: str
    date: str  # ISO
    presenters: tuple[str, ...]  # names
    line: int = 0


@dataclass(frozen=True, slots=True)
class TrendPoint:
    """One run's counts in the report's trend (``history.trend``): a date and four numbers."""

    date: str  # YYYY-MM-DD (UTC) of the run
    ok: int
    broken: int
    redirected: int
    unverified: int


@dataclass(slots=True)
class RunReport:
    """Everything one run found: what every report format renders and history compares."""

    catalog_title: str
    catalog_path: str  # as given on the command line, e.g. "catalog.yaml"
    generated_at: str  # UTC, ISO 8601 to the second ("2026-11-25T03:17:00Z")
    duration_seconds: float
    version: str
    offline: bool
    sessions: list[SessionInfo]
    results: list[LinkResult]  # one per catalogue link, catalogue order
    findings: list[Finding]
    duplicates: list[Duplicate]
    network_unreachable: bool = False
    shard: str | None = None  # "K/N" for a partial report of a sharded run
    notes: list[str] = field(default_factory=list)  # remarks about the run, each once
    catalog_sha256: str | None = None  # of the catalogue's bytes: `crawler fix` refuses others
    # Filled by history.py: what changed since the previous report.
    changes: Changes | None = None
    # Filled by history.py: the counts of the last runs, oldest first, one per date.
    trend: list[TrendPoint] = field(default_factory=list)


@dataclass(slots=True)
class Changes:
    """Differences against the previous report (empty lists on a first run)."""

    newly_broken: list[LinkResult] = field(default_factory=list)
    recovered: list[LinkResult] = field(default_factory=list)
    new_sessions: list[SessionInfo] = field(default_factory=list)
    removed_sessions: list[SessionInfo] = field(default_factory=list)
    baseline_at: str | None = None  # generated_at of the previous report
