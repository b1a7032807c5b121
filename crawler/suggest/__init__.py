"""Suggested fixes for broken links, looked for after the checks (``suggest_fixes``).

A GitHub file not found at its ref: the closest name in the repository's tree at that ref
(``github_tree``). Any other broken link, or a file with no close name: the newest Wayback
Machine snapshot (``wayback``). Only a good guess is offered, as ``suggested``; a failed or
rate-limited question only means no suggestion. The requests go through an ``Engine`` (its
limits, retries and address guard), with the politeness each host declares below.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from crawler.config import HostLimits, Settings
from crawler.hosts import LinkKind, github_file
from crawler.model import Fix, Link, LinkResult, Status
from crawler.services.base import CheckContext, Service
from crawler.suggest.wayback import Unavailable, snapshot

log = logging.getLogger(__name__)

REAL_API, REAL_WAYBACK = "https://api.github.com", "https://web.archive.org"
# For tests only: "API_BASE WAYBACK_BASE" makes the suggestions ask a local server playing
# GitHub's API and the Wayback Machine; "none" asks nothing (the suite's default: its other
# servers play neither). Read in ``SuggestHosts.from_environment`` and nowhere else.
TEST_HOSTS_ENV = "CRAWLER_TEST_SUGGEST_HOSTS"


@dataclass(frozen=True)
class SuggestHosts:
    api: str = REAL_API
    wayback: str = REAL_WAYBACK

    @classmethod
    def from_environment(cls) -> SuggestHosts | None:
        value = os.environ.get(TEST_HOSTS_ENV, "").split()
        if not value:
            return cls()
        if value == ["none"]:
            return None
        if len(value) != 2:
            raise ValueError(f"{TEST_HOSTS_ENV} takes 'API_BASE WAYBACK_BASE' (got {value!r:.120})")
        return cls(api=value[0].rstrip("/"), wayback=value[1].rstrip("/"))


class Politeness(Service):
    """Checks no link: declares how gently the suggestions ask their hosts (the engine's gates
    read ``host_limits`` from its services)."""

    name = "suggestions"
    host_limits: ClassVar[Mapping[str, HostLimits]] = {
        "api.github.com": HostLimits(per_host=2, min_interval=0.5),
        "web.archive.org": HostLimits(per_host=1, min_interval=1.0),  # one polite request a second
    }

    def handles(self, link: Link) -> bool:
        return False

    async def check(self, link: Link, ctx: CheckContext) -> LinkResult:  # pragma: no cover
        raise NotImplementedError


# The Wayback Machine is asked one request a second (``Politeness``): a run asks it for at most
# this many broken links, the first in catalogue order, so that a catalogue with thousands of
# broken links still ends its suggestions within about a minute.
WAYBACK_PER_RUN = 60


def wanted(results: Sequence[LinkResult]) -> list[LinkResult]:
    """The links a suggestion is looked for: broken, with no fix yet."""
    return [r for r in results if r.status is Status.BROKEN and r.fix is None]


async def suggest_all(
    ctx: CheckContext, results: Sequence[LinkResult], hosts: SuggestHosts
) -> None:
    """Set ``fix`` on every broken result a suggestion is found for (in place): GitHub's trees
    first (together: one request per repository and ref), then the Wayback Machine for what
    is left, one link after another (it is asked one request a second anyway), and no more
    once it could not be asked: offline, or rate-limited, a run must not wait on it per link."""
    from crawler.suggest.github_tree import Trees

    trees = Trees(ctx, hosts.api)
    broken = wanted(results)

    async def did_you_mean(r: LinkResult) -> None:
        gh = github_file(r.link.url)
        if gh is not None:
            r.fix = await _in_time(ctx, r, trees.did_you_mean(gh))

    async with asyncio.TaskGroup() as tasks:
        for r in broken:
            if r.link.kind is LinkKind.GITHUB_FILE:
                tasks.create_task(did_you_mean(r))

    rest = [r for r in broken if r.fix is None]
    for asked, r in enumerate(rest[:WAYBACK_PER_RUN]):
        try:
            r.fix = await _in_time(ctx, r, snapshot(ctx, hosts.wayback, r.link.url))
        except Unavailable as exc:
            # Not a problem of the catalogue's: said at info level, as every "no suggestion".
            log.info(
                "the Wayback Machine could not be asked (%s): no snapshot suggested for %d "
                "more broken links",
                exc,
                min(len(rest), WAYBACK_PER_RUN) - asked,
            )
            return
    if len(rest) > WAYBACK_PER_RUN:  # said once they were asked: offline, none would be
        log.warning(
            "the Wayback Machine was asked about the first %d of %d broken links only",
            WAYBACK_PER_RUN,
            len(rest),
        )


async def _in_time(ctx: CheckContext, r: LinkResult, question: Awaitable[Fix | None]) -> Fix | None:
    """The answer to ``question`` within one link's time, or None: a suggestion is a nicety,
    it never fails the run (``Unavailable`` passes: it stops the Wayback questions)."""
    try:
        async with asyncio.timeout(ctx.settings.link_timeout):
            return await question
    except TimeoutError:
        log.debug("no suggestion for %s in time", r.link.url)
    except Unavailable:
        raise
    except Exception:
        log.warning("no suggestion for %s", r.link.url, exc_info=True)
    return None


def suggest_fixes(results: Sequence[LinkResult], settings: Settings, **engine_kwargs: Any) -> None:
    """``suggest_all`` in its own engine and event loop; nothing to do, no engine started."""
    hosts = SuggestHosts.from_environment()
    if hosts is None or not wanted(results):
        return
    from crawler.engine import Engine

    async def main() -> None:
        async with Engine(settings, services=[Politeness()], **engine_kwargs) as engine:
            await suggest_all(engine, results, hosts)

    asyncio.run(main())
