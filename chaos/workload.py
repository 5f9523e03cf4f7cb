"""The seeded random workload: a few clients sending every command (and reads with
`after=`) to the API processes, every request and answer recorded in the history.

Each client draws from its own RNG seeded by the run's seed, so a seed replays the same
choices (the interleaving still depends on timing). A keyed command that got no clear
answer (503 or none) is retried with the same key, body and correlation id, as a careful
client would; some keyed commands are repeated on purpose, some twice at once, and a few
keys are reused with another body.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass

import httpx

from chaos import requests
from chaos.history import Call, History
from chaos.requests import Knowledge, Request

OPS = {
    "place": 26,
    "receive": 18,
    "adjust": 6,
    "cancel": 8,
    "ship": 12,
    "read": 14,
    "retry": 7,
    "misuse": 1,
    "burst": 3,
}
CLIENT_TIMEOUT = 25.0  # above the command deadline (10 s) and the longest `wait` (10 s)


@dataclass(frozen=True)
class Keyed:
    command: int
    key: str
    correlation_id: str
    request: Request


class Workload:
    def __init__(
        self,
        history: History,
        api_urls: list[str],
        *,
        clients: int = 6,
        rate: float = 20.0,
        key_share: float = 0.3,
    ) -> None:
        self.history, self.api_urls = history, api_urls
        self.clients, self.rate, self.key_share = clients, rate, key_share
        self.known = Knowledge()
        self.keyed: list[Keyed] = []
        self._http: list[httpx.AsyncClient] = []

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`; calls in flight then are answered (or time out) before returning."""
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
        self._http = [
            httpx.AsyncClient(base_url=url, timeout=CLIENT_TIMEOUT, limits=limits)
            for url in self.api_urls
        ]
        try:
            await asyncio.gather(*(self._client(index, stop) for index in range(self.clients)))
        finally:
            for client in self._http:
                await client.aclose()

    async def _client(self, index: int, stop: asyncio.Event) -> None:
        rng = random.Random(f"{self.history.seed}-client-{index}")
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rng.expovariate(self.rate / self.clients))
                return
            await self._step(rng, index)

    async def _step(self, rng: random.Random, client: int) -> None:
        op = rng.choices(list(OPS), weights=list(OPS.values()))[0]
        match op:
            case "place":
                await self.command(rng, client, requests.place(rng))
            case "receive":
                await self.command(rng, client, requests.receive(rng))
            case "adjust":
                await self.command(rng, client, requests.adjust(rng))
            case "cancel" | "ship":
                build = requests.cancel if op == "cancel" else requests.ship
                if (request := build(rng, self.known)) is not None:
                    await self.command(rng, client, request)
            case "read":
                if (request := requests.read_own_write(rng, self.known)) is not None:
                    await self.send(client, rng.randrange(len(self._http)), request, 0, "", None)
            case "retry" if self.keyed:
                await self._repeat(rng, client, rng.choice(self.keyed[-100:]))
            case "misuse" if self.keyed:
                first = rng.choice(self.keyed[-100:])
                if (other := requests.misused(first.request)) is not None:
                    await self.command(rng, client, other, key=first.key)
            case "burst":
                burst = requests.hot_burst(rng)
                await asyncio.gather(*(self.command(rng, client, r) for r in burst))

    async def command(
        self, rng: random.Random, client: int, request: Request, key: str | None = None
    ) -> None:
        """A new logical command; keyed ones are retried while the answer is ambiguous."""
        command = self.history.number()
        correlation_id = f"chaos-{self.history.seed}-{command}"
        if key is None and rng.random() < self.key_share:
            key = f"key-{self.history.seed}-{command}"
            self.keyed.append(Keyed(command, key, correlation_id, request))
        api = rng.randrange(len(self._http))
        for attempt in range(3):
            call = await self.send(client, api, request, command, correlation_id, key)
            if key is None or not call.ambiguous:
                return
            api = (api + 1) % len(self._http)  # a careful client tries the other server
            await asyncio.sleep(rng.uniform(0.5, 1.5) * (attempt + 1))

    async def _repeat(self, rng: random.Random, client: int, keyed: Keyed) -> None:
        """An idempotent retry of an earlier command; sometimes two at once."""
        copies = 2 if rng.random() < 0.3 else 1
        sends = [
            self.send(
                client,
                rng.randrange(len(self._http)),
                keyed.request,
                keyed.command,
                keyed.correlation_id,
                keyed.key,
            )
            for _ in range(copies)
        ]
        await asyncio.gather(*sends)

    async def send(
        self,
        client: int,
        api: int,
        request: Request,
        command: int,
        correlation_id: str,
        key: str | None,
    ) -> Call:
        """One HTTP request, recorded before it is sent and completed with its answer."""
        n = self.history.number()
        call = Call(
            n,
            command or n,
            client,
            request.op,
            request.method,
            request.path,
            request.body,
            api,
            correlation_id or f"chaos-{self.history.seed}-{n}",
            key,
            self.history.now(),
        )
        self.history.calls.append(call)
        headers = {"X-Correlation-ID": call.correlation_id}
        if key is not None:
            headers["Idempotency-Key"] = key
        try:
            response = await self._http[api].request(
                request.method, request.path, json=request.body, headers=headers
            )
            call.status = response.status_code
            with contextlib.suppress(ValueError):
                answer = response.json()
                call.answer = answer if isinstance(answer, dict) else {"json": answer}
        except httpx.HTTPError as error:
            call.error = f"{type(error).__name__}: {error}"[:200]
        call.took = self.history.now() - call.sent
        if request.method == "POST":
            self.known.learn(request, call.status, call.answer)
        return call
