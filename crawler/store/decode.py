"""A ``latest.json`` read back as a ``RunReport``, strictly.

The shape is documented in ``crawler/report/SCHEMA.md``. ``from_dict`` is strict: history and
shard merges rebuild reports from it, so anything unexpected is a ``ValueError`` naming where
the problem is, never a half-filled report.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Container
from pathlib import Path
from typing import Any

from crawler.hosts import LinkKind
from crawler.model import (
    Changes,
    Duplicate,
    Field,
    Finding,
    FindingKind,
    Fix,
    FixKind,
    FixSource,
    Hop,
    Link,
    LinkResult,
    RunReport,
    SessionInfo,
    Severity,
    Source,
    Status,
)
from crawler.report.json import READABLE_VERSIONS, SCHEMA_VERSION
from crawler.store.reader import open_report, parse, read_by_line
from crawler.store.record import Reader
from crawler.store.trend import read_trend

FIELDS = tuple(Field)
_SEVERITIES = tuple(Severity)
_FINDING_KINDS = tuple(FindingKind)
_SOURCES = tuple(Source)


def _source(value: str | None) -> Source | None:
    return Source(value) if value is not None else None


def _read_link(rd: Reader) -> Link:
    kind = rd.text("kind")
    try:
        link_kind = LinkKind(kind)
    except ValueError:
        raise ValueError(f"{rd.where}.kind: unknown link kind {kind!r:.60}") from None
    # Interned: a session's id, title and date repeat on each of its links, and a 100,000-link
    # report read back as history would otherwise hold 100,000 copies of each. Most keys are
    # the URL itself: one string for both.
    url = rd.text("url")
    key = rd.text("key")
    return Link(
        session_id=sys.intern(rd.text("session")),
        session_title=sys.intern(rd.text("session_title")),
        session_date=sys.intern(rd.text("session_date")),
        field=Field(rd.choice("field", FIELDS)),
        url=url,
        kind=link_kind,
        key=url if key == url else key,
        line=rd.integer("line"),
        column=rd.integer("column"),
    )


def read_status(rd: Reader) -> Status:
    status = rd.text("status")
    try:
        return Status(status)
    except ValueError:
        raise ValueError(f"{rd.where}.status: unknown status {status!r:.60}") from None


def _read_result(rd: Reader) -> LinkResult:
    verdict = read_status(rd)
    hops = []
    for i, hop in enumerate(rd.items("redirects", required=False)):
        hr = Reader(hop, f"{rd.where}.redirects[{i}]")
        hops.append(Hop(url=hr.text("url"), status=hr.integer("status", required=True)))
    link = _read_link(rd)
    final_url = rd.text("final_url", optional=True)
    return LinkResult(
        link=link,
        status=verdict,
        detail=sys.intern(rd.text("detail")),  # most details are alike ("HTTP 200")
        reason=rd.text("reason", optional=True),
        http_status=rd.integer("http_status", optional=True),
        final_url=link.url if final_url == link.url else final_url,  # most were not redirected
        redirects=hops or (),  # as a result that was never redirected has them
        fix=_read_fix(rd),
        title=rd.text("title", optional=True),
        duration=rd.count("duration", optional=True),
        uploader=rd.text("uploader", optional=True),
        upload_date=rd.text("upload_date", optional=True),
        size=rd.count("size", optional=True),
        note=rd.text("note", optional=True),
        network_error=rd.flag("network_error"),
        first_failed=rd.text("first_failed", optional=True),
        consecutive_failures=rd.count("consecutive_failures"),
        metadata_fetched_at=rd.text("metadata_fetched_at", optional=True),
        source=_source(rd.choice("source", _SOURCES, optional=True)),
    )


_FIX_KINDS = tuple(FixKind)
_FIX_SOURCES = tuple(FixSource)
_V1_FIX = re.compile(r"moved permanently — use (\S+)")


def _read_fix(rd: Reader) -> Fix | None:
    value = rd.data.get("fix")
    if value is None:
        return None
    if isinstance(value, str):  # version 1: text; only a redirect's said where to go
        found = _V1_FIX.fullmatch(value)
        return Fix(found[1], FixKind.CERTAIN, FixSource.REDIRECT) if found else None
    fr = rd.obj("fix")
    return Fix(
        url=fr.text("url"),
        kind=FixKind(fr.choice("kind", _FIX_KINDS)),
        source=FixSource(fr.choice("source", _FIX_SOURCES)),
    )


def read_finding(rd: Reader) -> Finding:
    return Finding(
        kind=FindingKind(rd.choice("kind", _FINDING_KINDS)),
        severity=Severity(rd.choice("severity", _SEVERITIES)),
        session_id=rd.text("session"),
        session_title=rd.text("session_title"),
        session_date=rd.text("session_date"),
        message=rd.text("message"),
        field=_optional_field(rd.choice("field", FIELDS, optional=True)),
        url=rd.text("url", optional=True),
        fix=rd.text("fix", optional=True),
        line=rd.integer("line"),
    )


def _optional_field(value: str | None) -> Field | None:
    return None if value is None else Field(value)


def read_session(rd: Reader) -> SessionInfo:
    return SessionInfo(
        id=rd.text("id"),
        title=rd.text("title"),
        date=rd.text("date"),
        presenters=tuple(rd.texts("presenters")),
        line=rd.integer("line"),
    )


def _read_changes(rd: Reader, results: list[LinkResult], sessions: list[SessionInfo]) -> Changes:
    index: dict[tuple[str, str, str], list[LinkResult]] = {}
    for r in results:
        index.setdefault((r.link.session_id, r.link.field, r.link.url), []).append(r)

    def resolve(key: str) -> list[LinkResult]:
        out = []
        for i, item in enumerate(rd.items(key)):
            ref = Reader(item, f"{rd.where}.{key}[{i}]")
            found = index.get((ref.text("session"), ref.text("field"), ref.text("url")), [])
            if not found:
                raise ValueError(f"{ref.where}: refers to a link that is not in links")
            line = ref.integer("line", default=found[0].link.line)
            out.append(next((r for r in found if r.link.line == line), found[0]))
        return out

    by_id = {s.id: s for s in sessions}
    new_sessions = []
    for i, sid in enumerate(rd.texts("new_sessions")):
        if sid not in by_id:
            raise ValueError(f"{rd.where}.new_sessions[{i}]: {sid!r:.60} is not in sessions")
        new_sessions.append(by_id[sid])
    removed_info = {}
    for i, item in enumerate(rd.items("removed_session_info", required=False)):
        info = read_session(Reader(item, f"{rd.where}.removed_session_info[{i}]"))
        removed_info[info.id] = info
    removed = [
        # Without the details (a hand-written file), the id still says date and title.
        removed_info.get(sid) or SessionInfo(id=sid, title=sid, date=sid[:10], presenters=())
        for sid in rd.texts("removed_sessions")
    ]
    return Changes(
        newly_broken=resolve("newly_broken"),
        recovered=resolve("recovered"),
        new_sessions=new_sessions,
        removed_sessions=removed,
        baseline_at=rd.text("baseline_at", optional=True),
    )


def check_version(data: Any) -> Reader:
    """A reader of the report object ``data``, once its schema version is known to be ours."""
    rd = Reader(data, "report")
    version = data.get("schema_version")
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise ValueError(
            f"report.schema_version: expected {SCHEMA_VERSION}, got {version!r:.60}"
            " (written by another crawler version)"
        )
    return rd


def from_dict(
    data: Any,
    *,
    results: list[LinkResult] | None = None,
    sessions: list[SessionInfo] | None = None,
    findings: list[Finding] | None = None,
) -> RunReport:
    """Rebuild a ``RunReport`` from ``to_dict`` output; ``ValueError`` names what is wrong.

    ``results``, ``sessions``, ``findings``: those lists already read (``load`` reads them line
    by line), instead of ``data["links"]`` and so on.
    """
    rd = check_version(data)
    catalog = rd.obj("catalog")
    items = rd.items("sessions")  # each list is checked even when its records were read already
    if sessions is None:
        sessions = [
            read_session(Reader(item, f"report.sessions[{i}]")) for i, item in enumerate(items)
        ]
    links = rd.items("links")
    if results is None:
        results = [_read_result(Reader(item, f"report.links[{i}]")) for i, item in enumerate(links)]
    duplicates = []
    for i, item in enumerate(rd.items("duplicates")):
        dr = Reader(item, f"report.duplicates[{i}]")
        duplicated = tuple(
            _read_link(Reader(link, f"{dr.where}.links[{j}]"))
            for j, link in enumerate(dr.items("links", required=False))
        )
        duplicates.append(
            Duplicate(
                key=dr.text("key"),
                urls=tuple(dr.texts("urls")),
                sessions=tuple(dr.texts("sessions")),
                links=duplicated,
            )
        )
    items = rd.items("findings")
    if findings is None:
        findings = [
            read_finding(Reader(item, f"report.findings[{i}]")) for i, item in enumerate(items)
        ]
    changes = None
    if data.get("changes") is not None:
        changes = _read_changes(rd.obj("changes"), results, sessions)
    return RunReport(
        catalog_title=catalog.text("title"),
        catalog_path=catalog.text("path"),
        catalog_sha256=catalog.text("sha256", optional=True),
        generated_at=rd.text("generated_at"),
        duration_seconds=float(rd.number("duration_seconds")),
        version=rd.text("crawler_version"),
        offline=rd.flag("offline"),
        sessions=sessions,
        results=results,
        findings=findings,
        duplicates=duplicates,
        network_unreachable=rd.flag("network_unreachable"),
        shard=rd.text("shard", optional=True),
        notes=list(rd.texts("notes", required=False)),
        changes=changes,
        trend=read_trend(data.get("trend")),
    )


def load(
    path: Path,
    *,
    like: RunReport | None = None,
    finding_kinds: Container[str] | None = None,
) -> RunReport:
    """Read a ``latest.json``; ``ValueError`` naming ``path`` when it cannot be used.

    For reading many partial reports of one catalogue (a shard merge) in little memory:
    ``like``, a report read before, whose equal sessions are shared rather than copied;
    ``finding_kinds``, the only kinds of finding to keep (None: all).
    """
    results: list[LinkResult] = []
    sessions: list[SessionInfo] = []
    findings: list[Finding] = []
    known = like.sessions if like is not None else []

    def add_result(item: Any, index: int) -> None:
        results.append(_read_result(Reader(item, f"report.links[{index}]")))

    def add_session(item: Any, index: int) -> None:
        session = read_session(Reader(item, f"report.sessions[{index}]"))
        if index < len(known) and known[index] == session:
            session = known[index]
        sessions.append(session)

    def add_finding(item: Any, index: int) -> None:
        if finding_kinds is None or (isinstance(item, dict) and item.get("kind") in finding_kinds):
            findings.append(read_finding(Reader(item, f"report.findings[{index}]")))

    handlers = {"sessions": add_session, "links": add_result, "findings": add_finding}
    try:
        data = read_by_line(Path(path), handlers)
        if data is None:  # a damaged line: parse it whole, to say where
            with open_report(Path(path)) as fh:
                data = parse(fh.read())
            return from_dict(data)
        return from_dict(data, results=results, sessions=sessions, findings=findings)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
