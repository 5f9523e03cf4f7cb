"""Tally as production runs it: `tally migrate`, then `tally api`, `tally project` and
`tally fulfil` as separate processes on servers that the test started and may kill."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from support.roles import Role, api_role, migrate
from tally.embedded.ports import free_port


@dataclass
class Stack:
    api: Role
    project: Role
    fulfil: Role
    base: str

    @property
    def roles(self) -> list[Role]:
        return [self.api, self.project, self.fulfil]

    def pids(self) -> list[int]:
        return [role.pid for role in self.roles]

    def all_alive(self) -> bool:
        return all(role.alive for role in self.roles)

    def tails(self) -> str:
        return "\n".join(f"--- {r.args[0]}\n{r.tail(1500)}" for r in self.roles)

    async def projections(self) -> list[dict[str, object]]:
        async with httpx.AsyncClient(base_url=self.base, timeout=3) as client:
            items: list[dict[str, object]] = (await client.get("/projections")).json()["items"]
            return items


async def wait_logged(role: Role, text: str, timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while text not in role.tail(1_000_000):
            assert role.alive, role.tail()
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def running_stack(env: dict[str, str], logs: Path) -> AsyncIterator[Stack]:
    await asyncio.to_thread(migrate, env)
    port = free_port("127.0.0.1")
    stack = Stack(
        api=api_role(env, port, logs / "api.log"),
        project=Role(["project"], env, logs / "project.log"),
        fulfil=Role(["fulfil"], env, logs / "fulfil.log"),
        base=f"http://127.0.0.1:{port}",
    )
    try:
        for role in stack.roles:
            role.start()
        await asyncio.to_thread(stack.api.wait_http, stack.base, "/ready", 60)
        # the workers are running (and handle stop signals) once they have said so
        await wait_logged(stack.project, "projecting")
        await wait_logged(stack.fulfil, "fulfilment running")
        yield stack
    finally:
        for role in stack.roles:
            role.kill()
