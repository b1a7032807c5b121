"""The remote services, in the order they are asked whether they handle a link.

Adding a host means adding a module with a ``Service`` subclass and one line here; the generic
service comes last because it handles everything. Fresh instances per run: services may keep
per-run state, never shared across runs (yt-dlp's instances live in the engine's worker
processes, which end with the run).
"""

from __future__ import annotations

from crawler.services.base import Service


def default_services() -> list[Service]:
    # Imported here so that `--offline` and `--help` never pay for yt-dlp and bs4.
    from crawler.services.generic import GenericService
    from crawler.services.github import GitHubService
    from crawler.services.slideshare import SlideShareService
    from crawler.services.youtube import YouTubeService

    return [GitHubService(), SlideShareService(), YouTubeService(), GenericService()]
