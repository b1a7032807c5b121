"""Memory between runs: failure counters, escalation, and what changed since the last report.

The previous run is simply the previous ``latest.json``. A link is the same link across runs
when its ``(session id, field, url)`` is the same: the session id is the date and a slug of the
title, so reordering the catalogue keeps history, while editing a URL starts afresh.

Counting rules (``apply``):

- ``broken`` and ``unverified`` are failures: ``consecutive_failures`` goes up by one and
  ``first_failed`` keeps the time of the first failing run of the streak.
- ``ok`` and ``redirected`` are healthy: the counter goes back to 0, ``first_failed`` to None.
- ``skipped`` says nothing about the link (an ``--offline`` run, a filtered link): the previous
  counters are carried over unchanged, so an offline run does not reset a streak.
- the metadata (title, duration, uploader, upload date, size) of a link this run could not
  check, ``skipped`` or ``unverified``, is the previous run's (``carry_metadata``): a night
  without network neither empties the report nor the next run's metadata cache.
- likewise an ``unverified`` result caused by our own network (``network_error`` in a run that
  is ``network_unreachable``) carries the counters over: a CI runner without internet says
  nothing about the links, and must not escalate every link after a few nights.
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crawler.model import (
    Changes,
    Field,
    Finding,
    FindingKind,
    Link,
    LinkResult,
    RunReport,
    SessionInfo,
    Severity,
    Status,
)
from crawler.report import json as json_report

log = logging.getLogger(__name__)

REPORT_FILE = "latest.json"
FAILING = (Status.BROKEN, Status.UNVERIFIED)
HEALTHY = (Status.OK, Status.REDIRECTED)
# What this run could not check: the previous run's metadata stays (``carry_metadata``).
UNCHECKED = (Status.SKIPPED, Status.UNVERIFIED)
_METADATA = ("title", "duration", "uploader", "upload_date", "size", "metadata_fetched_at")
_FETCHED_AT = _METADATA.index("metadata_fetched_at")
_NO_METADATA = (None,) * len(_METADATA)

LinkKey = tuple[str, str, str]
# Statuses that say nothing for the next run once the streak is 0 (an unverified result with
# no streak still counts as failing: the next healthy run "recovers" it).
_FORGETTABLE = frozenset({Status.OK, Status.REDIRECTED, Status.SKIPPED})


def link_key(result: LinkResult) -> LinkKey:
    return (result.link.session_id, result.link.field, result.link.url)


@dataclass(frozen=True, slots=True)
class Remembered:
    """What the next run needs of one previous result, and nothing else.

    The attributes are those of ``LinkResult`` that history and the services' metadata cache
    read (``status``, the failure streak, the metadata), so the engine hands it to services
    where a ``LinkResult`` used to go. A 100,000-link history of full results was 150 MB.

    A previous result with nothing to carry over — ``ok``, ``redirected`` or ``skipped``, no
    failure streak, no metadata — is not remembered at all: for the counters, the changes and
    the metadata cache it is the same as a link seen for the first time (``None``). Results
    alike otherwise share one ``Remembered``.
    """

    status: Status
    consecutive_failures: int = 0
    first_failed: str | None = None
    title: str | None = None
    duration: int | None = None
    uploader: str | None = None
    upload_date: str | None = None
    size: int | None = None
    metadata_fetched_at: str | None = None


@dataclass(slots=True)
class History:
    """The previous run as the next one needs it: per-link memory, and its sessions."""

    generated_at: str
    shard: str | None
    results: dict[LinkKey, Remembered]
    session_ids: set[str]
    # Enough to name what was removed: every previous session, or (when read for a known
    # catalogue) only those that are not in it any more. In the previous run's order.
    sessions: list[SessionInfo]

    @classmethod
    def of(cls, report: RunReport, *, video_metadata_only: bool = False) -> History:
        memory = _Memory(video_metadata_only=video_metadata_only)
        seen: set[LinkKey] = set()
        for result in report.results:
            key = link_key(result)
            if key in seen:  # the first of repeated links counts, as in the engine's cache
                continue
            seen.add(key)
            memory.remember(
                key,
                result.status,
                result.consecutive_failures,
                result.first_failed,
                tuple(getattr(result, name) for name in _METADATA),
            )
        return cls(
            generated_at=report.generated_at,
            shard=report.shard,
            results=memory.results,
            session_ids={s.id for s in report.sessions},
            sessions=list(report.sessions),
        )


class _Memory:
    """Builds ``History.results``, sharing one ``Remembered`` among links alike.

    ``video_metadata_only``: for an online run, which fetches every page again. A PDF's size
    and file name, or a deck's title, would only be carried to a link that ends ``skipped``
    (refused), so they are not kept (at 100,000 links, 80,000 records and their strings); a
    video's metadata is the cache that spares yt-dlp calls, and stays.
    """

    def __init__(self, *, video_metadata_only: bool = False) -> None:
        self.results: dict[LinkKey, Remembered] = {}
        self._plain: dict[tuple[Status, int, str | None], Remembered] = {}
        self._video_metadata_only = video_metadata_only
        self._now = dt.datetime.now(dt.UTC)
        self._future: dict[str, bool] = {}  # per fetch time: a report has a few distinct ones

    def _in_future(self, fetched_at: str) -> bool:
        """A fetch time later than now (a clock set wrong, a hand edit): never fresh, or the
        metadata it vouches for would be reused for ever. Unreadable ones are not fresh to
        the metadata cache anyway."""
        verdict = self._future.get(fetched_at)
        if verdict is None:
            try:
                when = dt.datetime.fromisoformat(fetched_at)
            except ValueError:
                when = None
            if when is not None and when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            verdict = self._future[fetched_at] = when is not None and when > self._now
        return verdict

    def remember(
        self,
        key: LinkKey,
        status: Status,
        failures: int,
        first_failed: str | None,
        metadata: tuple[Any, ...],
    ) -> None:
        fetched_at = metadata[_FETCHED_AT]
        if self._video_metadata_only and fetched_at is None:
            metadata = _NO_METADATA  # not a video's (only videos record when it was fetched)
        elif fetched_at is not None and self._in_future(fetched_at):
            metadata = (*metadata[:_FETCHED_AT], None, *metadata[_FETCHED_AT + 1 :])
        if any(value is not None for value in metadata):
            self.results[key] = Remembered(status, failures, first_failed, *metadata)
            return
        if status in _FORGETTABLE and not failures and first_failed is None:
            return  # nothing to carry over: as if first seen (see Remembered)
        plain = (status, failures, first_failed)
        found = self._plain.get(plain)
        if found is None:
            found = self._plain[plain] = Remembered(status, failures, first_failed)
        self.results[key] = found


def load_history(
    report_dir: Path,
    *,
    links: Iterable[Link] | None = None,
    sessions: Iterable[SessionInfo] | None = None,
    video_metadata_only: bool = False,
) -> History | None:
    """What the next run needs of ``report_dir/latest.json``, or None.

    None when there is no previous report (a first run) and when it cannot be used (damaged,
    hand-edited, another schema version): then a warning is logged and the run carries on as
    a first run rather than crashing.

    Read line by line into ``Remembered`` records, never as full results. With this run's
    ``links`` and ``sessions``, only their links are remembered (the others can never be
    asked for) and their strings are shared with this run's, and only the sessions that are
    gone keep their details. ``video_metadata_only`` is for an online run (see ``_Memory``).
    """
    path = Path(report_dir) / REPORT_FILE
    if not path.exists():
        return None
    try:
        history = _read_history(path, links, sessions, video_metadata_only)
        if history is None:  # not laid out one record per line, or damaged: read it whole
            history = History.of(json_report.load(path), video_metadata_only=video_metadata_only)
        return history
    except Exception as exc:  # a bad previous report must never stop tonight's run
        log.warning("ignoring the previous report %s: %s (treating this as a first run)", path, exc)
        return None


def _read_history(
    path: Path,
    links: Iterable[Link] | None,
    sessions: Iterable[SessionInfo] | None,
    video_metadata_only: bool = False,
) -> History | None:
    # This run's links by URL (a list where one URL is used more than once), to find the link
    # a record is about and keep its strings. A record's link is taken out once found: the
    # first of repeated records counts.
    wanted: dict[str, Link | list[Link]] | None = None
    if links is not None:
        wanted = {}
        for lk in links:
            there = wanted.setdefault(lk.url, lk)
            if there is not lk:
                wanted[lk.url] = [*there, lk] if isinstance(there, list) else [there, lk]
    seen: set[LinkKey] = set()  # the same, when every record is kept (no links given)
    current_ids = None if sessions is None else {s.id: s.id for s in sessions}
    memory = _Memory(video_metadata_only=video_metadata_only)
    session_ids: set[str] = set()
    gone: list[SessionInfo] = []

    def add_session(item: Any, index: int) -> None:
        rd = json_report.Reader(item, f"report.sessions[{index}]")
        sid = rd.text("id")
        if current_ids is not None and sid in current_ids:
            session_ids.add(current_ids[sid])  # this run's string: one copy of each id
            return
        session_ids.add(sid)
        gone.append(json_report.read_session(rd))

    def add_link(item: Any, index: int) -> None:
        fields = _link_fields(item)
        if fields is None:  # something is off: the strict reader says what, and where
            fields = _read_link_fields(json_report.Reader(item, f"report.links[{index}]"))
        sid, field, url, status, failures, first_failed, metadata = fields
        if first_failed is not None:  # a run's time, on every link that failed in it: one copy
            first_failed = sys.intern(first_failed)
        fetched_at = metadata[_FETCHED_AT]
        if fetched_at is not None:  # likewise
            i = _FETCHED_AT
            metadata = (*metadata[:i], sys.intern(fetched_at), *metadata[i + 1 :])
        if wanted is None:
            key = (sys.intern(sid), sys.intern(field), url)
            if key in seen:
                return
            seen.add(key)
        else:
            link = _take(wanted, sid, field, url)
            if link is None:
                return  # not in this run's catalogue (or seen already): nobody will ask
            key = (link.session_id, link.field, link.url)
        memory.remember(key, status, failures, first_failed, metadata)

    data = json_report.read_by_line(
        path, {"sessions": add_session, "links": add_link, "duplicates": None, "findings": None}
    )
    if data is None:
        return None
    rd = json_report.check_version(data)
    return History(
        generated_at=rd.text("generated_at"),
        shard=rd.text("shard", optional=True),
        results=memory.results,
        session_ids=session_ids,
        sessions=gone,
    )


_LinkFields = tuple[str, str, str, Status, int, str | None, tuple[Any, ...]]
_STATUSES = {status.value: status for status in Status}
_TEXT_METADATA = ("title", "uploader", "upload_date", "metadata_fetched_at")


def _link_fields(item: Any) -> _LinkFields | None:
    """What history reads of one link record, when the record is well-formed (else None).

    The same checks as ``_read_link_fields`` in a few type tests: at 100,000 links the
    strict reader's method calls were most of the time it takes to read a previous report.
    """
    if type(item) is not dict:
        return None
    get = item.get
    sid, field, url, status = get("session"), get("field"), get("url"), get("status")
    failures, first_failed = get("consecutive_failures", 0), get("first_failed")
    duration, size = get("duration"), get("size")
    if not (
        type(sid) is str
        and type(url) is str
        and field in json_report.FIELDS
        and type(status) is str
        and status in _STATUSES
        and type(failures) is int
        and failures >= 0
        and (first_failed is None or type(first_failed) is str)
        and (duration is None or (type(duration) is int and duration >= 0))
        and (size is None or (type(size) is int and size >= 0))
        and all(type(get(k)) in (str, type(None)) for k in _TEXT_METADATA)
    ):
        return None
    metadata = (
        get("title"),
        duration,
        get("uploader"),
        get("upload_date"),
        size,
        get("metadata_fetched_at"),
    )
    return sid, field, url, _STATUSES[status], failures, first_failed, metadata


def _read_link_fields(rd: json_report.Reader) -> _LinkFields:
    """``_link_fields``, raising ``ValueError`` that names the place of the first problem."""
    return (
        rd.text("session"),
        rd.choice("field", json_report.FIELDS),
        rd.text("url"),
        json_report.read_status(rd),
        rd.count("consecutive_failures"),
        rd.text("first_failed", optional=True),
        (
            rd.text("title", optional=True),
            rd.count("duration", optional=True),
            rd.text("uploader", optional=True),
            rd.text("upload_date", optional=True),
            rd.count("size", optional=True),
            rd.text("metadata_fetched_at", optional=True),
        ),
    )


def _take(wanted: dict[str, Link | list[Link]], sid: str, field: str, url: str) -> Link | None:
    """This run's link ``(sid, field, url)``, taken out of ``wanted`` with its repeats."""
    there = wanted.get(url)
    if there is None:
        return None
    if not isinstance(there, list):
        if there.session_id != sid or there.field != field:
            return None
        del wanted[url]
        return there
    same = [lk for lk in there if lk.session_id == sid and lk.field == field]
    if not same:
        return None
    rest = [lk for lk in there if not (lk.session_id == sid and lk.field == field)]
    if rest:
        wanted[url] = rest
    else:
        del wanted[url]
    return same[0]


