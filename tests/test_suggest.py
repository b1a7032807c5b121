"""Suggested fixes end to end (``crawler/suggest/``): the real CLI against a local server playing
GitHub (raw, github.com, the tree API) and the Wayback Machine, through
``CRAWLER_TEST_GITHUB_HOSTS`` and ``CRAWLER_TEST_SUGGEST_HOSTS``."""

from __future__ import annotations

import os
import re

import pytest
from pytest_httpserver import HTTPServer
from test_integration import by_url, run_cli, write_catalog
from test_repair import run_fix
from werkzeug import Request, Response

REPO = "https://github.com/ConstantPark/DL_Compiler"
RENAMED = f"{REPO}/blob/main/slides/Tvm_Talk.pdf"  # the file is now slides/TVM-Talk.pdf
GONE = f"{REPO}/blob/main/Gone.pdf"  # nothing like it in the tree, no snapshot either
TREE = [
    {"path": "slides", "type": "tree"},
    {"path": "slides/TVM-Talk.pdf", "type": "blob"},
    {"path": "slides/XLA.pdf", "type": "blob"},
    {"path": "README.md", "type": "blob"},
]
SNAPSHOT = "https://web.archive.org/web/20240101000000/{url}"


def play(server: HTTPServer, snapshots: dict[str, int]) -> None:
    """GitHub: both files 404 at main, which exists; the Wayback Machine answers each URL with
    the status ``snapshots`` gives it (302: its newest snapshot)."""
    for path in ("slides/Tvm_Talk.pdf", "Gone.pdf"):
        server.expect_request(f"/raw/ConstantPark/DL_Compiler/main/{path}").respond_with_data(
            "404: Not Found", status=404
        )
        server.expect_request(f"/web/ConstantPark/DL_Compiler/blob/main/{path}").respond_with_data(
            "<html>404</html>", status=404
        )
    server.expect_request("/web/ConstantPark/DL_Compiler/tree/main").respond_with_data("<html>")
    server.expect_request(
        "/api/repos/ConstantPark/DL_Compiler/git/trees/main", query_string="recursive=1"
    ).respond_with_json({"sha": "abc", "tree": TREE, "truncated": False})
    server.expect_request("/gone").respond_with_data("gone", status=404)
    server.expect_request("/busy").respond_with_data("gone", status=404)

    def wayback(request: Request) -> Response:
        url = request.full_path.removeprefix("/wayback/web/").removesuffix("?")
        status = snapshots.get(url, 404)
        if status == 302:
            return Response(status=302, headers={"Location": SNAPSHOT.format(url=url)})
        return Response("no", status=status)

    server.expect_request(re.compile(r"^/wayback/web/.*")).respond_with_handler(wayback)


def env(server: HTTPServer) -> dict[str, str]:
    base = server.url_for("").rstrip("/")
    return dict(
        os.environ,
        CRAWLER_TEST_GITHUB_HOSTS=f"{base}/web {base}/raw",
        CRAWLER_TEST_SUGGEST_HOSTS=f"{base}/api {base}/wayback",
    )


def test_broken_links_get_a_did_you_mean_or_a_snapshot_and_nothing_invented(
    httpserver: HTTPServer, tmp_path
):
    page, busy = httpserver.url_for("/gone"), httpserver.url_for("/busy")
    play(httpserver, {page: 302, busy: 429})
    sessions = [
        {"title": "TVM", "date": "2021-01-01", "slides": RENAMED, "homepage": page},
        {"title": "Gone", "date": "2021-02-01", "slides": GONE, "homepage": busy},
    ]
    catalog = write_catalog(tmp_path / "catalog.yaml", sessions)
    reports = tmp_path / "reports"

    done = run_cli(catalog, reports, "--allow-private", env=env(httpserver))

    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "warning" not in done.stderr.lower()
    links = by_url(reports)
    assert [links[u]["status"] for u in (RENAMED, GONE, page, busy)] == ["broken"] * 4
    assert links[RENAMED]["fix"] == {
        "url": f"{REPO}/blob/main/slides/TVM-Talk.pdf",
        "kind": "suggested",
        "source": "github-tree",
    }
    assert links[page]["fix"] == {
        "url": SNAPSHOT.format(url=page),
        "kind": "suggested",
        "source": "wayback",
    }
    # No close name and no snapshot (404), or the Wayback Machine rate-limited us: no fix.
    assert links[GONE]["fix"] is None
    assert links[busy]["fix"] is None
    # One tree request for the repository and ref, however many of its files are broken.
    trees = [r for r, _ in httpserver.log if "/git/trees/" in r.path]
    assert len(trees) == 1
    markdown = (reports / "latest.md").read_text(encoding="utf-8")
    assert (
        f"maybe <{REPO}/blob/main/slides/TVM-Talk.pdf> (suggested: a close name in the "
        "repository)" in markdown
    )
    # crawler fix leaves suggestions to a person unless asked.
    before = catalog.read_bytes()
    left = run_fix(catalog, reports / "latest.json")
    assert (left.returncode, catalog.read_bytes()) == (0, before)
    assert "nothing to fix; 2 suggested fixes left for a person to confirm" in left.stderr
    applied = run_fix(catalog, reports / "latest.json", "--include-suggested")
    assert applied.returncode == 0, applied.stderr
    assert catalog.read_bytes() == before.replace(
        RENAMED.encode(), f"{REPO}/blob/main/slides/TVM-Talk.pdf".encode()
    ).replace(f"url: {page}\n".encode(), f"url: {SNAPSHOT.format(url=page)}\n".encode())


