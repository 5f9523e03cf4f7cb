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

from starlette.types import Scope

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


def limit_refusal(limiter: RateLimiter, scope: Scope) -> Problem | None:
    """The 429 for a command over its client's rate, else None (one token spent)."""
    wait = limiter.take(client_key(scope))
    if wait <= 0:
        return None
    retry_after = str(max(1, math.ceil(wait)))
    return Problem(
        429,
        "rate-limited",
        "Too many commands",
        f"over {limiter.rate:g} commands/s for this client; retry after {retry_after} s",
        headers={"Retry-After": retry_after},
    )
