"""``latest.json``: the machine-readable report.

The shape is documented in ``SCHEMA.md`` next to this file. It is read back (history, shard
merges) by ``crawler/store/``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from crawler.model import (
    Duplicate,
    Finding,
    Fix,
    Link,
    LinkResult,
    RunReport,
    SessionInfo,
    TrendPoint,
)
from crawler.report.common import summarize

SCHEMA_VERSION = 2
# Older versions decode.py still reads (version 1: a link's fix was text).
READABLE_VERSIONS = (1, 2)


def _link_fields(link: Link) -> dict[str, Any]:
    return {
        "session": link.session_id,
        "field": link.field,
        "url": link.url,
    }


def _with_identity(record: dict[str, Any], link: Link) -> dict[str, Any]:
    """``record`` with the link's identity added in place (one dict per record, not three:
    there are 100,000 of them in a large report)."""
    record["kind"] = link.kind.value
    record["key"] = link.key
    record["line"] = link.line
    record["column"] = link.column
    record["session_title"] = link.session_title
    record["session_date"] = link.session_date
    return record


def _result(r: LinkResult) -> dict[str, Any]:
    link = r.link
    record = {
        "session": link.session_id,
        "field": link.field,
        "url": link.url,
        "status": r.status.value,
        "http_status": r.http_status,
        "final_url": r.final_url,
        "detail": r.detail,
        **({"reason": r.reason} if r.reason else {}),  # only where detail quotes a tool
        "fix": _fix(r.fix),
        "title": r.title,
        "duration": r.duration,
        "uploader": r.uploader,
        "upload_date": r.upload_date,
        "size": r.size,
        "note": r.note,
        "redirects": [{"url": h.url, "status": h.status} for h in r.redirects],
        "network_error": r.network_error,
        "first_failed": r.first_failed,
        "consecutive_failures": r.consecutive_failures,
        "metadata_fetched_at": r.metadata_fetched_at,
        **({"source": r.source.value} if r.source else {}),  # videos: who gave the verdict
    }
    return _with_identity(record, link)


def _fix(fix: Fix | None) -> dict[str, str] | None:
    return None if fix is None else {"url": fix.url, "kind": fix.kind, "source": fix.source}


def _session(s: SessionInfo) -> dict[str, Any]:
    return {
        "id": s.id,
        "title": s.title,
        "date": s.date,
        "presenters": list(s.presenters),
        "line": s.line,
    }


def _ref(r: LinkResult) -> dict[str, Any]:
    return {**_link_fields(r.link), "line": r.link.line}


def _duplicate(d: Duplicate) -> dict[str, Any]:
    return {
        "key": d.key,
        "urls": list(d.urls),
        "sessions": list(d.sessions),
        "links": [_with_identity(_link_fields(link), link) for link in d.links],
    }


def _finding(f: Finding) -> dict[str, Any]:
    return {
        "kind": f.kind,
        "severity": f.severity,
        "session": f.session_id,
        "session_title": f.session_title,
        "session_date": f.session_date,
        "field": f.field,
        "url": f.url,
        "message": f.message,
        "fix": f.fix,
        "line": f.line,
    }


def _changes(report: RunReport) -> dict[str, Any] | None:
    if report.changes is None:
        return None
    c = report.changes
    return {
        "baseline_at": c.baseline_at,
        "newly_broken": [_ref(r) for r in c.newly_broken],
        "recovered": [_ref(r) for r in c.recovered],
        "new_sessions": [s.id for s in c.new_sessions],
        "removed_sessions": [s.id for s in c.removed_sessions],
        # Removed sessions are not in "sessions" any more: keep what is known of them.
        "removed_session_info": [_session(s) for s in c.removed_sessions],
    }


def _parts(report: RunReport) -> dict[str, Any]:
    """Every top-level key in its fixed order; the long lists as lazy iterables."""
    summary = summarize(report)
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": report.generated_at,
        "catalog": {
            "title": report.catalog_title,
            "path": report.catalog_path,
            "sha256": report.catalog_sha256,
        },
        "crawler_version": report.version,
        "duration_seconds": report.duration_seconds,
        "offline": report.offline,
        "network_unreachable": report.network_unreachable,
        "shard": report.shard,
        **({"notes": list(report.notes)} if report.notes else {}),
        "summary": {
            "links": summary.links,
            "ok": summary.ok,
            "redirected": summary.redirected,
            "broken": summary.broken,
            "unverified": summary.unverified,
            "skipped": summary.skipped,
            "duplicated": summary.duplicated,
            "findings": summary.findings,
        },
        "sessions": map(_session, report.sessions),
        "links": map(_result, report.results),
        "duplicates": map(_duplicate, report.duplicates),
        "findings": map(_finding, report.findings),
        "changes": _changes(report),
        "trend": map(_point, report.trend),
    }


def _point(p: TrendPoint) -> dict[str, Any]:
    return {
        "date": p.date,
        "ok": p.ok,
        "broken": p.broken,
        "redirected": p.redirected,
        "unverified": p.unverified,
    }


# Lists written one record per line (``chunks``).
_RECORD_LISTS = ("sessions", "links", "duplicates", "findings", "trend")


def to_dict(report: RunReport) -> dict[str, Any]:
    """The report as plain JSON-able data, keys in a fixed order."""
    return {
        key: list(value) if key in _RECORD_LISTS else value for key, value in _parts(report).items()
    }


# One encoder for every record: ``json.dumps`` with options builds a new one per call.
_RECORD = json.JSONEncoder(ensure_ascii=False, allow_nan=False)


def _dump(value: Any, **kwargs: Any) -> str:
    if not kwargs:
        return _RECORD.encode(value)
    return json.dumps(value, ensure_ascii=False, allow_nan=False, **kwargs)


def chunks(report: RunReport) -> Iterator[str]:
    """``latest.json`` text in pieces, one record of each long list per line.

    One line per link keeps a nightly diff to one line per changed link, and streaming the
    pieces to the file means 100,000 links never sit in memory as one string.
    """
    yield "{"
    for index, (key, value) in enumerate(_parts(report).items()):
        yield ("\n" if index == 0 else ",\n") + f"  {_dump(key)}: "
        if key not in _RECORD_LISTS:
            yield _dump(value, indent=2).replace("\n", "\n  ")
            continue
        empty = True
        for record in value:
            yield "[\n    " if empty else ",\n    "
            yield _dump(record)  # as it is: no copy of a 1 KB line to prefix it
            empty = False
        yield "[]" if empty else "\n  ]"
    yield "\n}\n"


def render(report: RunReport) -> str:
    """``latest.json`` as one string (see ``chunks``)."""
    return "".join(chunks(report))
