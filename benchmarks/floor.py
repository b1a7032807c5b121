"""The floor under the crawler: the same requests with bare aiohttp, and nothing else.

    python benchmarks/floor.py CATALOG --per-host 4 --concurrency 200

One request per link, as the crawler's first request for it: ``GET`` with ``Range: bytes=0-1023``
for a ``.pdf``, ``GET`` for a video page, ``HEAD`` for anything else. The same politeness as the
crawler, and only that: the per-host limit, and a ``429`` with ``Retry-After`` pauses its host
and is asked again once, as a reset connection is (any polite checker has to). No other
retries, no safety checks, no verdicts, no catalogue validation, no reports, no yt-dlp: the
URLs are read from the catalogue with a regular expression. It prints one JSON line:
``{"links": N, "wall_s": …, "cpu_s": …}`` (wall time from the first request to the last answer).

What it shows is how close any Python checker built on aiohttp can come to the politeness
bound on this machine; ``bench.py`` runs it beside the crawler so the two are measured in the
same conditions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlsplit

URL = re.compile(r'^\s*(?:-\s*)?(?:slides|video|homepage|url):\s*"?(http[^"\s]+)"?\s*$', re.M)


def urls_of(catalog: Path) -> list[str]:
    return urls_of_text(catalog.read_text(encoding="utf-8"))


def urls_of_text(text: str) -> list[str]:
    return URL.findall(text)


async def fetch_all(urls: list[str], per_host: int, concurrency: int) -> int:
    # Imported here: bench.py reads URLs with this module and must stay small (each crawler
    # run it starts counts bench.py's memory in its own peak RSS).
    import aiohttp

    slots: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(per_host))
    not_before: dict[str, float] = defaultdict(float)  # a host's Retry-After pause ends
    loop = asyncio.get_running_loop()
    errors = 0
    work = iter(urls)
    connector = aiohttp.TCPConnector(limit=concurrency * 2)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            for url in work:
                path = urlsplit(url).path
                if path.endswith(".pdf"):
                    method, headers = "GET", {"Range": "bytes=0-1023"}
                elif "/video/" in path:
                    method, headers = "GET", {}
                else:
                    method, headers = "HEAD", {}
                host = urlsplit(url).netloc
                async with slots[host]:
                    for attempt in (1, 2):
                        if (pause := not_before[host] - loop.time()) > 0:
                            await asyncio.sleep(pause)
                        try:
                            async with session.request(method, url, headers=headers) as response:
                                await response.content.read(64 * 1024)
                                wait = response.headers.get("Retry-After", "")
                        except aiohttp.ClientError:
                            if attempt == 2:
                                errors += 1
                            continue
                        if response.status == 429 and wait.isdigit() and attempt == 1:
                            not_before[host] = max(not_before[host], loop.time() + int(wait))
                            continue
                        break

        await asyncio.gather(*(worker() for _ in range(concurrency * 2)))
    return errors


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("catalog", type=Path)
    p.add_argument("--per-host", type=int, default=4)
    p.add_argument("--concurrency", type=int, default=200)
    a = p.parse_args(argv)
    urls = urls_of(a.catalog)
    started, cpu = time.perf_counter(), time.process_time()
    errors = asyncio.run(fetch_all(urls, a.per_host, a.concurrency))
    print(
        json.dumps(
            {
                "links": len(urls),
                "errors": errors,
                "wall_s": round(time.perf_counter() - started, 3),
                "cpu_s": round(time.process_time() - cpu, 3),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
