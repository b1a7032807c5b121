"""``latest.json``: the machine-readable report, and the way back to a ``RunReport``.

The shape is documented in ``SCHEMA.md`` next to this file. ``from_dict`` is strict: history
and shard merges rebuild reports from it, so anything unexpected is a ``ValueError`` naming
where the problem is, never a half-filled report.
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
import sys
from collections.abc import Callable, Container, Iterator
from pathlib import Path
from typing import IO, Any

from crawler.hosts import LinkKind
from crawler.model import (
    Changes,
    Duplicate,
    Field,
    Finding,
    FindingKind,
    Hop,
    Link,
    LinkResult,
    RunReport,
    SessionInfo,
    Severity,
    Status,
)
from crawler.report.common import summarize

SCHEMA_VERSION = 1
FIELDS = tuple(Field)
_SEVERITIES = tuple(Severity)
_FINDING_KINDS = tuple(FindingKind)


# ---------------------------------------------------------------------------- to JSON


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
        "fix": r.fix,
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
    }
    return _with_identity(record, link)


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
        "catalog": {"title": report.catalog_title, "path": report.catalog_path},
        "crawler_version": report.version,
        "duration_seconds": report.duration_seconds,
        "offline": report.offline,
        "network_unreachable": report.network_unreachable,
        "shard": report.shard,
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
    }


_RECORD_LISTS = ("sessions", "links", "duplicates", "findings")


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


# ---------------------------------------------------------------------------- from JSON


class Reader:
    """Typed access to one JSON object, naming the path of whatever is wrong."""

    def __init__(self, data: Any, where: str):
        if not isinstance(data, dict):
            raise ValueError(f"{where}: expected an object, got {type(data).__name__}")
        self.data = data
        self.where = where

    def _value(self, key: str, default: Any, required: bool) -> Any:
        if key not in self.data:
            if required:
                raise ValueError(f"{self.where}.{key}: missing")
            return default
        return self.data[key]

    def text(self, key: str, *, optional: bool = False) -> Any:
        value = self._value(key, None, not optional)
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise ValueError(f"{self.where}.{key}: expected a string, got {value!r:.60}")
        return value

    def integer(
        self, key: str, *, optional: bool = False, default: int = 0, required: bool = False
    ) -> Any:
        value = self._value(key, None if optional else default, required)
        if value is None and optional:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{self.where}.{key}: expected an integer, got {value!r:.60}")
        return value

    def count(self, key: str, *, optional: bool = False) -> Any:
        """A whole number, 0 or more (a failure streak, seconds, bytes)."""
        value = self.integer(key, optional=optional)
        if value is not None and value < 0:
            raise ValueError(f"{self.where}.{key}: expected 0 or more, got {value!r:.60}")
        return value

    def number(self, key: str) -> float:
        value = self._value(key, None, True)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError(f"{self.where}.{key}: expected a number, got {value!r:.60}")
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self._value(key, default, False)
        if not isinstance(value, bool):
            raise ValueError(f"{self.where}.{key}: expected true or false, got {value!r:.60}")
        return value

    def items(self, key: str, *, required: bool = True) -> list[Any]:
        value = self._value(key, [], required)
        if not isinstance(value, list):
            raise ValueError(f"{self.where}.{key}: expected a list, got {value!r:.60}")
        return value

    def texts(self, key: str, *, required: bool = True) -> list[str]:
        items = self.items(key, required=required)
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise ValueError(f"{self.where}.{key}[{i}]: expected a string, got {item!r:.60}")
        return items

    def choice(self, key: str, choices: tuple[str, ...], *, optional: bool = False) -> Any:
        value = self.text(key, optional=optional)
        if value is None and optional:
            return None
        if value not in choices:
            raise ValueError(
                f"{self.where}.{key}: {value!r:.60} is not one of {', '.join(choices)}"
            )
        return value

    def obj(self, key: str) -> Reader:
        return Reader(self._value(key, None, True), f"{self.where}.{key}")


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
        fix=rd.text("fix", optional=True),
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
    if version != SCHEMA_VERSION:
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
        links = tuple(
            _read_link(Reader(link, f"{dr.where}.links[{j}]"))
            for j, link in enumerate(dr.items("links", required=False))
        )
        duplicates.append(
            Duplicate(
                key=dr.text("key"),
                urls=tuple(dr.texts("urls")),
                sessions=tuple(dr.texts("sessions")),
                links=links,
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
        changes=changes,
    )


# The most a report file may be. A 100,000-link latest.json is about 85 MB (measured: a
# benchmarks/gen_catalog.py catalogue, ≈ 620 bytes a link line, plus sessions and findings);
# this is room for six times that and long titles, and keeps a file that is not a report (a
# symlink to /dev/zero, a huge file) from being read without end. It holds for every read:
# the line walk keeps one line at a time, and the whole-file read that names a damaged line's
# error is the largest it allows.
MAX_REPORT_BYTES = 512 * 1024 * 1024
_NOT_REGULAR = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a named pipe",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}


class _Capped(io.RawIOBase):
    """A file that refuses to give more than ``limit`` bytes (a size on disk can lie:
    files in /proc say 0)."""

    def __init__(self, raw: io.FileIO, limit: int) -> None:
        self._raw, self._left = raw, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with memoryview(buffer) as view:
            n = self._raw.readinto(view[: self._left + 1]) or 0
        if n > self._left:
            raise ValueError(_too_large())
        self._left -= n
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def _too_large() -> str:
    return f"larger than {MAX_REPORT_BYTES // 2**20} MiB, more than any report (not a report?)"


def open_report(path: Path) -> IO[str]:
    """``path`` opened for reading as UTF-8 text, at most ``MAX_REPORT_BYTES`` of it.

    Only a regular file: a named pipe, a device (a symlink to /dev/zero) or a directory is
    refused with a ``ValueError`` saying what it is, before anything is read; the open itself
    does not wait for a pipe's writer (``O_NONBLOCK``, which regular files ignore).
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        mode = os.fstat(fd)
        kind = stat.S_IFMT(mode.st_mode)
        if kind != stat.S_IFREG:
            raise ValueError(f"not a regular file but {_NOT_REGULAR.get(kind, 'a special file')}")
        if mode.st_size > MAX_REPORT_BYTES:
            raise ValueError(_too_large())
        raw = _Capped(io.FileIO(fd, "r", closefd=True), MAX_REPORT_BYTES)
    except BaseException:
        os.close(fd)
        raise
    return io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8")