def _history(previous: RunReport | History | None) -> History | None:
    return History.of(previous) if isinstance(previous, RunReport) else previous


def previous_results(previous: RunReport | History | None) -> dict[LinkKey, Remembered]:
    """The previous run's memory by ``(session_id, field, url)`` (the engine's metadata cache)."""
    history = _history(previous)
    return {} if history is None else history.results


def _was_failing(prev: Remembered) -> bool:
    # A skipped previous result still carries the streak it inherited.
    return prev.status in FAILING or (
        prev.status is Status.SKIPPED and prev.consecutive_failures > 0
    )


def _was_broken(prev: Remembered) -> bool:
    # After an offline run we only know "it was failing", not whether broken or unverified.
    return prev.status is Status.BROKEN or (
        prev.status is Status.SKIPPED and prev.consecutive_failures > 0
    )


def _carry(result: LinkResult, prev: Remembered | None) -> None:
    if prev is None:
        result.consecutive_failures, result.first_failed = 0, None
        return
    result.consecutive_failures = prev.consecutive_failures
    result.first_failed = prev.first_failed


def _carry_metadata(result: LinkResult, prev: Remembered | None) -> None:
    if prev is None or result.status not in UNCHECKED:
        return
    for name in _METADATA:
        if getattr(result, name) is None:
            setattr(result, name, getattr(prev, name))


