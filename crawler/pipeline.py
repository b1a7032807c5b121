"""One run, top-down: catalogue → links → checks → findings → history → a RunReport.

The CLI calls ``run_check`` and then writes the reports; nothing here prints.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Sequence
from itertools import islice, pairwise
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler import __version__, history
from crawler.catalog import load, session_infos
from crawler.config import CheckOptions, Shard
from crawler.findings import catalog_findings, find_duplicates, wrong_videos
from crawler.links import iter_links
from crawler.model import (
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
from crawler.store.previous import History

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_INVALID = 2
EXIT_UNVERIFIED = 3
EXIT_CRASHED = 4  # an unexpected exception: a bug in the crawler, never a verdict on links
EXIT_INTERRUPTED = 130  # Ctrl-C, in any phase


def offline_results(links: Sequence[Link]) -> list[LinkResult]:
    """Links not checked (history.apply carries the previous run's metadata over)."""
    return [
        LinkResult(link=lk, status=Status.SKIPPED, detail="not checked (offline run)")
        for lk in links
    ]


def network_unreachable(results: Sequence[LinkResult]) -> bool:
    """True when links on several hosts were checked and not one answered: the network, not
    the links. One host down is that host's problem (its links say so), not the network's."""
    checked = [r for r in results if r.status is not Status.SKIPPED]
    if not all(r.network_error for r in checked):  # first: it settles nearly every run at once
        return False
    return len({urlsplit(r.link.url).hostname for r in checked}) >= 2


def run_check(
    options: CheckOptions,
    *,
    on_plan: Callable[[int, int], None] | None = None,
    on_start: Callable[[Link], None] | None = None,
    on_result: Callable[[LinkResult], None] | None = None,
    engine_kwargs: dict[str, Any] | None = None,
) -> RunReport:
    """Check the catalogue and build the report (raises ``CatalogError`` on an invalid one)."""
    started = time.monotonic()
    generated_at = dt.datetime.now(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    catalog = load(options.catalog_path)
    catalog_title, catalog_sha256 = catalog.title, catalog.sha256
    sessions = session_infos(catalog)
    all_links = list(iter_links(catalog))
    del catalog  # its sessions, presenters and positions are not needed any more
    links = [lk for lk in all_links if options.shard.owns(lk)] if options.shard else all_links

    settings = options.settings
    if options.video_workers is not None:
        settings = dataclasses.replace(settings, video_workers=options.video_workers)
    elif not options.offline:
        from crawler.partition import auto_video_workers

        workers = auto_video_workers(links, settings.per_host)
        settings = dataclasses.replace(settings, video_workers=workers)
    groups: list[list[int]] = []
    if not options.offline and not engine_kwargs:  # an injected transport stays in-process
        from crawler.partition import auto_jobs, split_by_host

        jobs = options.jobs or auto_jobs(len(links))
        if jobs > 1:
            # Fewer when there are fewer hosts.
            groups = split_by_host(links, jobs, video_workers=settings.video_workers)
    if on_plan:
        on_plan(len(links), max(1, len(groups)))
    # The previous run as far as this one needs it: a compact record per link of this catalogue.
    previous = history.load_history(
        options.report_dir,
        links=all_links,
        sessions=sessions,
        video_metadata_only=not options.offline,  # an online run fetches the pages again
    )
    cache = history.previous_results(previous)
    if options.offline:
        results = offline_results(links)
        for r in results:
            if on_result:
                on_result(r)
    elif len(groups) > 1:
        from crawler.processes import check_in_processes

        results = check_in_processes(
            links,
            settings,
            groups,
            previous=cache,
            on_start=on_start,
            on_result=on_result,
        )
    else:
        from crawler.engine import check_links  # the network stack loads only when needed

        results = check_links(
            links,
            settings,
            previous=cache,
            on_start=on_start,
            on_result=on_result,
            **(engine_kwargs or {}),
        )

    if not options.offline and not network_unreachable(results):
        from crawler.suggest import suggest_fixes  # broken links only: "did you mean", Wayback

        suggest_fixes(results, settings, **(engine_kwargs or {}))
    if not options.offline:  # only videos' metadata was remembered (see load_history above)
        history.fill_metadata(previous, options.report_dir, results, sessions)
    history.carry_metadata(results, previous)  # before the findings: a title tells wrong videos
    report = build_report(
        catalog_title=catalog_title,
        catalog_path=str(options.catalog_path),
        generated_at=generated_at,
        duration_seconds=round(time.monotonic() - started, 1),
        offline=options.offline,
        sessions=sessions,
        all_links=all_links,
        results=results,
        shard=str(options.shard) if options.shard else None,
    )
    report.catalog_sha256 = catalog_sha256
    history.apply(report, previous, fail_after=options.fail_after)
    return report


def build_report(
    *,
    catalog_title: str,
    catalog_path: str,
    generated_at: str,
    duration_seconds: float,
    offline: bool,
    sessions: list[SessionInfo],
    all_links: Sequence[Link],
    results: list[LinkResult],
    shard: str | None = None,
) -> RunReport:
    """Findings are catalogue-wide, so they come from every link even in a shard."""
    duplicates = find_duplicates(all_links)
    findings: list[Finding] = [
        *catalog_findings(sessions, all_links, duplicates),
        *wrong_videos(results),
    ]
    return RunReport(
        catalog_title=catalog_title,
        catalog_path=catalog_path,
        generated_at=generated_at,
        duration_seconds=duration_seconds,
        version=__version__,
        offline=offline,
        sessions=sessions,
        results=results,
        findings=findings,
        duplicates=duplicates,
        network_unreachable=network_unreachable(results),
        shard=shard,
        # Said once per run, however many links met it (the YouTube Data API key refused).
        notes=list(dict.fromkeys(r.run_note for r in results if r.run_note)),
    )


def exit_code(report: RunReport) -> int:
    """0 healthy; 1 broken, duplicated or escalated; 3 nothing broken but some unverified
    (or, online, skipped: 0 means every link verified healthy, and a skipped one was not).

    A run whose network was unreachable is 3 whatever else it found: it could not do its job,
    and a nightly job must not fail (or open an issue) because its runner was offline. The
    catalogue's own problems are still printed and reported; ``--offline`` is their gate.
    """
    if report.network_unreachable:
        return EXIT_UNVERIFIED
    if any(r.status is Status.BROKEN for r in report.results) or any(
        f.severity == Severity.ERROR for f in report.findings
    ):
        return EXIT_PROBLEMS
    if any(r.status is Status.UNVERIFIED for r in report.results):
        return EXIT_UNVERIFIED
    if not report.offline and any(r.status is Status.SKIPPED for r in report.results):
        return EXIT_UNVERIFIED  # a link refused (a private address) was not verified healthy
    return EXIT_OK


# What to do about a part merge cannot use.
_PARTS_HINT = "merge takes the shard-K-of-N.json files of one `check --shard K/N` run, each once"


def load_parts(paths: Sequence[Path]) -> list[RunReport]:
    """The partial reports of ``check --shard`` runs, read for ``merge_reports``.

    In little memory: every part lists the whole catalogue's sessions and findings, so the
    sessions are shared with the first part's, and only the findings a merge keeps
    (escalations; the rest it finds again over all links) are read. A part that cannot be
    read is a ``ValueError`` naming it and what merge takes.
    """
    from crawler.store import decode

    parts: list[RunReport] = []
    for path in paths:
        like = parts[0] if parts else None
        try:
            parts.append(decode.load(path, like=like, finding_kinds={FindingKind.ESCALATED}))
        except ValueError as exc:
            raise ValueError(f"{exc}; {_PARTS_HINT}") from None
    return parts


def merge_parts(paths: Sequence[Path], report_dir: Path) -> RunReport:
    """``merge_reports`` of the parts at ``paths``, against the previous run in ``report_dir``."""
    parts = load_parts(paths)
    # What the changes section needs of the previous run, for these links only (a previous
    # report read whole was most of a 100,000-link merge's memory).
    previous = history.load_history(
        report_dir,
        links=[r.link for part in parts for r in part.results],
        sessions=parts[0].sessions if parts else None,
    )
    return merge_reports(parts, previous, names=[str(path) for path in paths])


def check_parts(parts: Sequence[RunReport], names: Sequence[str]) -> list[Shard]:
    """The shards of ``parts``, once they are known to be the parts of one sharded run.

    Otherwise a ``ValueError`` naming the part (``names``, in the same order) and what is
    wrong: not a part, parts of different shardings or catalogues, a shard missing or given
    twice, a link its shard does not own or a session the catalogue does not have.
    """
    if not parts:
        raise ValueError("merge needs at least one partial report")
    shards = []
    for part, name in zip(parts, names, strict=True):
        if not part.shard:
            raise ValueError(f"{name}: not a partial report (made without --shard); {_PARTS_HINT}")
        try:
            shards.append(Shard.parse(part.shard))
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}; {_PARTS_HINT}") from None
    totals = {s.total for s in shards}
    if len(totals) != 1:
        which = ", ".join(f"{name} is {shard}" for name, shard in zip(names, shards, strict=True))
        raise ValueError(f"the parts come from different shardings ({which}); {_PARTS_HINT}")
    (total,) = totals
    indexes = sorted(s.index for s in shards)
    # (len first: a part may claim to be 1 of a trillion, a range not to be built)
    if len(indexes) != total or indexes != list(range(1, total + 1)):
        present = set(indexes)
        absent = (i for i in range(1, total + 1) if i not in present)
        missing = [f"{i}/{total}" for i in islice(absent, 10)]  # the first few say enough
        if total - len(present) > len(missing):
            missing.append(f"… {total - len(present) - len(missing):,} more")
        extra = sorted(i for i in present if indexes.count(i) > 1)
        named = list(zip(names, shards, strict=True))
        twice = [
            f"{i}/{total} ({' and '.join(n for n, s in named if s.index == i)})" for i in extra
        ]
        raise ValueError(
            f"the parts must be shards 1..{total} once each"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; repeated {', '.join(twice)}" if twice else "")
        )
    first = parts[0]
    ids = [s.id for s in first.sessions]
    known = set(ids)
    if len(known) != len(ids):
        seen: set[str] = set()
        for sid in ids:
            if sid in seen:
                raise ValueError(f"{names[0]}: session {sid!r:.100} is listed twice; {_PARTS_HINT}")
            seen.add(sid)
    for part, name, shard in zip(parts, names, shards, strict=True):
        if part is not first and [s.id for s in part.sessions] != ids:
            raise ValueError(
                f"{name} was made from another catalogue than {names[0]} (their sessions "
                f"differ); {_PARTS_HINT}"
            )
        for r in part.results:
            link = r.link
            if link.session_id not in known:
                raise ValueError(
                    f"{name}: link {link.url!r:.200} names session {link.session_id!r:.100}, "
                    f"which is not in its catalogue (a damaged or hand-made part); {_PARTS_HINT}"
                )
            if not shard.owns(link):
                raise ValueError(
                    f"{name}: link {link.url!r:.200} ({link.session_id}, {link.field}) is not "
                    f"one of shard {shard}'s (a part of another catalogue or sharding); "
                    f"{_PARTS_HINT}"
                )
    return shards


def merge_reports(
    parts: Sequence[RunReport],
    previous: RunReport | History | None,
    *,
    names: Sequence[str] | None = None,
) -> RunReport:
    """Combine the partial reports of ``check --shard K/N`` into the report one run would make.

    Each shard already applied history to its own links against the same previous report, so
    per-link counters and escalations carry over as they are; what is catalogue-wide
    (duplicates, findings, changes in sessions) is computed again over all links. ``names``:
    what to call the parts in errors (see ``check_parts``; by default "part 1", …).
    """
    names = names or [f"part {i}" for i in range(1, len(parts) + 1)]
    check_parts(parts, names)
    first = parts[0]
    order = {s.id: i for i, s in enumerate(first.sessions)}
    rank = {field: i for i, field in enumerate(Field)}

    def place(r: LinkResult) -> tuple[int, int, int, int, str]:
        link = r.link
        return (order[link.session_id], rank[link.field], link.line, link.column, link.url)

    results = sorted((r for part in parts for r in part.results), key=place)
    for a, b in pairwise(results):  # sorted by place, a link given twice is next to itself
        if a.link.line == b.link.line and place(a) == place(b):
            where = [n for n, p in zip(names, parts, strict=True) if any(r is b for r in p.results)]
            raise ValueError(
                f"{' and '.join(where or names[:1])}: link {b.link.url!r:.200} "
                f"({b.link.session_id}, {b.link.field}, line {b.link.line}) is given twice; "
                f"{_PARTS_HINT}"
            )
    report = build_report(
        catalog_title=first.catalog_title,
        catalog_path=first.catalog_path,
        generated_at=min(p.generated_at for p in parts),
        duration_seconds=max(p.duration_seconds for p in parts),
        offline=all(p.offline for p in parts),
        sessions=list(first.sessions),
        all_links=[r.link for r in results],
        results=results,
    )
    hashes = {p.catalog_sha256 for p in parts}
    report.catalog_sha256 = hashes.pop() if len(hashes) == 1 else None
    report.findings += [f for p in parts for f in p.findings if f.kind == FindingKind.ESCALATED]
    report.notes = list(dict.fromkeys(note for p in parts for note in p.notes))
    report.changes = history.changes(report, previous)
    report.trend = history.trend(report, previous)
    return report