class Recorder:
    """A context that answers Wayback questions with a snapshot (or, from the ``down``-th
    question on, with ``down_answer``), and records them."""

    def __init__(self, down: int | None = None, down_answer: dict | None = None) -> None:
        from crawler.config import Settings

        self.settings = Settings()
        self.asked: list[str] = []
        self.down, self.down_answer = down, down_answer or {}

    async def fetch(self, url: str, **kwargs: object):
        from crawler.services.base import FetchResult

        self.asked.append(url)
        if self.down is not None and len(self.asked) > self.down:
            return FetchResult(url, url, **self.down_answer)
        return FetchResult(url, url, status=302, headers={"location": "/web/2024/" + url})


def broken_results(count: int) -> list:
    from crawler.links import make_link
    from crawler.model import LinkResult, Status

    return [
        LinkResult(
            make_link(f"s{i}", "T", "2021-01-01", "slides", f"https://h{i}.example/a.pdf"),
            Status.BROKEN,
            "404",
        )
        for i in range(count)
    ]


def test_the_wayback_machine_is_asked_about_the_first_broken_links_only(monkeypatch, caplog):
    import asyncio
    import logging

    from crawler import suggest

    monkeypatch.setattr(suggest, "WAYBACK_PER_RUN", 2)
    results = broken_results(5)
    ctx = Recorder()
    hosts = suggest.SuggestHosts(api="https://api.test", wayback="https://wayback.test")
    with caplog.at_level(logging.WARNING, logger="crawler.suggest"):
        asyncio.run(suggest.suggest_all(ctx, results, hosts))  # type: ignore[arg-type]

    assert sorted(ctx.asked) == [
        "https://wayback.test/web/https://h0.example/a.pdf",
        "https://wayback.test/web/https://h1.example/a.pdf",
    ]
    assert [r.fix is not None for r in results] == [True, True, False, False, False]
    assert "was asked about the first 2 of 5 broken links only" in caplog.text


@pytest.mark.parametrize(
    "down_answer",
    [
        {"error": "web.archive.org: no such host", "error_kind": "network"},  # offline
        {"status": 429, "headers": {"retry-after": "3600"}},
        {"status": 503},
    ],
)
def test_once_the_wayback_machine_cannot_be_asked_it_is_asked_no_more(
    down_answer, monkeypatch, caplog
):
    """Offline, 100 broken links cost one question, not 100 at one a second."""
    import asyncio
    import logging

    from crawler import suggest

    monkeypatch.setattr(suggest, "WAYBACK_PER_RUN", 5)
    results = broken_results(6)
    ctx = Recorder(down=2, down_answer=down_answer)
    hosts = suggest.SuggestHosts(api="https://api.test", wayback="https://wayback.test")
    with caplog.at_level(logging.INFO, logger="crawler.suggest"):
        asyncio.run(suggest.suggest_all(ctx, results, hosts))  # type: ignore[arg-type]

    assert len(ctx.asked) == 3  # two snapshots, then the question that found it unavailable
    assert [r.fix is not None for r in results] == [True, True, False, False, False, False]
    assert "could not be asked" in caplog.text and "for 3 more broken links" in caplog.text
    # Nor a word about the cap on questions it never got to ask.
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