def carry_metadata(results: Iterable[LinkResult], previous: RunReport | History | None) -> None:
    """Give the links this run could not check (``UNCHECKED``) the previous run's metadata.

    Title, duration, uploader, upload date and size are what the report shows of a link; a
    night without network must not commit a report that forgot them, only to learn them again
    the next night. Fields this run did learn are kept. ``apply`` does it too; the pipeline
    does it first, so that the findings (a wrong video's title) see the same titles.
    """
    history = _history(previous)
    if history is None:
        return
    for result in results:
        _carry_metadata(result, history.results.get(link_key(result)))


def fill_metadata(
    previous: History | None,
    report_dir: Path,
    results: Iterable[LinkResult],
    sessions: Iterable[SessionInfo] | None = None,
) -> None:
    """Add to ``previous`` the whole metadata of the results this run could not check.

    An online run remembers only videos' metadata (``video_metadata_only``: the rest is fetched
    again). When some links could not be checked after all, the previous report is read once
    more, for those links only, so that ``carry_metadata`` can keep a PDF's size or a deck's
    title too. Nothing is read on a night where every slides and video link was checked or
    its metadata is remembered already.
    """
    if previous is None:
        return
    remembered = previous.results
    unchecked = [
        r.link
        for r in results
        if r.status in UNCHECKED
        and r.link.field != Field.PRESENTER  # a homepage has no metadata worth a second read
        and not _has_metadata(remembered.get(link_key(r)))
        and any(getattr(r, name) is None for name in _METADATA)
    ]
    if not unchecked:
        return
    more = load_history(report_dir, links=unchecked, sessions=sessions)
    if more is not None:
        remembered.update((k, v) for k, v in more.results.items() if _has_metadata(v))


