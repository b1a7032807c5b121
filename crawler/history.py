"""Memory between runs: failure counters, escalation, and what changed since the last report.

The previous run is simply the previous ``latest.json``. A link is the same link across runs
when its ``(session id, field, url)`` is the same: the session id is the date and a slug of the
title, so reordering the catalogue keeps history, while editing a URL starts afresh.

Counting rules (``apply``):

- ``broken`` and ``unverified`` are failures: ``consecutive_failures`` goes up by one and
  ``first_failed`` keeps the time of the first failing run of the streak.
- ``ok`` and ``redirected`` are healthy: the counter goes back to 0, ``first_failed`` to None.
- ``skipped`` says nothing about the link (an ``--offline`` run, a filtered link): the previous
  counters are carried over unchanged, and so is its metadata (title, duration, size), so an
  offline run neither resets a streak nor empties the next run's metadata cache.
- likewise an ``unverified`` result caused by our own network (``network_error`` in a run that
  is ``network_unreachable``) carries the counters over: a CI runner without internet says
  nothing about the links, and must not escalate every link after a few nights.
"""

from __future__ import annotations

import logging
from pathlib import Path

from crawler.model import Changes, Finding, LinkResult, RunReport, Status
from crawler.report import json as json_report

log = logging.getLogger(__name__)

REPORT_FILE = "latest.json"
FAILING = (Status.BROKEN, Status.UNVERIFIED)
HEALTHY = (Status.OK, Status.REDIRECTED)
_METADATA = ("title", "duration", "uploader", "upload_date", "size", "metadata_fetched_at")

LinkKey = tuple[str, str, str]


def link_key(result: LinkResult) -> LinkKey:
    return (result.link.session_id, result.link.field, result.link.url)


def load_previous(report_dir: Path) -> RunReport | None:
    """The previous run's report from ``report_dir/latest.json``, or None.

    None when there is no previous report (a first run) and when it cannot be used (damaged,
    hand-edited, another schema version): then a warning is logged and the run carries on as
    a first run rather than crashing.
    """
    path = Path(report_dir) / REPORT_FILE
    if not path.exists():
        return None
    try:
        return json_report.load(path)
    except Exception as exc:  # a bad previous report must never stop tonight's run
        log.warning("ignoring the previous report %s: %s (treating this as a first run)", path, exc)
        return None


def previous_results(previous: RunReport | None) -> dict[LinkKey, LinkResult]:
    """The previous run's results by ``(session_id, field, url)`` (the engine's metadata cache)."""
    if previous is None:
        return {}
    out: dict[LinkKey, LinkResult] = {}
    for result in previous.results:
        out.setdefault(link_key(result), result)
    return out


def _was_failing(prev: LinkResult) -> bool:
    # A skipped previous result still carries the streak it inherited.
    return prev.status in FAILING or (
        prev.status is Status.SKIPPED and prev.consecutive_failures > 0
    )


def _was_broken(prev: LinkResult) -> bool:
    # After an offline run we only know "it was failing", not whether broken or unverified.
    return prev.status is Status.BROKEN or (
        prev.status is Status.SKIPPED and prev.consecutive_failures > 0
    )


def _carry(result: LinkResult, prev: LinkResult | None) -> None:
    if prev is None:
        result.consecutive_failures, result.first_failed = 0, None
        return
    result.consecutive_failures = prev.consecutive_failures
    result.first_failed = prev.first_failed


def apply(report: RunReport, previous: RunReport | None, *, fail_after: int = 1) -> None:
    """Update failure counters, add ``escalated`` findings and fill ``report.changes``.

    Escalation: a link that is ``unverified`` in this run and has failed for at least
    ``fail_after`` consecutive runs gets an ``escalated`` finding (severity error, so the run
    exits 1 instead of 3). ``fail_after == 1`` (the default) never escalates: with it a run
    whose only problems are unverified links must still exit 3 ("could not check"), not 1.
    So escalation starts at ``fail_after >= 2`` — "unverified two nights in a row is a problem".
    Broken links are not escalated: they are errors already.
    """
    prev_by_key = previous_results(previous)
    escalated: list[Finding] = []
    for result in report.results:
        prev = prev_by_key.get(link_key(result))
        own_network = report.network_unreachable and result.network_error
        if result.status is Status.SKIPPED or (result.status is Status.UNVERIFIED and own_network):
            _carry(result, prev)
            if prev is not None and result.status is Status.SKIPPED:
                for name in _METADATA:
                    if getattr(result, name) is None:
                        setattr(result, name, getattr(prev, name))
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
                    "escalated",
                    "error",
                    f"unverified for {result.consecutive_failures} consecutive runs "
                    f"since {since}: {result.detail}",
                    fix="check the link by hand; fix or remove it if it is really gone",
                )
            )
    # Idempotent: applying twice must not add the same findings twice.
    report.findings = [f for f in report.findings if f.kind != "escalated"] + escalated
    report.changes = changes(report, previous, prev_by_key)


def changes(
    report: RunReport,
    previous: RunReport | None,
    prev_by_key: dict[LinkKey, LinkResult] | None = None,
) -> Changes:
    """What changed since ``previous`` (an empty ``Changes`` without baseline on a first run)."""
    if previous is None:
        return Changes()
    if prev_by_key is None:
        prev_by_key = previous_results(previous)
    newly_broken, recovered = [], []
    for result in report.results:
        prev = prev_by_key.get(link_key(result))
        if result.status is Status.BROKEN and (prev is None or not _was_broken(prev)):
            newly_broken.append(result)
        elif result.status in HEALTHY and prev is not None and _was_failing(prev):
            recovered.append(result)
    current_ids = {s.id for s in report.sessions}
    previous_ids = {s.id for s in previous.sessions}
    new_sessions = [s for s in report.sessions if s.id not in previous_ids]
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
