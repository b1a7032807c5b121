"""Pages that real yt-dlp reads in the tests, served by local servers."""

from __future__ import annotations

import json


def talk_page(title: str, media_url: str, duration: str = "PT1H2M3S") -> str:
    """A talk page whose video only schema.org JSON-LD describes (yt-dlp's generic extractor).

    yt-dlp uses the VideoObject only when it has a ``contentUrl``; ``encodingFormat`` makes it
    a direct video, so ``extract_info(process=False)`` returns without touching the media.
    """
    video = {
        "@context": "https://schema.org",
        "@type": "VideoObject",
        "name": title,
        "duration": duration,
        "uploadDate": "2021-02-25T10:00:00+09:00",
        "contentUrl": media_url,
        "embedUrl": media_url,
        "encodingFormat": "video/mp4",
        "author": {"@type": "Person", "name": "Constant Park"},
    }
    return (
        "<!doctype html><html><head><title>Talk</title>"
        f'<script type="application/ld+json">{json.dumps(video)}</script>'
        "</head><body><h1>Talk</h1></body></html>"
    )
