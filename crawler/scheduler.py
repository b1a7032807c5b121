"""The work plan of a run: in which order the engine's workers take the links.

Each distinct (URL, field) is checked once; its repeats (a presenter's homepage in many
sessions) get a copy of the result. The links are queued per host, each host's videos first,
and handed out round-robin over the hosts, so a run of links to one slow host cannot fill
every worker.
"""

from __future__ import annotations

import array
from collections.abc import Iterator, Sequence
from urllib.parse import urlsplit

from crawler.model import Field, Link


def plan(links: Sequence[Link]) -> tuple[Iterator[int], dict[int, list[int]]]:
    """The indices of ``links`` to check, in order (one shared iterator for all workers), and
    the later indices of each repeated (URL, field), by the index of its first."""
    # Compact for 100,000 links: the first index of each (url, field), the later ones only
    # for the few URLs that repeat, and per host an array of indices, not of keys.
    first: dict[tuple[str, str], int] = {}
    repeats: dict[int, list[int]] = {}
    by_host: dict[str, array.array[int]] = {}
    # Videos go first on each host: a video may need yt-dlp (worker processes to start,
    # seconds of CPU), which then runs beside the plain checks instead of after them.
    videos: dict[str, list[int]] = {}
    for index, link in enumerate(links):
        owner = first.setdefault((link.url, link.field), index)
        if owner != index:
            repeats.setdefault(owner, []).append(index)
        else:
            host = _host_of(link.url)
            queue = by_host.setdefault(host, array.array("l"))
            if link.field == Field.VIDEO:
                videos.setdefault(host, []).append(index)
            else:
                queue.append(index)
    first.clear()
    for host, indices in videos.items():
        by_host[host] = array.array("l", indices) + by_host[host]
    work = _interleave(list(by_host.values()))
    by_host.clear()
    return work, repeats


def _host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def _interleave(queues: list[array.array[int]]) -> Iterator[int]:
    """Round-robin over hosts, so a run of links to one slow host does not fill every worker."""
    iterators = [iter(q) for q in queues]
    while iterators:
        still = []
        for queue in iterators:
            item = next(queue, None)
            if item is not None:
                yield item
                still.append(queue)
        iterators = still
