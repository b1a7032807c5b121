"""The engine with fakes around it, for the tests of the engine and its parts.

HTTP is mocked with respx (through httpx's own transport, which respx can intercept) or with
``httpx.MockTransport``; names resolve through a fake resolver, sleeping through a recorder,
so no test touches the network or waits for a backoff.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx

from crawler.config import Settings
from crawler.engine import Engine
from crawler.model import Link, LinkKind, LinkResult, Status
from crawler.services.base import CheckContext, FetchResult, Service

FAST = Settings(
    concurrency=8,
    per_host=2,
    connect_timeout=1.0,
    read_timeout=1.0,
    link_timeout=10.0,
    retries=3,
    max_retry_after=60.0,
)


ADDRESSES = {
    "example.org": ["93.184.216.34"],
    "a.example": ["93.184.216.35"],
    "b.example": ["93.184.216.36"],
    "c.example": ["2606:2800:220:1::1"],
    "inside.example": ["10.0.0.5"],
    "www.gentle.example": ["93.184.216.40"],
    "mapped.example": ["93.184.216.37", "::ffff:127.0.0.1"],
    "six.example": ["2002:a00:5::"],  # 6to4 of 10.0.0.5
}


async def fake_resolver(host: str) -> list[str]:
    if host in ADDRESSES:
        return ADDRESSES[host]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def scripted_resolver(answers: list[BaseException | list[str]]) -> Any:
    """A resolver giving ``answers`` in turn (raising the exceptions), whatever the host."""

    async def resolve(host: str) -> list[str]:
        answer = answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    return resolve


class Sleeps:
    """Records the waits the engine asks for, without waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(0)


class FetchService(Service):
    """Fetches the link and reports what the engine returned, nothing more."""

    name = "fetch"

    def __init__(self) -> None:
        self.fetched: dict[str, FetchResult] = {}

    def handles(self, link: Link) -> bool:
        return True

    async def check(self, link: Link, ctx: CheckContext) -> LinkResult:
        fetched = await ctx.fetch(link.url)
        self.fetched[link.url] = fetched
        return LinkResult(
            link,
            Status.OK if fetched.ok else Status.UNVERIFIED,
            detail=fetched.error or f"HTTP {fetched.status}",
            http_status=fetched.status,
            final_url=fetched.final_url,
            redirects=list(fetched.hops),
        )


def make_link(url: str, session: str = "s1", field: str = "slides") -> Link:
    return Link(session, "A talk", "2024-01-01", field, url, LinkKind.GENERIC, url)  # type: ignore[arg-type]


def engine(settings: Settings = FAST, **kwargs) -> Engine:
    kwargs.setdefault("services", [FetchService()])
    kwargs.setdefault("transport", httpx.AsyncHTTPTransport())  # respx intercepts this one
    kwargs.setdefault("resolver", fake_resolver)
    kwargs.setdefault("sleep", Sleeps())
    return Engine(settings, **kwargs)


def fetch(url: str, settings: Settings = FAST, *, sleep: Sleeps | None = None, **kwargs):
    """One ``Engine.fetch`` in a fresh engine; ``kwargs`` go to ``fetch``."""
    engine_kwargs = {k: kwargs.pop(k) for k in ("transport", "resolver") if k in kwargs}

    async def main() -> FetchResult:
        async with engine(settings, sleep=sleep or Sleeps(), **engine_kwargs) as e:
            return await e.fetch(url, **kwargs)

    return asyncio.run(main())


def run_links(links: list[Link], settings: Settings = FAST, **kwargs) -> list[LinkResult]:
    async def main() -> list[LinkResult]:
        async with engine(settings, **kwargs) as e:
            return await e.check_all(links)

    return asyncio.run(main())
