"""After the faults are healed: wait until everything has caught up, that is until the
fulfilment consumer has settled every order event, no order is pending, and every
projection (as the API reports it) has applied its whole stream."""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import nats.errors
from nats.aio.client import Client as NATS

from chaos.fold import fold
from chaos.streams import fulfilment_backlog, read_streams


async def _projection_lag(api_url: str) -> str | None:
    """None when every projection is live at the end of its stream, else what lags."""
    async with httpx.AsyncClient(timeout=10) as client:
        items = (await client.get(f"{api_url}/projections")).json()["items"]
    lagging = [f"{i['name']} lag {i['lag']} ({i['state']})" for i in items if i["lag"] != 0]
    return ", ".join(lagging) if lagging else None


async def _not_settled(nc: NATS, api_urls: list[str]) -> str | None:
    backlog = await fulfilment_backlog(nc)
    if backlog:
        return f"fulfilment has {backlog} order events to settle"
    streams = await read_streams(nc)
    folded = fold(streams.events["ORDERS"], streams.events["STOCK"])
    pending = [order for order, row in folded.orders.items() if row.status == "pending"]
    if pending:
        return f"{len(pending)} orders pending, e.g. {pending[0]}"
    for url in api_urls:
        if (lag := await _projection_lag(url)) is not None:
            return f"{url}: {lag}"
    return None


async def settle(nc: NATS, api_urls: list[str], timeout: float) -> tuple[float, str | None]:
    """Seconds it took, and None, or what still had not caught up after `timeout`."""
    started = time.monotonic()
    last: str | None = "nothing checked yet"
    while time.monotonic() - started < timeout:
        with contextlib.suppress(httpx.HTTPError, nats.errors.Error, TimeoutError, KeyError):
            last = await _not_settled(nc, api_urls)
            if last is None:
                return time.monotonic() - started, None
        await asyncio.sleep(2)
    return time.monotonic() - started, last
