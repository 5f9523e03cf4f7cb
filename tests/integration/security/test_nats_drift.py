"""Each worker checks, at start, that the streams, consumers and buckets it uses are as
`tally migrate` made them (tally/nats_drift.py), with only its own NATS user's rights, and
names every difference: a republish added, subjects widened, limits cut, a consumer turned
into a push consumer delivering elsewhere, something missing."""

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, RePublish

from support.plain_nats import without_jetstream
from support.roles import TALLY, role_env
from support.secured_nats import WORKERS, settings_for
from tally.embedded import free_port
from tally.embedded.nats_server import EmbeddedNats
from tally.nats_auth import nats_auth_options
from tally.nats_drift import require_no_drift, role_drift
from tally.roles.migrate import run_migrate
from tally.settings import Settings

pytestmark = pytest.mark.integration
Tamper = Callable[[JetStreamContext], Awaitable[object]]


@pytest.fixture
async def migrated(nats_url: str) -> AsyncIterator[NATS]:
    await run_migrate(Settings(nats_url=nats_url))
    nc = await nats.connect(nats_url)
    try:
        yield nc
    finally:
        await nc.close()


async def republish_dead_letters(js: JetStreamContext) -> object:
    config = (await js.stream_info("DLQ")).config
    config.republish = RePublish(src="tally.dlq.*", dest="orders.{{wildcard(1)}}")
    return await js.update_stream(config)


async def widen_orders(js: JetStreamContext) -> object:
    config = (await js.stream_info("ORDERS")).config
    config.subjects = ["orders.*", "_INBOX_api.>"]
    return await js.update_stream(config)


async def cut_dead_letters(js: JetStreamContext) -> object:
    config = (await js.stream_info("DLQ")).config
    config.max_msgs = 1
    return await js.update_stream(config)


async def push_projection_elsewhere(js: JetStreamContext) -> object:
    await js.delete_consumer("STOCK", "projection-stock")
    push = ConsumerConfig(durable_name="projection-stock", deliver_subject="_INBOX_api.x")
    return await js.add_consumer("STOCK", push)


async def fulfilment_gives_up(js: JetStreamContext) -> object:
    config = (await js.consumer_info("ORDERS", "fulfilment")).config
    config.max_deliver = 1
    return await js.add_consumer("ORDERS", config)


async def drop_idempotency(js: JetStreamContext) -> object:
    return await js.delete_key_value("tally_idempotency")


@pytest.mark.parametrize(
    ("tamper", "role", "named"),
    [
        (republish_dead_letters, "projector", "stream DLQ: has republish"),
        (widen_orders, "api", "stream ORDERS: subjects is ['orders.*', '_INBOX_api.>']"),
        (widen_orders, "fulfil", "stream ORDERS: subjects"),
        (widen_orders, "projector", "stream ORDERS: subjects"),
        (cut_dead_letters, "projector", "stream DLQ: max_msgs is 1, not -1"),
        (push_projection_elsewhere, "projector", "projection-stock on STOCK: has deliver_subject"),
        (fulfilment_gives_up, "fulfil", "consumer fulfilment on ORDERS: max_deliver is 1"),
        (drop_idempotency, "api", "stream KV_tally_idempotency is missing"),
    ],
)
async def test_a_drifted_configuration_is_named(
    nats_url: str, migrated: NATS, tamper: Tamper, role: str, named: str
) -> None:
    settings = Settings()
    js = migrated.jetstream()
    assert await role_drift(js, role, settings) == []
    await tamper(js)
    found = await role_drift(js, role, settings)
    assert any(named in difference for difference in found), found
    await run_migrate(Settings(nats_url=nats_url))  # migrate repairs it
    assert await role_drift(js, role, settings) == []


