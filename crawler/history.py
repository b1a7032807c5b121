"""Memory between runs: failure counters, escalation, and what changed since the last report.

The previous run is simply the previous ``latest.json`` (read by ``crawler/store/previous.py``,
one compact record per link). A link is the same link across runs when its ``(session id,
field, url)`` is the same: the session id is the date and a slug of the title, so reordering
the catalogue keeps history, while editing a URL starts afresh.

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

The trend (``trend``): the counts of the last ``TREND_RUNS`` runs, one point per date.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

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
    TrendPoint,
)
from crawler.store.previous import (
    METADATA,
    History,
    LinkKey,
    Remembered,
    link_key,
    read_history,
)

log = logging.getLogger(__name__)

REPORT_FILE = "latest.json"
FAILING = (Status.BROKEN, Status.UNVERIFIED)
HEALTHY = (Status.OK, Status.REDIRECTED)
# What this run could not check: the previous run's metadata stays (``carry_metadata``).
UNCHECKED = (Status.SKIPPED, Status.UNVERIFIED)


def load_history(
    report_dir: Path,
    *,
    links: Iterable[Link] | None = None,
    sessions: Iterable[SessionInfo] | None = None,
    video_metadata_only: bool = False,
) -> History | None:
    """What the next run needs of ``report_dir/latest.json`` (``read_history``), or None.

    None when there is no previous report (a first run) and when it cannot be used (damaged,
    hand-edited, another schema version): then a warning is logged and the run carries on as
    a first run rather than crashing.
    """
    path = Path(report_dir) / REPORT_FILE
    if not path.exists():
        return None
    try:
        return read_history(
            path, links=links, sessions=sessions, video_metadata_only=video_metadata_only
        )
    except Exception as exc:  # a bad previous report must never stop tonight's run
        log.warning("ignoring the previous report %s: %s (treating this as a first run)", path, exc)
        return None


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
    for name in METADATA:
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
        and any(getattr(r, name) is None for name in METADATA)
    ]
    if not unchecked:
        return
    more = load_history(report_dir, links=unchecked, sessions=sessions)
    if more is not None:
        remembered.update((k, v) for k, v in more.results.items() if _has_metadata(v))


def _has_metadata(prev: Remembered | None) -> bool:
    return prev is not None and any(getattr(prev, name) is not None for name in METADATA)


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
    report.trend = trend(report, history)


# Runs the trend keeps (about three months of nightly runs).
TREND_RUNS = 90


def trend(report: RunReport, previous: RunReport | History | None) -> list[TrendPoint]:
    """The previous report's trend with this run's counts added, the last ``TREND_RUNS`` kept.

    One point per date: a run on the date of the last point replaces it (a re-run the same
    day, a manual run after the nightly one), so the chart gains one point a day at most.
    A run that says nothing about the links' health adds nothing: an offline run, a run
    whose network was unreachable, a shard (its counts are a part; the merge adds the point).
    """
    history = _history(previous)
    points = [] if history is None else list(history.trend)
    if report.offline or report.network_unreachable or report.shard:
        return points[-TREND_RUNS:]
    counts = dict.fromkeys(Status, 0)
    for result in report.results:
        counts[result.status] += 1
    point = TrendPoint(
        date=report.generated_at[:10],
        ok=counts[Status.OK],
        broken=counts[Status.BROKEN],
        redirected=counts[Status.REDIRECTED],
        unverified=counts[Status.UNVERIFIED],
    )
    # Oldest first: a point dated after tonight (a clock set wrong) is dropped, not kept ahead.
    points = [p for p in points if p.date < point.date]
    points.append(point)
    return points[-TREND_RUNS:]


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