def _parse(text: str) -> Any:
    """``json.loads``; nesting deeper than Python's recursion limit is a ``ValueError`` too."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(_TOO_DEEP) from None


_TOO_DEEP = "JSON nested too deeply to be a report"

_LIST_CLOSE = ("  ]\n", "  ],\n")

_decode = json.JSONDecoder().raw_decode
_RECORD_ENDS = (",\n", "\n", ",", "")  # what may follow a record on its line

# What to do with each record of a long list read line by line: a function of the record (a
# parsed JSON value) and its index, or None to skip the record's line without parsing it.
RecordHandler = Callable[[Any, int], None] | None


def read_by_line(path: Path, handlers: dict[str, RecordHandler]) -> Any | None:
    """Walk a report written by ``chunks``, one record of each long list per line.

    Each record of a list named in ``handlers`` goes to its handler, in order, instead of into
    the result; the result is the rest of the report, parsed, with those lists empty. Reading
    a 100,000-link report this way never builds it as one big tree of dicts (that tree was the
    peak of a second run's memory). A list laid out otherwise (a file re-indented by another
    tool) reaches the handler all the same, after the whole file was parsed. None when a
    record line is not JSON: the caller then reads the file whole, to name the error.
    """
    opening = {f"  {_dump(key)}: [\n": key for key in handlers}
    skeleton: list[str] = []
    with open_report(path) as fh:
        for line in fh:
            key = opening.get(line)
            if key is None:
                skeleton.append(line)
                continue
            skeleton.append(f"  {_dump(key)}: []")
            handler = handlers[key]
            for index, record in enumerate(fh):
                if record in _LIST_CLOSE:
                    skeleton.append(record[3:])  # the "," or nothing, and the newline
                    break
                if handler is None:
                    continue
                # Decoded where it stands (after the 4-space indent), without copying the line.
                try:
                    item, end = _decode(record, 4)
                except json.JSONDecodeError:
                    return None
                except RecursionError:
                    raise ValueError(_TOO_DEEP) from None
                if record[end:] not in _RECORD_ENDS:
                    return None
                handler(item, index)
            else:
                return None
    data = _parse("".join(skeleton))
    if isinstance(data, dict):
        for key, handler in handlers.items():
            records = data.get(key)
            if isinstance(records, list) and records:  # not one per line: parsed whole
                data[key] = []
                if handler is not None:
                    for index, item in enumerate(records):
                        handler(item, index)
    return data


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
                data = _parse(fh.read())
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
