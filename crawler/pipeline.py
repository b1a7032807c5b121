"""One run, top-down: catalogue → links → checks → findings → history → a RunReport.

The CLI calls ``run_check`` and then writes the reports; nothing here prints.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crawler import __version__, history
from crawler.catalog import load, session_infos
from crawler.findings import catalog_findings, find_duplicates, wrong_videos
from crawler.links import iter_links
from crawler.model import Finding, Link, LinkResult, RunReport, SessionInfo, Status
from crawler.services.base import Settings

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_INVALID = 2
EXIT_UNVERIFIED = 3


@dataclass(frozen=True)
class Shard:
    """``K/N``: this run checks the K-th of N deterministic slices of the links (1-based)."""

    index: int
    total: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            k, n = (int(x) for x in text.split("/"))
        except ValueError:
            raise ValueError(f"--shard takes K/N, e.g. 1/4 (got {text!r})") from None
        if not 1 <= k <= n:
            raise ValueError(f"--shard K/N needs 1 <= K <= N (got {text!r})")
        return cls(k, n)

    def owns(self, link: Link) -> bool:
        # By hash of the canonical key: stable when sessions are inserted, and all spellings of
        # one resource land in the same shard (so each is fetched once across the fan-out).
        digest = hashlib.sha256(link.key.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big") % self.total == self.index - 1

    def __str__(self) -> str:
        return f"{self.index}/{self.total}"


@dataclass
class CheckOptions:
    catalog_path: Path
    report_dir: Path
    offline: bool = False
    fail_after: int = 1
    shard: Shard | None = None
    settings: Settings = field(default_factory=Settings)


def offline_results(
    links: Sequence[Link], previous: dict[tuple[str, str, str], LinkResult]
) -> list[LinkResult]:
    """Links not checked; the previous run's metadata is kept so the catalogue still shows it."""
    out = []
    for link in links:
        old = previous.get((link.session_id, link.field, link.url))
        out.append(
            LinkResult(
                link=link,
                status=Status.SKIPPED,
                detail="not checked (offline run)",
                title=old.title if old else None,
                duration=old.duration if old else None,
                uploader=old.uploader if old else None,
                upload_date=old.upload_date if old else None,
                size=old.size if old else None,
                metadata_fetched_at=old.metadata_fetched_at if old else None,
            )
        )
    return out


def network_unreachable(results: Sequence[LinkResult]) -> bool:
    """True when links were checked and not one host answered: the network, not the links."""
    checked = [r for r in results if r.status is not Status.SKIPPED]
    return bool(checked) and all(r.network_error for r in checked)


def run_check(
    options: CheckOptions,
    *,
    on_plan: Callable[[int], None] | None = None,
    on_start: Callable[[Link], None] | None = None,
    on_result: Callable[[LinkResult], None] | None = None,
    engine_kwargs: dict[str, Any] | None = None,
) -> RunReport:
    """Check the catalogue and build the report (raises ``CatalogError`` on an invalid one)."""
    started = time.monotonic()
    generated_at = dt.datetime.now(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    catalog = load(options.catalog_path)
    sessions = session_infos(catalog)
    all_links = list(iter_links(catalog))
    links = [lk for lk in all_links if options.shard.owns(lk)] if options.shard else all_links

    if on_plan:
        on_plan(len(links))
    previous = history.load_previous(options.report_dir)
    cache = history.previous_results(previous)
    if options.offline:
        results = offline_results(links, cache)
        for r in results:
            if on_result:
                on_result(r)
    else:
        from crawler.engine import check_links  # the network stack loads only when needed

        results = check_links(
            links,
            options.settings,
            previous=cache,
            on_start=on_start,
            on_result=on_result,
            **(engine_kwargs or {}),
        )

    report = build_report(
        catalog_title=catalog.title,
        catalog_path=str(options.catalog_path),
        generated_at=generated_at,
        duration_seconds=round(time.monotonic() - started, 1),
        offline=options.offline,
        sessions=sessions,
        all_links=all_links,
        results=results,
        shard=str(options.shard) if options.shard else None,
    )
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
    findings: list[Finding] = [*catalog_findings(sessions, all_links), *wrong_videos(results)]
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
        duplicates=find_duplicates(all_links),
        network_unreachable=network_unreachable(results),
        shard=shard,
    )


def exit_code(report: RunReport) -> int:
    """0 healthy; 1 broken, duplicated or escalated; 3 nothing broken but some unverified."""
    if any(r.status is Status.BROKEN for r in report.results) or any(
        f.severity == "error" for f in report.findings
    ):
        return EXIT_PROBLEMS
    if report.network_unreachable or any(r.status is Status.UNVERIFIED for r in report.results):
        return EXIT_UNVERIFIED
    return EXIT_OK
