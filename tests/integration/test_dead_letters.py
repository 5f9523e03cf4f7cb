"""Dead letters an operator can work with: the operations that `tally dlq` and the admin
API share (list, show, retry after a fix, drop), and the CLI's answers and exit codes."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import AsyncIterator
from uuid import uuid4

import asyncpg
import httpx
import pytest
from nats.aio.client import Client as NATS
from pydantic import SecretStr

from projections.dlq import dead_letter, ensure_dlq_stream, list_dead_letters
from projections.messages import StoredMessage
from support.read_side import connect, placed, publish, ready_streams, rows
from support.roles import TALLY, role_env
from tally.bootstrap import bootstrap
from tally.http.tokens import new_token
from tally.operator import dead_letters as letters
from tally.roles.api import api_app
from tally.roles.database import run_alembic
from tally.roles.migrate import migrate
from tally.settings import Settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def nc(nats_url: str, database_url: str) -> AsyncIterator[NATS]:
    client = await connect(nats_url)
    await ready_streams(client)
    await ensure_dlq_stream(client.jetstream())
    await run_alembic(database_url)
    try:
        yield client
    finally:
        await client.close()


async def _dead_letter(nc: NATS, seq: int, error: str) -> int:
    raw = await nc.jetstream().get_msg("ORDERS", seq)
    message = StoredMessage(
        "ORDERS", seq, raw.subject or "", raw.data or b"", dict(raw.headers or {})
    )
    return await dead_letter(nc.jetstream(), "orders", message, error, 5)


async def _fixed_order(nc: NATS, customer: str) -> tuple[int, str]:
    """An OrderPlaced dead-lettered as if a bug (since fixed) had refused it."""
    subject = f"orders.{uuid4()}"
    seq = await publish(nc, [(subject, placed(customer))])
    return await _dead_letter(nc, seq, "a bug, since fixed\nsecond line"), subject


async def _broken_order(nc: NATS) -> int:
    """An event that no fix can apply: its body is not JSON."""
    subject = f"orders.{uuid4()}"
    headers = {"Tally-Event-Type": "OrderPlaced", "Tally-Event-Version": "1"}
    ack = await nc.jetstream().publish(subject, b"{not json", headers=headers)
    return await _dead_letter(nc, ack.seq, "undecodable")


def tally(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [TALLY, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


async def test_listed_shown_retried_dropped(nc: NATS, database_url: str) -> None:
    fixed, subject = await _fixed_order(nc, "fixed")
    broken = await _broken_order(nc)
    js = nc.jetstream()

    listed = [letters.item(letter) for letter in await letters.list_letters(js)]
    assert [item["seq"] for item in listed] == [fixed, broken]
    first = listed[0]
    assert first["projection"] == "orders" and first["subject"] == subject
    assert first["position"].startswith("ORDERS:") and first["type"] == "OrderPlaced"
    assert first["attempts"] == 5 and first["dead_at"].endswith("Z")
    assert letters.first_line(first["error"]) == "a bug, since fixed second line"

    shown = await letters.show_letter(js, fixed)
    assert shown is not None
    detail = letters.detail(shown)
    assert json.loads(detail["data"])["customer_id"] == "fixed"
    assert detail["headers"]["Tally-Event-Type"] == "OrderPlaced"
    assert await letters.show_letter(js, broken + 100) is None

    conn = await asyncpg.connect(database_url)
    try:
        applied = await letters.retry_letter(js, conn, fixed)
        failed = await letters.retry_letter(js, conn, broken)
        missing = await letters.retry_letter(js, conn, fixed)
    finally:
        await conn.close()
    assert (applied.outcome, applied.projection) == ("applied", "orders")
    assert failed.outcome == "failed" and failed.error
    assert missing.outcome == "not-found"
    assert [row[1] for row in await rows(database_url, "orders", "order_id")] == ["fixed"]
    assert [letter.seq for letter in await list_dead_letters(js)] == [broken]

    assert (await letters.drop_letter(js, broken)).outcome == "dropped"
    assert (await letters.drop_letter(js, broken)).outcome == "not-found"
    assert await list_dead_letters(js) == []


async def test_the_cli_answers_and_exit_codes(nc: NATS, nats_url: str, database_url: str) -> None:
    fixed, _ = await _fixed_order(nc, "fixed")
    broken = await _broken_order(nc)
    env = role_env(nats_url, database_url)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return tally(env, *args)

    listed = await asyncio.to_thread(run, "dlq", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [item["seq"] for item in json.loads(listed.stdout)["items"]] == [fixed, broken]
    table = await asyncio.to_thread(run, "dlq", "list")
    assert "a bug, since fixed" in table.stdout and "OrderPlaced" in table.stdout
    assert "…" not in table.stdout  # piped: nothing cut
    shown = await asyncio.to_thread(run, "dlq", "show", str(fixed))
    assert "Tally-Event-Type: OrderPlaced" in shown.stdout and '"fixed"' in shown.stdout
    assert (await asyncio.to_thread(run, "dlq", "show", "999999")).returncode == 1

    for usage in (("retry",), ("drop",), ("drop", "1", "--all"), ("drop", "--all")):
        refused = await asyncio.to_thread(run, "dlq", *usage)
        assert refused.returncode == 2, (usage, refused.stderr)
        assert "Traceback" not in refused.stderr
    assert "--yes" in (await asyncio.to_thread(run, "dlq", "drop", "--all")).stderr

    retried = await asyncio.to_thread(run, "dlq", "retry", "--all")
    assert retried.returncode == 1, retried.stderr  # the broken one still fails
    assert f"dead letter {fixed}: applied to orders" in retried.stdout
    assert f"dead letter {broken}: still failing" in retried.stderr
    assert [letter.seq for letter in await list_dead_letters(nc.jetstream())] == [broken]

    dropped = await asyncio.to_thread(run, "dlq", "drop", "--all", "--yes")
    assert dropped.returncode == 0 and "dropped 1 dead letter(s)" in dropped.stdout
    empty = await asyncio.to_thread(run, "dlq", "list", "--json")
    assert json.loads(empty.stdout) == {"items": []}


async def test_the_admin_api_answers_as_the_cli_does(
    nc: NATS, nats_url: str, database_url: str
) -> None:
    fixed, subject = await _fixed_order(nc, "fixed over http")
    broken = await _broken_order(nc)
    admin, admin_entry = new_token(["admin"])
    reader, reader_entry = new_token(["read", "write"])
    settings = Settings(
        nats_url=nats_url,
        database_url=SecretStr(database_url),
        nats_connect_timeout=5,
        api_tokens=SecretStr(f"{admin_entry};{reader_entry}"),
    )
    async with bootstrap(settings, name="test-admin", nats=nc) as parts:
        await migrate(parts)
        app = await api_app(parts)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://tally"
        ) as http:
            as_admin = {"Authorization": f"Bearer {admin}"}
            path = "/admin/dead-letters"
            assert (await http.get(path)).status_code == 401
            refused = await http.get(path, headers={"Authorization": f"Bearer {reader}"})
            assert refused.status_code == 403  # even reading: payloads are shown
            assert (await http.post(f"{path}/{fixed}/drop")).status_code == 401

            first = await http.get(path, params={"limit": 1}, headers=as_admin)
            assert first.status_code == 200, first.text
            page = first.json()
            assert [item["seq"] for item in page["items"]] == [fixed]
            assert page["items"][0]["subject"] == subject
            assert page["items"][0]["type"] == "OrderPlaced"
            assert page["items"][0]["parked"] == []  # nothing parked behind it
            rest = await http.get(path, params={"cursor": page["next_cursor"]}, headers=as_admin)
            assert [item["seq"] for item in rest.json()["items"]] == [broken]
            assert rest.json()["next_cursor"] is None
            assert (await http.get(path, params={"limit": 0}, headers=as_admin)).status_code == 422
            assert (
                await http.get(path, params={"projection": "nope"}, headers=as_admin)
            ).status_code == 422

            shown = await http.get(f"{path}/{fixed}", headers=as_admin)
            assert shown.status_code == 200
            assert shown.json()["headers"]["Tally-Event-Type"] == "OrderPlaced"
            assert '"fixed over http"' in shown.json()["data"]
            for missing in (f"{path}/{broken + 100}", f"{path}/0", f"{path}/x"):
                gone = await http.get(missing, headers=as_admin)
                assert gone.status_code == 404, missing
                assert gone.headers["content-type"] == "application/problem+json"

            retried = await http.post(f"{path}/{fixed}/retry", headers=as_admin)
            assert retried.status_code == 200, retried.text
            assert retried.json()["outcome"] == "applied"
            still = await http.post(f"{path}/{broken}/retry", headers=as_admin)
            assert still.status_code == 409
            assert still.json()["type"] == "/problems/dead-letter-still-fails"
            again = await http.post(f"{path}/{fixed}/retry", headers=as_admin)
            assert again.status_code == 404
            dropped = await http.post(f"{path}/{broken}/drop", headers=as_admin)
            assert dropped.status_code == 200 and dropped.json()["outcome"] == "dropped"
            assert (await http.post(f"{path}/{broken}/drop", headers=as_admin)).status_code == 404
            empty = await http.get(path, headers=as_admin)
            assert empty.json() == {"items": [], "next_cursor": None}
            document = (await http.get("/openapi.json")).json()
            assert {"get"} == set(document["paths"][path]) and "admin" in str(document["paths"])
    orders = [row[1] for row in await rows(database_url, "orders", "order_id")]
    assert orders == ["fixed over http"]
