"""Load shedding for `POST /api/ask`: a per-client rate limit (429) and a bounded line of
questions (503), both answered at once with `Retry-After` and the usual `{"error": ...}`.

A token bucket per client address: each holds up to a minute's worth of tokens and refills at
`per_minute / 60` a second; a question takes one. Admission: at most `running` questions are
answered at once and `waiting` more wait their turn; the next is refused rather than queued.
Other routes (`/healthz` above all) never pass through either.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from ui.api import error, route_path

ASK_PATH = "/api/ask"
# A turn frees about every half second at the answer rates measured on two cores (about 2
# a second with 50 clients; `python -m evals.loadtest`), so a client that comes back in 2 s
# usually finds room in the line; a longer wait would leave turns unused.
BUSY_RETRY_AFTER = 2
# Clients remembered at most; beyond it the least recently seen are forgotten, which at worst
# gives one of them a fresh bucket. A forgotten bucket that had refilled loses nothing.
MAX_CLIENTS = 10_000


@dataclass
class _Bucket:
    tokens: float
    stamp: float  # clock time of the last refill


class RateLimiter:
    """A token bucket per client: `per_minute` questions a minute, bursts up to that many."""

    def __init__(self, per_minute: int, max_clients: int = MAX_CLIENTS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute < 1:
            raise ValueError("per_minute must be at least 1")
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0  # tokens a second
        self.max_clients = max_clients
        self.clock = clock
        # Least recently seen first, so eviction pops from the front.
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        # The middleware calls from one event loop, but a lock keeps the class safe anywhere.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, client: str) -> float:
        """Spend one token of `client`: 0.0 if it had one, else seconds until it will."""
        with self._lock:
            now = self.clock()
            bucket = self._buckets.pop(client, None) or _Bucket(self.capacity, now)
            self._evict(now)  # makes room for this client among the others
            bucket.tokens = min(self.capacity, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
            self._buckets[client] = bucket  # now the most recently seen
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.rate

    def _evict(self, now: float) -> None:
        """Forget clients whose bucket is full again (nothing lost), then any over the cap."""
        refill = self.capacity / self.rate
        while self._buckets:
            oldest = next(iter(self._buckets.values()))
            if now - oldest.stamp < refill and len(self._buckets) < self.max_clients:
                break
            self._buckets.popitem(last=False)


class Admission:
    """At most `running` holders at once and `waiting` more in line; the rest turned away."""

    def __init__(self, running: int, waiting: int) -> None:
        self.capacity = running + waiting
        self._turns = asyncio.Semaphore(running)
        self._inside = 0  # running plus waiting; touched only on the event loop

    @property
    def inside(self) -> int:
        """Questions running or waiting now."""
        return self._inside

    @asynccontextmanager
    async def enter(self) -> AsyncIterator[bool]:
        """Yield True once it is this caller's turn, or False at once if the line is full."""
        if self._inside >= self.capacity:
            yield False
            return
        self._inside += 1
        try:
            async with self._turns:
                yield True
        finally:
            self._inside -= 1


class AskLimits:
    """ASGI middleware: the rate limit, then admission, for `POST /api/ask` only."""

    def __init__(self, app: ASGIApp, rate_limit: int, running: int, waiting: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.app = app
        self.limiter = RateLimiter(rate_limit, clock=clock) if rate_limit else None
        self.admission = Admission(running, waiting)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass everything through except a question over a limit."""
        if (scope["type"] != "http" or scope["method"] != "POST"
                or route_path(scope) != ASK_PATH):
            await self.app(scope, receive, send)
            return
        if self.limiter is not None:
            # Behind a proxy on this machine, uvicorn has already put the X-Forwarded-For
            # address here (see `serve`); anything else is the peer's own address.
            client = scope.get("client")
            wait = self.limiter.take(client[0] if client else "")
            if wait > 0:
                seconds = math.ceil(wait)
                await refusal(429, f"too many questions from your address; try again in "
                                   f"{seconds} s", seconds)(scope, receive, send)
                return
        async with self.admission.enter() as admitted:
            if not admitted:
                await refusal(503, f"the server is busy answering other questions; try again in "
                                   f"{BUSY_RETRY_AFTER} s", BUSY_RETRY_AFTER)(scope, receive, send)
                return
            await self.app(scope, receive, send)


def refusal(status: int, message: str, retry_after: int) -> ASGIApp:
    """The usual one-line error, with `Retry-After` in seconds."""
    response = error(status, message)
    response.headers["Retry-After"] = str(retry_after)
    return response
