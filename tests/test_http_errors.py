"""Plain words for a request that got no answer (``crawler.http.errors``)."""

from __future__ import annotations

import asyncio
import socket

import httpx
import respx
from engine_fakes import Sleeps, fetch
from pytest_httpserver import HTTPServer

from crawler.config import Settings
from crawler.engine import Engine
from crawler.services.base import FetchResult


@respx.mock
def test_connection_refused_is_said_in_plain_words():
    cause = ConnectionRefusedError(111, "Connection refused")
    error = httpx.ConnectError("[Errno 111] Connection refused")
    error.__cause__ = cause
    respx.get("https://example.org/x").mock(side_effect=error)
    fr = fetch("https://example.org/x")
    assert fr.error == "connection refused by example.org"


def test_default_transport_reports_connection_refused(httpserver: HTTPServer):
    # A port that was free a moment ago: bind, note it, close.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(allow_private=True, retries=2)
    sleeps = Sleeps()

    async def main() -> FetchResult:
        async with Engine(settings, services=[], sleep=sleeps) as e:
            return await e.fetch(f"http://127.0.0.1:{port}/")

    fr = asyncio.run(main())
    assert fr.error_kind == "network"
    assert fr.error == "connection refused by 127.0.0.1"
    assert fr.attempts == 2 and len(sleeps.calls) == 1