def _has_metadata(prev: Remembered | None) -> bool:
    return prev is not None and any(getattr(prev, name) is not None for name in _METADATA)


def apply(report: RunReport, previous: RunReport | History | None, *, fail_after: int = 1) -> None:
    """Update failure counters, add ``escalated`` findings and fill ``report.changes``.

    Escalation: a link that is ``unverified`` in this run and has failed for at least
    ``fail_after`` consecutive runs gets an ``escalated`` finding (severity error, so the run
    exits 1 instead of 3). ``fail_after == 1`` (the default) never escalates: with it a run
    whose only problems are unverified links must still exit 3 ("could not check"), not 1.
    So escalation starts at ``fail_after >= 2`` — "unverified two nights in a row is a problem".
    Broken links are not escalated: they are errors already.
    """
    history = _history(previous)
    prev_by_key = {} if history is None else history.results
    escalated: list[Finding] = []
    for result in report.results:
        prev = prev_by_key.get(link_key(result))
        own_network = report.network_unreachable and result.network_error
        _carry_metadata(result, prev)
        if result.status is Status.SKIPPED or (result.status is Status.UNVERIFIED and own_network):
            _carry(result, prev)
        elif result.status in FAILING:
            streak = prev.consecutive_failures if prev is not None else 0
            result.consecutive_failures = streak + 1
            result.first_failed = (
                prev.first_failed
                if prev is not None and streak > 0 and prev.first_failed
                else report.generated_at
            )
        else:
            result.consecutive_failures, result.first_failed = 0, None

        if (
            result.status is Status.UNVERIFIED
            and not own_network
            and fail_after > 1
            and result.consecutive_failures >= fail_after
        ):
            since = (result.first_failed or report.generated_at)[:10]
            escalated.append(
                Finding.on_link(
                    result.link,
                    FindingKind.ESCALATED,
                    Severity.ERROR,
                    f"unverified for {result.consecutive_failures} consecutive runs "
                    f"since {since}: {result.plain_detail}",
                    fix="check the link by hand; fix or remove it if it is really gone",
                )
            )
    # Idempotent: applying twice must not add the same findings twice.
    report.findings = [f for f in report.findings if f.kind != FindingKind.ESCALATED] + escalated
    report.changes = changes(report, history)


def changes(report: RunReport, previous: RunReport | History | None) -> Changes:
    """What changed since ``previous`` (an empty ``Changes`` without baseline on a first run)."""
    previous = _history(previous)
    if previous is None:
        return Changes()
    prev_by_key = previous.results
    newly_broken, recovered = [], []
    for result in report.results:
        prev = prev_by_key.get(link_key(result))
        if result.status is Status.BROKEN and (prev is None or not _was_broken(prev)):
            newly_broken.append(result)
        elif result.status in HEALTHY and prev is not None and _was_failing(prev):
            recovered.append(result)
    current_ids = {s.id for s in report.sessions}
    new_sessions = [s for s in report.sessions if s.id not in previous.session_ids]
    # A shard holds only part of the catalogue: what it lacks was not removed.
    removed = (
        []
        if report.shard or previous.shard
        else [s for s in previous.sessions if s.id not in current_ids]
    )
    return Changes(
        newly_broken=newly_broken,
        recovered=recovered,
        new_sessions=new_sessions if not (report.shard or previous.shard) else [],
        removed_sessions=removed,
        baseline_at=previous.generated_at,
    )
