"""Suite-wide rules: no request may leave 127.0.0.1, in this process or in any subprocess."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer

NETGUARD_DIR = Path(__file__).parent / "netguard"
sys.path.insert(0, str(NETGUARD_DIR))
import netguard  # noqa: E402

netguard.install()

ROOT = Path(__file__).resolve().parent.parent

# Fixtures of the test files of one module (``fake_ydl``: yt-dlp replaced at ``YoutubeDL``).
pytest_plugins = ("youtube_fakes",)


@pytest.fixture(autouse=True)
def _no_stray_network(tmp_path_factory, monkeypatch):
    """Fail any test during which something tried to reach a non-loopback address."""
    log = tmp_path_factory.mktemp("netguard") / "violations.log"
    monkeypatch.setenv(netguard.LOG_ENV, str(log))
    # Subprocesses (the CLI run end to end) load the same guard through sitecustomize.
    existing = os.environ.get("PYTHONPATH")
    paths = [str(NETGUARD_DIR), str(ROOT)] + ([existing] if existing else [])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    # Proxies from the developer's shell must not divert test traffic.
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    # No suggestions for broken links (api.github.com, web.archive.org) unless a test plays
    # those hosts (tests/test_suggest*.py set their local server instead).
    monkeypatch.setenv("CRAWLER_TEST_SUGGEST_HOSTS", "none")
    yield
    if log.exists() and log.read_text().strip():
        pytest.fail("a test tried to leave 127.0.0.1:\n" + log.read_text(), pytrace=False)


PDF = b"%PDF-1.4\n%%EOF\n"
# Two loopback hosts: their links land in different processes of two (--jobs 2), as any two
# hosts do (``partition.split_by_host``).
TWO_HOSTS = ("127.0.0.7", "127.0.0.2")


@pytest.fixture
def two_hosts() -> Iterator[list[HTTPServer]]:
    """A server on each of ``TWO_HOSTS``: /slides/0.pdf … 5.pdf are PDFs, /slides/gone.pdf is
    a 404, /talk is an HTML page."""
    servers = []
    try:
        for host in TWO_HOSTS:
            server = HTTPServer(host=host, port=0)
            server.start()
            servers.append(server)
            for i in range(6):
                server.expect_request(f"/slides/{i}.pdf").respond_with_data(
                    PDF, content_type="application/pdf"
                )
            server.expect_request("/slides/gone.pdf").respond_with_data("no", status=404)
            server.expect_request("/talk").respond_with_data("<html><p>a talk</p></html>")
        yield servers
    finally:
        for server in servers:
            server.clear()
            server.stop()
