"""One chaos run: deploy, drive the workload while faults are injected, heal, wait until
everything caught up, check the history against the model, report, clean up."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from nats.aio.client import Client as NATS

from chaos.deployment import Deployment
from chaos.faults import FaultInjector
from chaos.history import History
from chaos.nats_cluster import connect
from chaos.report import Outcome
from chaos.sampler import Sampler
from chaos.settle import settle
from chaos.shape import DeploymentShape
from chaos.verify import verify
from chaos.violations import violation
from chaos.workload import Workload


@dataclass(frozen=True)
class RunConfig:
    seed: int
    minutes: float
    shape: DeploymentShape = field(default_factory=DeploymentShape)
    rate: float = 20.0  # commands and reads per second, all clients together
    clients: int = 6
    fault_gap: tuple[float, float] = (3.0, 10.0)  # seconds between faults, per lane
    settle_timeout: float = 300.0
    keep: Path | None = None  # copy the history and the logs there


def _pids(deployment: Deployment) -> Iterator[tuple[str, int | None]]:
    for name, role in deployment.roles.items():
        yield name, role.pid
    for node in deployment.cluster.nodes:
        yield node.server_name, node.pid
    yield "postgres", deployment.postgres.pid


async def chaos_run(config: RunConfig) -> Outcome:
    home = Path(tempfile.mkdtemp(prefix=f"tally-chaos-{config.seed}-", dir="/tmp"))
    deployment = Deployment(home, config.shape, config.seed)
    outcome: Outcome | None = None
    try:
        await asyncio.to_thread(deployment.start)
        history = History(config.seed)
        history.note(f"deployment up: {config.shape.describe()}, home {home}")
        nc = await connect(deployment.direct_nats_url)
        try:
            outcome = await _drive(config, deployment, history, nc)
        finally:
            await nc.close()
        return outcome
    finally:
        await asyncio.to_thread(deployment.close)
        if config.keep is not None:
            if outcome is not None:
                outcome.history.write(config.keep, outcome.events)
            shutil.copytree(deployment.logs, config.keep / "logs", dirs_exist_ok=True)
        shutil.rmtree(home, ignore_errors=True)


async def _drive(config: RunConfig, deployment: Deployment, history: History, nc: NATS) -> Outcome:
    workload = Workload(history, deployment.api_urls, clients=config.clients, rate=config.rate)
    injector = FaultInjector(deployment, history, nc, gap=config.fault_gap)
    sampler = Sampler(lambda: dict(_pids(deployment)))
    stop, sampling = asyncio.Event(), asyncio.Event()
    tasks = [
        asyncio.create_task(workload.run(stop)),
        asyncio.create_task(injector.run(stop)),
    ]
    watch = asyncio.create_task(sampler.run(sampling, history.now, 10.0))
    await asyncio.wait(tasks, timeout=config.minutes * 60)
    stop.set()
    await asyncio.gather(*tasks)
    history.note(f"load and faults stopped; healed: {await asyncio.to_thread(deployment.heal)}")
    took, unsettled = await settle(nc, deployment.api_urls, config.settle_timeout)
    sampling.set()
    await watch
    history.note(f"settled in {took:.1f} s" if unsettled is None else f"not settled: {unsettled}")
    outcome = await verify(deployment, history, nc)
    if unsettled is not None:
        outcome.violations.insert(0, violation("settle", f"not caught up: {unsettled}"))
    outcome.figures["settle_s"] = f"{took:.0f}"
    outcome.rss = sampler.drift()
    if sampler.loads:
        outcome.figures["load"] = f"{min(sampler.loads):.1f}-{max(sampler.loads):.1f}"
    outcome.restarts = {name: role.starts for name, role in deployment.roles.items()}
    return outcome
