"""SIGTERM (what an orchestrator sends) and SIGINT stop every role cleanly: exit 0, in
bounded time, with the work in hand finished."""

import asyncio
import signal
import time
from pathlib import Path

import httpx
import pytest

from support.roles import role_env
from support.stack import running_stack

pytestmark = pytest.mark.e2e
BOUND = 15.0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
async def test_every_role_exits_zero_on_a_stop_signal(
    nats_url: str, database_url: str, tmp_path: Path, sig: signal.Signals
) -> None:
    async with running_stack(role_env(nats_url, database_url), tmp_path) as stack:
        async with httpx.AsyncClient(base_url=stack.base, timeout=10) as http:
            load = [http.post(f"/stock/S{i % 7}/receive", json={"quantity": 1}) for i in range(40)]
            answers = await asyncio.gather(*load)
        assert {answer.status_code for answer in answers} == {202}
        for role in stack.roles:
            assert role.proc is not None
            role.proc.send_signal(sig)
        started = time.monotonic()
        codes = [await asyncio.to_thread(role.wait_exit, BOUND) for role in stack.roles]
        elapsed = time.monotonic() - started
    assert codes == [0, 0, 0], stack.tails()
    assert elapsed < BOUND
    for role in stack.roles:
        assert "Traceback" not in role.tail(20_000), role.tail()