async def test_a_consumer_s_flow_control_is_not_drift(migrated: NATS) -> None:
    """ack_wait, max_ack_pending, max_waiting neither drop nor redirect an event: an operator
    (or the fulfilment fault test, 2 s ack_wait) may tune them; the workers still start."""
    js = migrated.jetstream()
    config = (await js.consumer_info("ORDERS", "fulfilment")).config
    config.ack_wait, config.max_ack_pending = 2, 50_000
    await js.add_consumer("ORDERS", config)
    config = (await js.consumer_info("STOCK", "projection-stock")).config
    config.ack_wait, config.max_waiting = 5, 64
    await js.add_consumer("STOCK", config)
    assert await role_drift(js, "fulfil", Settings()) == []
    assert await role_drift(js, "projector", Settings()) == []


async def test_partitioned_streams_and_their_consumers_are_not_drift(nats_url: str) -> None:
    """`TALLY_PARTITIONS=3 tally migrate` gives the event streams a subject transform and
    each view a consumer per partition: what migrate made, whatever the worker's own
    TALLY_PARTITIONS says (the streams are the truth); a partition's missing consumer is."""
    await run_migrate(Settings(nats_url=nats_url, partitions=3))
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for role in WORKERS:
            assert await role_drift(js, role, Settings()) == [], role
        await js.delete_consumer("ORDERS", "projection-orders-p1")
        assert await role_drift(js, "projector", Settings()) == [
            "consumer projection-orders-p1 on ORDERS is missing"
        ]
    finally:
        await nc.close()


@pytest.mark.parametrize("role", WORKERS)
async def test_each_worker_can_check_with_its_own_rights(
    secured_nats: EmbeddedNats, role: str
) -> None:
    await run_migrate(settings_for("admin", secured_nats.url))
    settings = settings_for(role, secured_nats.url)
    nc = await nats.connect(secured_nats.url, **nats_auth_options(settings))
    try:
        assert await role_drift(nc.jetstream(), role, settings) == []
    finally:
        await nc.close()


@pytest.mark.parametrize(
    ("tamper", "command", "named"),
    [
        (republish_dead_letters, "project", "stream DLQ: has republish"),
        (fulfilment_gives_up, "fulfil", "consumer fulfilment on ORDERS: max_deliver is 1"),
        (widen_orders, "api", "stream ORDERS: subjects"),
    ],
)
async def test_a_worker_refuses_to_start_on_a_drifted_configuration(
    nats_url: str, database_url: str, migrated: NATS, tamper: Tamper, command: str, named: str
) -> None:
    await tamper(migrated.jetstream())
    env = role_env(nats_url, database_url)
    started = time.monotonic()
    done = await asyncio.to_thread(
        subprocess.run, [TALLY, command], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done.stderr
    assert time.monotonic() - started < 20
    assert f"tally: the NATS configuration that `tally {command}` uses" in done.stderr
    assert named in done.stderr and "Run `tally migrate`" in done.stderr
    assert "Traceback" not in done.stderr


async def test_the_check_waits_while_jetstream_cannot_answer(tmp_path: Path) -> None:
    """A worker restarted during a leader election waits for JetStream to answer its check,
    as it does binding its buckets (tally.nats_connection.at_start), rather than exit. The
    store is migrated first and comes back with the server, so the check can only see the
    finished configuration (migrating after JetStream is back raced the check's retry)."""
    port = free_port()
    url = f"nats://127.0.0.1:{port}"
    settings = Settings(nats_url=url, nats_connect_timeout=60)
    server = EmbeddedNats(tmp_path / "nats", port=port)
    await asyncio.to_thread(server.start)
    try:
        await run_migrate(settings)
    finally:
        await asyncio.to_thread(server.stop)
    plain = await asyncio.to_thread(without_jetstream, port)
    nc = await nats.connect(url, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    try:
        checking = asyncio.create_task(require_no_drift(nc.jetstream(), "projector", settings))
        await asyncio.sleep(2)
        assert not checking.done(), checking  # before: NoRespondersError at once
        plain.terminate()
        plain.wait(10)
        await asyncio.to_thread(server.start)  # the same port and store, with JetStream
        await asyncio.wait_for(checking, 60)  # no drift: returns
    finally:
        await nc.close()
        plain.kill()
        plain.wait()
        await asyncio.to_thread(server.stop)
