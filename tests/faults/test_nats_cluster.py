"""Scenario 5: a 3-node NATS cluster on loopback ports, streams at 3 replicas; the STOCK
stream's leader SIGKILLed under a command load: appends pause for the election and resume,
no acknowledged event is lost or doubled, and `tally api`, given all three URLs, recovers
without a restart."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS

from chaos.nats_cluster import NatsCluster, connect, stream_leader
from support.command_load import CommandLoad, tally_answers
from support.fault_report import FaultReport
from support.roles import api_role, migrate, role_env
from support.stream_fold import fold_stock, read_stream
from tally.embedded.ports import free_port

pytestmark = pytest.mark.faults
SKUS = [f"r-{i}" for i in range(6)]


@contextlib.asynccontextmanager
async def client(cluster: NatsCluster) -> AsyncIterator[NATS]:
    nc = await connect(cluster.url)
    try:
        yield nc
    finally:
        await nc.close()


async def leader(nc: NATS, stream: str, timeout: float = 30) -> str:
    async with asyncio.timeout(timeout):
        while (name := await stream_leader(nc, stream)) is None:  # noqa: ASYNC110 (polls the server)
            await asyncio.sleep(0.2)
    assert (await nc.jetstream().stream_info(stream)).config.num_replicas == 3
    return name


async def until_accepted(
    load: CommandLoad, moment: float, kinds: tuple[str, ...], within: float
) -> None:
    """Until commands of every kind sent after `moment` have been accepted (202) again; the
    test goes on after `within` seconds all the same, and its assertions say what failed."""

    def recovered() -> bool:
        return all(load.accepted_since(moment, kind) for kind in kinds)

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(within):
            while not recovered():  # noqa: ASYNC110 (the load task appends the answers)
                await asyncio.sleep(0.2)


async def test_stream_leader_killed_in_a_three_node_cluster(
    database_url: str, tmp_path: Path, report: FaultReport
) -> None:
    cluster = NatsCluster(tmp_path / "cluster")
    started = time.monotonic()
    await asyncio.to_thread(cluster.start)
    report.note(f"3-node cluster up in {time.monotonic() - started:.1f} s: {cluster.url}")
    env = role_env(cluster.url, database_url, TALLY_STREAM_REPLICAS="3")
    port = free_port("127.0.0.1")
    api = api_role(env, port, tmp_path / "api.log")
    try:
        await asyncio.to_thread(migrate, env, 120)
        api.start()
        base = f"http://127.0.0.1:{port}"
        await asyncio.to_thread(api.wait_http, base, "/health", 60)
        pid = api.pid
        async with client(cluster) as nc:
            victim = await leader(nc, "STOCK")
            report.note(f"STOCK leader {victim}, ORDERS leader {await leader(nc, 'ORDERS')}")
        load, stop = CommandLoad(base, SKUS, workers=4), asyncio.Event()
        sender = asyncio.create_task(load.run(stop))
        await asyncio.sleep(3)
        killed = time.monotonic()
        await asyncio.to_thread(cluster.node(victim).kill)
        report.fault(f"SIGKILL of {victim}, the STOCK stream leader, under load")
        # the elections take a few seconds on an idle machine, longer on a loaded one: the
        # load goes on until both streams take appends again, then 5 s more
        await until_accepted(load, killed, ("receive", "order"), within=90)
        await asyncio.sleep(5)
        stop.set()
        await sender
        stopped = time.monotonic()
        pause = load.longest_gap(killed, stopped, "receive")
        report.recovered(pause, "appends to STOCK resumed (longest time without a 202)")
        async with client(cluster) as nc:
            new_leader = await leader(nc, "STOCK")
            orders, stock = await read_stream(nc, "ORDERS"), await read_stream(nc, "STOCK")
        report.note(f"new STOCK leader {new_leader}")
        assert new_leader != victim
        assert api.alive and api.pid == pid, api.tail()
        # ORDERS may have lost its leader too (the same node led both): its own election
        settled = max(pause, load.longest_gap(killed, stopped, "order"))
        after = [a for a in load.answers if a.sent > killed + settled + 0.5]
        assert after and all(a.status == 202 for a in after), load.statuses()
    finally:
        api.kill()
        await asyncio.to_thread(cluster.stop)
    assert {a.status for a in load.answers} <= {202, 503}, load.statuses()
    counted = tally_answers(load.answers, orders.events + stock.events)
    assert counted.lost == [] and counted.doubled == [], counted
    assert fold_stock(stock.events)[1] == []
    report.figure("commands", load.statuses())
    report.figure("stored_despite_503", counted.stored_503)
    report.figure("lost", len(counted.lost))
    report.figure("doubled", len(counted.doubled))
    report.note(f"{counted.accepted} acknowledged commands, each stored exactly once")
