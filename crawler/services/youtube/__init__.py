"""Videos: YouTube links and every catalogue ``video`` link, checked with yt-dlp.

- ``service.py``: ``YouTubeService``, the check: which source is asked when (the previous
  run's metadata, yt-dlp, YouTube's oEmbed);
- ``worker.py``: what runs in the yt-dlp worker process (``extract_video``): the byte caps on
  what yt-dlp reads, the vetting of every request it makes;
- ``messages.py``: yt-dlp's error messages → statuses (``MESSAGE_RULES``) and plain words;
- ``metadata.py``: title, duration, uploader and date read out of yt-dlp's answer, bounded;
  "direct link" verdicts; the metadata cache's freshness;
- ``oembed.py``: the oEmbed probe and fallback.

``worker.py`` is imported by every worker process (``extract_video`` is sent to it by name):
importing it must not load the service side, so ``YouTubeService`` is loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crawler.services.youtube.service import YouTubeService

__all__ = ["YouTubeService"]


def __getattr__(name: str) -> Any:
    if name == "YouTubeService":
        from crawler.services.youtube.service import YouTubeService

        return YouTubeService
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
