"""Retries for transient trouble only: a connection that broke or timed out (``errors``), and
429, 502, 503, 504; idempotent requests only. Exponential backoff with jitter between
attempts, at once after a keep-alive connection the server had closed, and a server's
``Retry-After`` honoured (capped, and not waited for past the link's budget)."""

from __future__ import annotations

import dataclasses
import email.utils
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_if_result,
    stop_after_attempt,
    wait_exponential_jitter,
)

from crawler.config import Settings
from crawler.http.budget import LinkClock, OutOfTime
from crawler.http.errors import is_transient
from crawler.http.gates import HOST_PAUSE_STATUSES

RETRY_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
# What a keep-alive connection the server closed meanwhile looks like on the next request.
STALE_CONNECTION_ERRORS = (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError)
BACKOFF_INITIAL = 1.0  # seconds before the first retry, doubling, plus up to as much jitter
BACKOFF_MAX = 30.0


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # delay-seconds is digits only (RFC 9110)
        return float(value)  # 10**20 digits and all: float, unlike int, has no length limit
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclasses.dataclass
class Answer:
    """One HTTP response, already read (up to the cap) and closed."""

    status: int
    headers: httpx.Headers
    body: bytes


def _last_outcome(state: RetryCallState) -> Answer:
    """After the last attempt: the last answer as is (a 503 stays a 503), or its error."""
    assert state.outcome is not None  # tenacity calls this after an attempt only
    answer: Answer = state.outcome.result()  # tenacity's futures hold Any
    return answer


# One request, sent once: (method, url, headers, body cap) → its answer (``fetch``).
Attempt = Callable[[str, str, Mapping[str, str], int], Awaitable[Answer]]


class Retries:
    """Sends a request with ``attempt`` until it gets an answer worth keeping."""

    def __init__(self, settings: Settings, clock: LinkClock, attempt: Attempt) -> None:
        self.settings = settings
        self._clock = clock
        self._attempt = attempt

    async def send(
        self, method: str, url: str, headers: Mapping[str, str], limit: int
    ) -> tuple[Answer | None, BaseException | None, int]:
        """Send with retries; returns (answer, failure, attempts)."""
        attempts = 0
        idempotent = method in IDEMPOTENT
        first: Answer | BaseException | None = None
        # Fast path: nearly every request needs one attempt, and building an AsyncRetrying per
        # request is a measurable share of the engine's CPU (tenacity inspects its callables
        # every time; see benchmarks/README.md). Tenacity is entered only when the first
        # answer is worth retrying, and then it replays that answer as its first attempt.
        try:
            first = await self._attempt(method, url, headers, limit)
        except OutOfTime as exc:
            return None, exc, 1
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            # A HEAD answer that could not be read is asked again as a GET (``fetch``).
            botched_head = method == "HEAD" and isinstance(exc, httpx.RemoteProtocolError)
            if botched_head or not (idempotent and is_transient(exc)):
                return None, exc, 1
            first = exc
        else:
            if not (idempotent and first.status in RETRY_STATUSES and self._can_wait(first)):
                return first, None, 1

        async def attempt() -> Answer:
            nonlocal attempts, first
            attempts += 1
            if first is not None:  # the fast path's attempt counts as tenacity's first
                replay, first = first, None
                if isinstance(replay, BaseException):
                    raise replay
                return replay
            return await self._attempt(method, url, headers, limit)

        retrying = AsyncRetrying(
            stop=stop_after_attempt(max(1, self.settings.retries)),
            wait=self._backoff,
            retry=(
                retry_if_exception(lambda e: idempotent and is_transient(e))
                | retry_if_result(
                    lambda a: idempotent and a.status in RETRY_STATUSES and self._can_wait(a)
                )
            ),
            sleep=self._clock.pause,
            retry_error_callback=_last_outcome,
        )
        try:
            return await retrying(attempt), None, attempts
        except (httpx.HTTPError, httpx.InvalidURL, OutOfTime) as exc:
            return None, exc, attempts

    def retry_after(self, answer: Answer) -> float | None:
        """The answer's Retry-After in seconds, at most ``max_retry_after``."""
        wait = parse_retry_after(answer.headers.get("retry-after"))
        return None if wait is None else min(wait, self.settings.max_retry_after)

    def _can_wait(self, answer: Answer) -> bool:
        """False when the answer asks to wait past the link's time budget (10**20 seconds,
        the year 9999): it then stands as it is (an unverified 429 or 503) at once, instead
        of holding the link until its budget runs out."""
        wait = self.retry_after(answer)
        return wait is None or time.monotonic() + wait <= self._clock.deadline()

    def _backoff(self, state: RetryCallState) -> float:
        outcome = state.outcome
        if (
            outcome is not None
            and outcome.failed
            and state.attempt_number == 1
            and isinstance(outcome.exception(), STALE_CONNECTION_ERRORS)
        ):
            # Most often a keep-alive connection the server had closed: the retry goes out at
            # once on a fresh connection (as browsers do); a second failure backs off.
            return 0.0
        if outcome is not None and not outcome.failed:
            answer: Answer = outcome.result()
            wait = self.retry_after(answer)
            if wait is not None:
                # For 429/503 the host gate already holds every request to the host until
                # then, this retry included.
                if answer.status in HOST_PAUSE_STATUSES:
                    return 0.0
                return wait
        return wait_exponential_jitter(
            initial=BACKOFF_INITIAL, max=BACKOFF_MAX, jitter=BACKOFF_INITIAL
        )(state)
