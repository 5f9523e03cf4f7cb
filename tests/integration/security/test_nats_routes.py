"""The cluster port of docker/nats/nats.conf takes only routes that authenticate.

The shipped config runs as compose runs it, on loopback: three nodes, each with its own
environment. A rogue server of the same shape (cluster `tally`, an account `TALLY` of its
own making) routes to a node without the route credentials: it is refused, so a client on
it overhears no event and cannot inject a reply into another role's inbox. The same rogue
given the credentials joins and overhears, which shows the check is a real one.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from support.docker_nats import DockerNatsCluster, NatsProcess
from tally.embedded.ports import free_port
from tally.nats_permissions import inbox_prefix

pytestmark = pytest.mark.integration
PASSWORDS = {role: f"{role}-pw" for role in ("api", "projector", "fulfil", "admin", "sys")}
ROUTE_PASSWORD = "5f1c0ffee"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[DockerNatsCluster]:
    nodes = DockerNatsCluster(tmp_path / "cluster", PASSWORDS, ROUTE_PASSWORD)
    try:
        nodes.start()
        yield nodes
    finally:
        nodes.stop()


def rogue(root: Path, route_to: int, credentials: str = "") -> NatsProcess:
    """A server of the cluster's shape that routes to `route_to` (a route port)."""
    config = f"""listen: "127.0.0.1:$CLIENT_PORT"
accounts {{
  TALLY {{ users = [{{ user: spy, password: spy }}] }}
  SYS {{ users = [{{ user: rogue-sys, password: rogue-sys }}] }}
}}
system_account: SYS
cluster {{
  name: tally
  listen: "127.0.0.1:{free_port("127.0.0.1")}"
  routes: ["nats-route://{credentials}127.0.0.1:{route_to}"]
}}
"""
    return NatsProcess(root, "rogue", config, {})


@contextlib.asynccontextmanager
async def client(url: str, user: str, password: str) -> AsyncIterator[NATS]:
    async def quiet(error: Exception) -> None:
        pass

    nc = await nats.connect(
        url, user=user, password=password, inbox_prefix=inbox_prefix(user), error_cb=quiet
    )
    try:
        yield nc
    finally:
        await nc.close()


async def overheard(cluster: DockerNatsCluster, spy_url: str, seconds: float) -> list[str]:
    """What a client on the rogue receives of an event published into the cluster and of
    its own reply injected towards fulfilment's inbox, within `seconds`."""
    heard: list[str] = []

    async def collect(msg: Msg) -> None:
        heard.append(f"{msg.subject} {msg.data.decode()}")

    async with (
        client(spy_url, "spy", "spy") as spy,
        client(cluster.url(1), "api", PASSWORDS["api"]) as api,
        client(cluster.url(2), "fulfil", PASSWORDS["fulfil"]) as fulfil,
    ):
        await spy.subscribe("orders.*", cb=collect)
        await fulfil.subscribe(f"{inbox_prefix('fulfil')}.>", cb=collect)
        for nc in (spy, fulfil):
            await nc.flush()
        deadline = asyncio.get_running_loop().time() + seconds
        while not heard and asyncio.get_running_loop().time() < deadline:
            await api.publish("orders.o1", b"event")
            await spy.publish(f"{inbox_prefix('fulfil')}.reply", b"forged")
            await asyncio.sleep(0.2)
    return heard


async def test_a_route_without_the_credentials_is_refused(
    cluster: DockerNatsCluster, tmp_path: Path
) -> None:
    intruder = rogue(tmp_path / "rogue", cluster.route_ports[0])
    intruder.start()
    try:
        await asyncio.to_thread(intruder.wait_log, "Server is ready")
        spy_url = f"nats://127.0.0.1:{intruder.client_port}"
        assert await overheard(cluster, spy_url, seconds=5) == []
        await asyncio.to_thread(intruder.wait_log, "Authorization Violation")
    finally:
        intruder.stop()


async def test_the_same_route_with_the_credentials_joins(
    cluster: DockerNatsCluster, tmp_path: Path
) -> None:
    """The control: with `route:<password>@` the same server is a member and hears all."""
    member = rogue(tmp_path / "member", cluster.route_ports[0], f"route:{ROUTE_PASSWORD}@")
    member.start()
    try:
        await asyncio.to_thread(member.wait_log, "Route connection created")
        heard = await overheard(cluster, f"nats://127.0.0.1:{member.client_port}", seconds=15)
        assert heard and heard[0] in ("orders.o1 event", "_INBOX_fulfil.reply forged"), heard
    finally:
        member.stop()
