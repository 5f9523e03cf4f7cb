"""An optional per-client rate limit on commands (off unless `TALLY_COMMAND_RATE_PER_CLIENT`).

A token bucket per client: `rate` commands per second on average, bursts up to `burst`.
The client is its API token when tokens are on (set by `RequireTokens`), else its address.
Over the limit: 429 problem+json with `Retry-After`. Queries and operations are not limited.
The table of clients is bounded: the least recently seen are forgotten first.
"""

import math
import time
from collections import OrderedDict
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from http_edge.problems import Problem

READ_METHODS = ("GET", "HEAD", "OPTIONS")


class RateLimiter:
    def __init__(
        self,
        rate: float,
        burst: int,
        *,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, client: str) -> float:
        """0 when allowed (one token spent), else the seconds until the next token."""
        now = self._clock()
        tokens, seen = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - seen) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)
        return wait


def client_key(scope: Scope) -> str:
    state = scope.get("state") or {}
    if "client_key" in state:
        return str(state["client_key"])
    client = scope.get("client")
    return f"addr:{client[0]}" if client else "addr:?"


class LimitCommands:
    def __init__(self, app: ASGIApp, *, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in READ_METHODS:
            await self.app(scope, receive, send)
            return
        wait = self.limiter.take(client_key(scope))
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry_after = str(max(1, math.ceil(wait)))
        refusal = Problem(
            429,
            "rate-limited",
            "Too many commands",
            f"over {self.limiter.rate:g} commands/s for this client; retry after {retry_after} s",
            headers={"Retry-After": retry_after},
        )
        await refusal.response()(scope, receive, send)
