"""Write a benchmark catalogue: N links over the simulator's hosts, valid for crawler/catalog/.

Each session has a ``slides`` link (80 % PDFs under ``/slides/…pdf``, 20 % HTML pages under
``/page/…html``) and one presenter with a homepage (``/people/…/``); a share of the sessions
also has a ``video`` (``/video/…``, an HTML page with a JSON-LD VideoObject that yt-dlp's
generic extractor reads with one GET). Links go to the hosts round-robin, so every host gets
``N / H`` links (± 1), and every URL is distinct (no duplicate is folded away by the engine).

Run: ``python benchmarks/gen_catalog.py --links 10000 --sim-info sim.json --out catalog.yaml``
(or ``--hosts 127.0.0.2:8080,127.0.0.3:8080``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import math
from collections.abc import Sequence
from pathlib import Path

DEFAULT_VIDEO_SHARE = 0.01
FIRST_DATE = dt.date(2019, 1, 5)


def _check_loopback(hosts: Sequence[str]) -> None:
    for host in hosts:
        ip = host.rsplit(":", 1)[0]
        if not ipaddress.ip_address(ip).is_loopback:
            raise ValueError(f"{host}: the benchmark only points at loopback addresses")


def generate(
    n_links: int, hosts: Sequence[str], *, video_share: float = DEFAULT_VIDEO_SHARE
) -> str:
    """The catalogue's YAML text: exactly ``n_links`` links spread round-robin over ``hosts``.

    ``video_share`` is the share of *links* that are videos (0 ≤ share < 1).
    """
    if not hosts:
        raise ValueError("at least one host is needed")
    if not 0 <= video_share < 1:
        raise ValueError("video_share must be in [0, 1)")
    _check_loopback(hosts)
    # A session has slides + homepage (2 links) and a video with probability p; the share of
    # video links is p / (2 + p), so p = 2 s / (1 - s). Spread evenly with an accumulator.
    per_session = 2 * video_share / (1 - video_share)
    out = [
        "study:",
        '  title: "Benchmark catalogue"',
        '  repository: "https://example.org/benchmark"',
        "sessions:",
    ]
    links = 0
    session = 0
    owed = 0.0
    while links < n_links:
        date = FIRST_DATE + dt.timedelta(days=session // 3)
        out.append(f'  - title: "Benchmark talk {session:06d}"')
        out.append(f"    date: {date.isoformat()}")

        def url(path: str) -> str:
            nonlocal links
            # Each block of H links is a rotation of the hosts (equal counts per host); the
            # rotation shifts per block so every host gets slides, videos and homepages alike.
            h = len(hosts)
            host = hosts[(links + links // h) % h]
            links += 1
            return f"http://{host}{path}"

        html_slides = session % 5 == 4  # every 5th session: 20 % HTML slides, 80 % PDFs
        slides = f"/page/s{session:06d}.html" if html_slides else f"/slides/s{session:06d}.pdf"
        out.append(f'    slides: "{url(slides)}"')
        owed += per_session
        if owed >= 1 and links < n_links:
            owed -= 1
            out.append(f'    video: "{url(f"/video/v{session:06d}")}"')
        if links < n_links:
            out.append("    presenters:")
            out.append(f'      - name: "Speaker {session:06d}"')
            out.append(f'        url: "{url(f"/people/p{session:06d}/")}"')
        session += 1
    return "\n".join(out) + "\n"


def links_per_host(n_links: int, n_hosts: int) -> int:
    """The most links any one host gets from ``generate`` (each block of H links is a rotation)."""
    return math.ceil(n_links / n_hosts)


def hosts_from_info(path: Path) -> list[str]:
    """The ``hosts`` list of the simulator's info file."""
    return list(json.loads(path.read_text())["hosts"])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--links", type=int, required=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--sim-info", type=Path, help="the simulator's --info-file")
    src.add_argument("--hosts", help="comma-separated host:port list (loopback only)")
    p.add_argument("--video-share", type=float, default=DEFAULT_VIDEO_SHARE)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--urls-out", type=Path, default=None, help="also the URLs, one a line")
    a = p.parse_args(argv)
    hosts = hosts_from_info(a.sim_info) if a.sim_info else a.hosts.split(",")
    text = generate(a.links, hosts, video_share=a.video_share)
    a.out.write_text(text, encoding="utf-8")
    if a.urls_out:  # for lychee, which reads URLs from plain text
        from floor import urls_of_text  # beside this script

        a.urls_out.write_text("".join(f"{url}\n" for url in urls_of_text(text)), encoding="utf-8")


if __name__ == "__main__":
    main()
