"""What one run is asked to do: its settings and limits, its shard, and its check options.

The CLI fills these from its options; the pipeline, the engine and the services read them.
Plain records with their parsers, so every layer may import them without importing another.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from crawler.model import Link


@dataclass(frozen=True)
class HostLimits:
    """How gently to treat one host: at most ``per_host`` requests in flight, and at least
    ``min_interval`` seconds between request starts.

    A service declares them for its site (the stricter of these and the run's own settings
    wins); a user sets them per domain (``--host-limit``), and then they hold as given.
    """

    per_host: int
    min_interval: float

    @classmethod
    def parse(cls, text: str) -> tuple[str, HostLimits]:
        """``DOMAIN=N`` or ``DOMAIN=N/SECONDS`` → (domain, limits); ``ValueError`` otherwise."""
        usage = f"takes DOMAIN=N or DOMAIN=N/SECONDS, e.g. github.com=8/0.1 (got {text!r:.80})"
        domain, sep, rest = text.partition("=")
        count, _, interval = rest.partition("/")
        domain = domain.strip().lower().removeprefix("*.").rstrip(".")
        if not sep or not _DOMAIN.fullmatch(domain):
            raise ValueError(usage)
        try:
            limits = cls(int(count), float(interval) if interval else 0.0)
        except ValueError:
            raise ValueError(usage) from None
        if not 1 <= limits.per_host <= 64 or not 0 <= limits.min_interval <= 60:
            raise ValueError(f"needs 1 <= N <= 64 and 0 <= SECONDS <= 60 (got {text!r:.80})")
        return domain, limits


# A host name or an IPv4 address, as the engine compares them (lower case, no port).
_DOMAIN = re.compile(r"[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*")


def limits_for(host: str, table: Iterable[tuple[str, HostLimits]]) -> HostLimits | None:
    """The limits of ``table`` for ``host``: the longest domain that is ``host`` or a parent
    of it (``www.youtube.com`` → ``youtube.com``), the first one listed on a tie."""
    host = host.lower().rstrip(".")
    best: tuple[int, HostLimits] | None = None
    for domain, limits in table:
        if (host == domain or host.endswith("." + domain)) and (
            best is None or len(domain) > best[0]
        ):
            best = (len(domain), limits)
    return best[1] if best else None


BUDGET_SLACK_S = 10.0  # the backoffs between retries (under 5 s for 3 attempts), and then some


def link_budget(timeout: float, retries: int = 3) -> float:
    """The time one link may take in all, given ``timeout`` for a connection or a read:
    one timeout per attempt and one more for a follow-up request (a HEAD confirmed with a
    GET, a moved GitHub file), plus ``BUDGET_SLACK_S``. ``--timeout 20``: 90 s; 5: 30 s."""
    return (retries + 1) * timeout + BUDGET_SLACK_S


@dataclass(frozen=True)
class Settings:
    """Knobs of one run; the CLI fills them, tests build them directly."""

    concurrency: int = 256  # global requests in flight (the per-host limit binds first)
    per_host: int = 4  # requests in flight per host
    min_interval: float = 0.0  # seconds between request starts to one host
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    # Total time budget for one link, retries, redirects and Retry-After pauses included
    # (the CLI derives it from --timeout: ``link_budget``).
    link_timeout: float = link_budget(20.0)
    max_redirects: int = 10
    max_body_bytes: int = 64 * 1024
    retries: int = 3  # attempts for transient failures (the first try included)
    # Cap on a server's Retry-After; one that would end after the link's budget is not
    # waited for at all (the engine gives the answer as it is).
    max_retry_after: float = 60.0
    allow_private: bool = False
    github_token: str | None = None
    # The YouTube Data API's key (YOUTUBE_API_KEY): None asks no API. Never printed.
    youtube_api_key: str | None = field(default=None, repr=False)
    user_agent: str = ""  # filled by the engine when empty
    video_workers: int = 2  # yt-dlp worker processes (started on the first video)
    metadata_max_age_days: float = 7.0  # reuse video titles/durations this long
    # The user's own limits by domain (--host-limit): they replace both the per_host and
    # min_interval above and a service's built-in limits for that domain and its subdomains.
    host_limits: tuple[tuple[str, HostLimits], ...] = ()


def youtube_api_key(name: str | None) -> str | None:
    """The YouTube Data API key in the environment variable ``name``, by default
    ``YOUTUBE_API_KEY`` (unset or empty: no key, the videos go to yt-dlp); a variable named on
    purpose must hold one (``ValueError``)."""
    key = os.environ.get(name or "YOUTUBE_API_KEY", "").strip()
    if name and not key:
        raise ValueError(f"the environment variable {name} is not set (or is empty)")
    return key or None


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
    """What ``check`` is asked to do: the catalogue, where the reports go, and how."""

    catalog_path: Path
    report_dir: Path
    offline: bool = False
    fail_after: int = 1
    shard: Shard | None = None
    settings: Settings = field(default_factory=Settings)
    jobs: int | None = None  # processes for the online checks; None: partition.auto_jobs
    # yt-dlp processes of the run (overrides ``settings.video_workers``); None:
    # partition.auto_video_workers
    video_workers: int | None = None
