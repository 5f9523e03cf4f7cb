"""Faults at random times, drawn from the run's seed, in two lanes that run side by side:
the servers (a NATS node killed, its stream leader included; PostgreSQL stopped or killed;
network delay on a proxy) and the processes (a role SIGKILLed or SIGSTOPped; the gateway
slowed down; `tally replay` started mid-run). Each lane takes its kinds from a shuffled
deck, so that a short run still sees every kind; every fault is undone before the next.
A role that exits without having been killed is recorded as a crash and restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import random

from nats.aio.client import Client as NATS

from chaos.deployment import Deployment
from chaos.history import Fault, History
from chaos.nats_cluster import stream_leader
from chaos.processes import ChildProcess, tally
from chaos.shape import VIEWS

SERVER_FAULTS = ("kill_nats", "kill_nats_leader", "restart_postgres", "delay_network")
PROCESS_FAULTS = ("kill_role", "pause_role", "slow_gateway", "replay")
LEADER_OF = ("ORDERS", "STOCK", "PAYMENTS", "KV_tally_idempotency")


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleeps `seconds`, less when `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class FaultInjector:
    def __init__(
        self, deployment: Deployment, history: History, nc: NATS, *, gap: tuple[float, float]
    ) -> None:
        self.d, self.history, self.nc, self.gap = deployment, history, nc, gap
        self.killed: set[str] = set()  # roles down on purpose right now
        self._replays = 0

    async def run(self, stop: asyncio.Event) -> None:
        await asyncio.gather(
            self._lane("servers", SERVER_FAULTS, stop),
            self._lane("processes", PROCESS_FAULTS, stop),
            self._watch_crashes(stop),
        )

    async def _lane(self, lane: str, kinds: tuple[str, ...], stop: asyncio.Event) -> None:
        rng = random.Random(f"{self.history.seed}-{lane}")
        deck: list[str] = []
        while True:
            await pause(stop, rng.uniform(*self.gap))
            if stop.is_set():
                return
            if not deck:
                deck = list(kinds)
                rng.shuffle(deck)
            kind = deck.pop()
            await getattr(self, kind)(rng, stop)

    async def kill_nats(
        self, rng: random.Random, stop: asyncio.Event, target: str = "", why: str = ""
    ) -> None:
        node = self.d.cluster.node(target) if target else rng.choice(self.d.cluster.nodes)
        kind = "kill_nats_leader" if why else "kill_nats"
        fault = self.history.fault(kind, node.server_name, f"SIGKILL{why}")
        await asyncio.to_thread(node.kill)
        await pause(stop, rng.uniform(3, 10))
        await asyncio.to_thread(node.start, 120)
        fault.ended = self.history.now()

    async def kill_nats_leader(self, rng: random.Random, stop: asyncio.Event) -> None:
        stream = rng.choice(LEADER_OF)
        leader = await stream_leader(self.nc, stream)
        if leader is None:
            self.history.note(f"no leader of {stream} to kill")
            return
        await self.kill_nats(rng, stop, leader, f" of the {stream} leader")

    async def restart_postgres(self, rng: random.Random, stop: asyncio.Event) -> None:
        how = rng.choice(("stop", "kill"))
        fault = self.history.fault("restart_postgres", "postgres", how)
        await asyncio.to_thread(self.d.postgres.stop if how == "stop" else self.d.postgres.kill)
        await pause(stop, rng.uniform(2, 6))
        await asyncio.to_thread(self.d.postgres.start)
        fault.ended = self.history.now()

    async def delay_network(self, rng: random.Random, stop: asyncio.Event) -> None:
        target, delay = rng.choice(self.d.proxied), rng.uniform(0.05, 0.4)
        fault = self.history.fault("delay_network", target, f"{delay * 1000:.0f} ms each way")
        self.d.set_delay(target, delay)
        await pause(stop, rng.uniform(5, 15))
        self.d.set_delay(target, 0)
        fault.ended = self.history.now()

    async def kill_role(self, rng: random.Random, stop: asyncio.Event) -> None:
        role = self.d.roles[rng.choice(sorted(self.d.roles))]
        fault = self.history.fault("kill_role", role.name, "SIGKILL")
        self.killed.add(role.name)
        try:
            await asyncio.to_thread(role.kill)
            await pause(stop, rng.uniform(0.5, 5))
            role.start()
        finally:
            self.killed.discard(role.name)
        fault.ended = self.history.now()

    async def pause_role(self, rng: random.Random, stop: asyncio.Event) -> None:
        role = self.d.roles[rng.choice(sorted(self.d.roles))]
        fault = self.history.fault("pause_role", role.name, "SIGSTOP .. SIGCONT")
        role.pause()
        await pause(stop, rng.uniform(2, 12))
        role.resume()
        fault.ended = self.history.now()

    async def slow_gateway(self, rng: random.Random, stop: asyncio.Event) -> None:
        slow = rng.uniform(1.5, 3.5)
        fault = self.history.fault("slow_gateway", "gateway", f"every answer {slow:.1f} s late")
        self.d.set_gateway_slow(slow)
        await pause(stop, rng.uniform(5, 15))
        self.d.set_gateway_slow(0)
        fault.ended = self.history.now()

    async def replay(self, rng: random.Random, stop: asyncio.Event) -> None:
        view = rng.choice(VIEWS)
        self._replays += 1
        child = tally(f"replay-{self._replays}", ["replay", view, "--yes"], self.d.env, self.d.logs)
        interrupt = rng.random() < 0.25
        fault = self.history.fault("replay", view, "interrupted" if interrupt else "")
        child.start()
        await self._finish_replay(child, fault, rng.uniform(0.5, 3) if interrupt else 180)

    async def _finish_replay(self, child: ChildProcess, fault: Fault, within: float) -> None:
        """Waits `within` seconds for the replay, then interrupts it (SIGINT)."""
        proc = child.proc
        assert proc is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.to_thread(proc.wait), within)
        code = child.stop(60) if child.alive else proc.returncode
        fault.detail = f"{fault.detail} exit {code}".strip()
        fault.ended = self.history.now()

    async def _watch_crashes(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await pause(stop, 1.0)
            for role in self.d.roles.values():
                if not role.alive and role.name not in self.killed:
                    fault = self.history.fault("crash", role.name, role.tail(600))
                    role.start()
                    fault.ended = self.history.now()
