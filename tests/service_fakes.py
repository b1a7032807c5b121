"""A scripted stand-in for the engine, so service tests judge verdict rules and nothing else.

``FakeContext`` answers ``fetch`` from a table keyed by (method, url) and records every call;
an unscripted request fails the test loudly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from crawler.config import Settings
from crawler.links import make_link
from crawler.model import Hop, Link, LinkResult
from crawler.services.base import FetchErrorKind, FetchResult

T = TypeVar("T")


@dataclass
class Call:
    method: str
    url: str
    headers: dict[str, str]
    max_bytes: int | None
    follow_redirects: bool


@dataclass
class FakeContext:
    responses: dict[tuple[str, str], FetchResult | list[FetchResult]]
    settings: Settings = field(default_factory=Settings)
    calls: list[Call] = field(default_factory=list)

    async def fetch(
        self,
        url: str,
        *,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        follow_redirects: bool = True,
    ) -> FetchResult:
        self.calls.append(Call(method, url, dict(headers or {}), max_bytes, follow_redirects))
        scripted = self.responses.get((method, url))
        if scripted is None:
            raise AssertionError(f"unscripted request: {method} {url}")
        if isinstance(scripted, list):  # successive answers to the same request
            return scripted.pop(0)
        return scripted

    async def run_isolated(
        self, fn: Callable[..., T], *args: Any, slot_for: str | None = None
    ) -> T:
        # In-process, so a monkeypatched library stays patched.
        if slot_for is None:
            return fn(*args)
        async with self.host_slot(slot_for):
            return fn(*args)

    def previous(self, link: Link) -> LinkResult | None:
        return None

    def proxy_for(self, url: str) -> str | None:
        return None

    @contextlib.asynccontextmanager
    async def host_slot(self, url: str):
        self.slots_taken = getattr(self, "slots_taken", 0) + 1
        yield

    async def guard(self, url: str) -> FetchResult | None:
        return None

    @property
    def ca_bundle(self) -> str | None:
        return None


def answer(
    url: str,
    status: int,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    hops: Iterable[tuple[str, int]] = (),
    final_url: str | None = None,
    attempts: int = 1,
) -> FetchResult:
    """A response that arrived; ``hops`` are (url that redirected, its status) pairs."""
    return FetchResult(
        url=url,
        final_url=final_url or url,
        status=status,
        headers=httpx.Headers(dict(headers or {})),
        body=body,
        hops=[Hop(u, s) for u, s in hops],
        attempts=attempts,
    )


def failure(url: str, kind: FetchErrorKind, error: str) -> FetchResult:
    """A fetch that brought no HTTP answer."""
    return FetchResult(url=url, final_url=url, error=error, error_kind=kind)


def link_for(url: str, field_name: str = "slides") -> Link:
    return make_link("2021-02-25-tvm", "TVM", "2021-02-25", field_name, url)


# --- the real engine, over respx ------------------------------------------------------------

# Fast, and no waiting: one try, tiny timeouts (respx answers at once anyway).
ENGINE_SETTINGS = Settings(connect_timeout=1.0, read_timeout=1.0, link_timeout=10.0, retries=1)


async def public_resolver(host: str) -> list[str]:
    """Every name resolves to one public address, so the engine's safety guard lets it pass."""
    return ["93.184.216.34"]


async def no_sleep(seconds: float) -> None:
    return None


def check_through_engine(
    service: Any, url: str, settings: Settings = ENGINE_SETTINGS
) -> LinkResult:
    """Run ``service`` on ``url`` through the real ``Engine``; call inside ``respx.mock``."""
    return check_all_through_engine(service, [link_for(url)], settings)[0]


def check_all_through_engine(
    service: Any, links: list[Link], settings: Settings = ENGINE_SETTINGS
) -> list[LinkResult]:
    """Run ``service`` on ``links`` as a run does (``Engine.check_all``), over respx."""
    from crawler.engine import Engine  # imported here so the fakes above need no engine

    async def main() -> list[LinkResult]:
        async with Engine(
            settings,
            services=[service],
            transport=httpx.AsyncHTTPTransport(),  # the transport respx intercepts
            resolver=public_resolver,
            sleep=no_sleep,
        ) as engine:
            return await engine.check_all(links)

    return asyncio.run(main())


A_PDF = b"%PDF-1.4\n%%EOF\n"


@dataclass
class AskedHosts(FakeContext):
    """Answers every request with ``status`` and every yt-dlp call with ``extraction``, and
    notes the host of each URL a service asks (or hands to yt-dlp, or takes a slot for)."""

    status: int = 200
    extraction: Any = None
    hosts: list[str] = field(default_factory=list)

    def _note(self, url: str) -> None:
        self.hosts.append(httpx.URL(url).host)

    async def fetch(self, url: str, **options: Any) -> FetchResult:
        self._note(url)
        return answer(url, self.status, headers={"content-type": "application/pdf"}, body=A_PDF)

    async def run_isolated(
        self, fn: Callable[..., T], *args: Any, slot_for: str | None = None
    ) -> T:
        self._note(args[0])  # the URL yt-dlp is asked about
        if slot_for is not None:
            self._note(slot_for)
        return self.extraction

    async def guard(self, url: str) -> FetchResult | None:
        self._note(url)
        return None
