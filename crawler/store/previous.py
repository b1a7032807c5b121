"""The previous run as the next one needs it: a compact ``Remembered`` record per link.

Read from the previous ``latest.json`` line by line (``read_history``), never as full results:
a 100,000-link history of ``LinkResult`` records was 150 MB. ``crawler/history.py`` counts the
failure streaks and the changes from it.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler.model import Link, LinkResult, RunReport, SessionInfo, Status, TrendPoint
from crawler.store import decode
from crawler.store.reader import read_by_line
from crawler.store.record import Reader
from crawler.store.trend import read_trend

METADATA = ("title", "duration", "uploader", "upload_date", "size", "metadata_fetched_at")
_FETCHED_AT = METADATA.index("metadata_fetched_at")
_NO_METADATA = (None,) * len(METADATA)

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
    # The counts of the last runs (``history.trend`` adds this run's).
    trend: list[TrendPoint] = field(default_factory=list)

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
                tuple(getattr(result, name) for name in METADATA),
            )
        return cls(
            generated_at=report.generated_at,
            shard=report.shard,
            results=memory.results,
            session_ids={s.id for s in report.sessions},
            sessions=list(report.sessions),
            trend=list(report.trend),
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


def read_history(
    path: Path,
    *,
    links: Iterable[Link] | None = None,
    sessions: Iterable[SessionInfo] | None = None,
    video_metadata_only: bool = False,
) -> History:
    """What the next run needs of the report at ``path``; ``ValueError`` (or ``OSError``) when
    it cannot be used.

    Read line by line into ``Remembered`` records, never as full results. With this run's
    ``links`` and ``sessions``, only their links are remembered (the others can never be
    asked for) and their strings are shared with this run's, and only the sessions that are
    gone keep their details. ``video_metadata_only`` is for an online run (see ``_Memory``).
    """
    history = _read_history(path, links, sessions, video_metadata_only)
    if history is None:  # not laid out one record per line, or damaged: read it whole
        history = History.of(decode.load(path), video_metadata_only=video_metadata_only)
    return history


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
        rd = Reader(item, f"report.sessions[{index}]")
        sid = rd.text("id")
        if current_ids is not None and sid in current_ids:
            session_ids.add(current_ids[sid])  # this run's string: one copy of each id
            return
        session_ids.add(sid)
        gone.append(decode.read_session(rd))

    def add_link(item: Any, index: int) -> None:
        fields = _link_fields(item)
        if fields is None:  # something is off: the strict reader says what, and where
            fields = _read_link_fields(Reader(item, f"report.links[{index}]"))
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

    data = read_by_line(
        path, {"sessions": add_session, "links": add_link, "duplicates": None, "findings": None}
    )
    if data is None:
        return None
    rd = decode.check_version(data)
    return History(
        generated_at=rd.text("generated_at"),
        shard=rd.text("shard", optional=True),
        results=memory.results,
        session_ids=session_ids,
        sessions=gone,
        trend=read_trend(data.get("trend")),
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
        and field in decode.FIELDS
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


def _read_link_fields(rd: Reader) -> _LinkFields:
    """``_link_fields``, raising ``ValueError`` that names the place of the first problem."""
    return (
        rd.text("session"),
        rd.choice("field", decode.FIELDS),
        rd.text("url"),
        decode.read_status(rd),
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
