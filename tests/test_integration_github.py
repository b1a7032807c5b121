"""End to end: GitHub file links through the real CLI, against a local server playing GitHub.

The server plays raw.githubusercontent.com (under /raw) and github.com (under /web): a renamed
branch and a renamed repository whose raw URLs answer 404 while github.com redirects, a file
that is really gone, and a github.com that rate-limits. ``CRAWLER_TEST_GITHUB_HOSTS`` points
the crawler at it; the catalogue keeps its real github.com URLs.
"""

from __future__ import annotations

import os

from pytest_httpserver import HTTPServer
from test_integration import PDF, by_url, run_cli, write_catalog
from werkzeug import Response

REPO = "https://github.com/ConstantPark/DL_Compiler"
RENAMED_BRANCH = [f"{REPO}/blob/master/TVM.pdf", f"{REPO}/blob/master/XLA.pdf"]
RENAMED_REPO = "https://github.com/OldOrg/dlc/blob/main/Glow.pdf"
GONE = f"{REPO}/blob/main/Gone.pdf"
RATE_LIMITED = "https://github.com/Busy/repo/blob/main/a.pdf"


def play_github(server: HTTPServer) -> None:
    def moved(path: str) -> Response:
        return Response(status=301, headers={"Location": server.url_for(path)})

    for name in ("TVM.pdf", "XLA.pdf"):  # master was renamed to main
        server.expect_request(f"/raw/ConstantPark/DL_Compiler/master/{name}").respond_with_data(
            "404: Not Found", status=404
        )
        server.expect_request(f"/raw/ConstantPark/DL_Compiler/main/{name}").respond_with_data(
            PDF, content_type="application/octet-stream"
        )
    server.expect_request("/web/ConstantPark/DL_Compiler/tree/master").respond_with_response(
        moved("/web/ConstantPark/DL_Compiler/tree/main")
    )
    # OldOrg/dlc was renamed and transferred to NewOrg/dl-compiler.
    server.expect_request("/raw/OldOrg/dlc/main/Glow.pdf").respond_with_data("", status=404)
    server.expect_request("/web/OldOrg/dlc/tree/main").respond_with_response(
        moved("/web/NewOrg/dl-compiler/tree/main")
    )
    server.expect_request("/raw/NewOrg/dl-compiler/main/Glow.pdf").respond_with_data(PDF)
    # Gone.pdf was deleted from main, which is still there.
    server.expect_request("/raw/ConstantPark/DL_Compiler/main/Gone.pdf").respond_with_data(
        "404: Not Found", status=404
    )
    server.expect_request("/web/ConstantPark/DL_Compiler/tree/main").respond_with_data("<html>")
    server.expect_request("/web/ConstantPark/DL_Compiler/blob/main/Gone.pdf").respond_with_data(
        "<html>404</html>", status=404
    )
    # github.com's rate limit answers the question about Busy/repo.
    server.expect_request("/raw/Busy/repo/main/a.pdf").respond_with_data("", status=404)
    server.expect_request("/web/Busy/repo/tree/main").respond_with_data(
        "rate limit", status=403, headers={"x-ratelimit-remaining": "0"}
    )


def github_catalog(tmp_path):
    urls = [*RENAMED_BRANCH, RENAMED_REPO, GONE, RATE_LIMITED]
    sessions = [
        {"title": f"Talk {i}", "date": f"2021-0{i + 1}-01", "slides": url}
        for i, url in enumerate(urls)
    ]
    return write_catalog(tmp_path / "catalog.yaml", sessions)


def github_env(server: HTTPServer) -> dict[str, str]:
    base = server.url_for("").rstrip("/")
    return dict(os.environ, CRAWLER_TEST_GITHUB_HOSTS=f"{base}/web {base}/raw")


def test_cli_follows_github_renames_and_calls_broken_only_what_github_confirms(
    httpserver: HTTPServer, tmp_path
):
    play_github(httpserver)
    reports = tmp_path / "reports"

    done = run_cli(github_catalog(tmp_path), reports, "--allow-private", env=github_env(httpserver))

    assert done.returncode == 1, done.stdout + done.stderr  # Gone.pdf is broken
    links = by_url(reports)
    for url in RENAMED_BRANCH:
        assert links[url]["status"] == "redirected", links[url]["detail"]
        new = url.replace("master", "main")
        assert links[url]["fix"] == {"url": new, "kind": "certain", "source": "github"}
        assert links[url]["detail"].endswith("the branch master was renamed to main")
    glow = links[RENAMED_REPO]
    assert glow["status"] == "redirected", glow["detail"]
    assert glow["fix"] == {
        "url": "https://github.com/NewOrg/dl-compiler/blob/main/Glow.pdf",
        "kind": "certain",
        "source": "github",
    }
    assert links[GONE]["status"] == "broken"
    assert links[GONE]["detail"] == "file not found: Gone.pdf in ConstantPark/DL_Compiler at main"
    busy = links[RATE_LIMITED]
    assert busy["status"] == "unverified"
    assert busy["detail"].endswith(
        "but GitHub did not confirm it is gone (GitHub rate limit reached)"
    )
    # One question per repository and ref, however many of its files moved.
    asked = [request.path for request, _ in httpserver.log]
    assert asked.count("/web/ConstantPark/DL_Compiler/tree/master") == 1
    assert asked.count("/web/ConstantPark/DL_Compiler/tree/main") == 1
    # Gone.pdf is broken because its own github.com page answered 404 as well.
    assert asked.count("/web/ConstantPark/DL_Compiler/blob/main/Gone.pdf") == 1


def test_cli_still_refuses_a_private_address_playing_github(httpserver: HTTPServer, tmp_path):
    play_github(httpserver)
    reports = tmp_path / "reports"

    run_cli(github_catalog(tmp_path), reports, env=github_env(httpserver))

    assert {link["status"] for link in by_url(reports).values()} == {"skipped"}
    assert httpserver.log == []
