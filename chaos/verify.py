"""Everything the model checks once the run has settled, gathered in one place: reads
the streams, the views, the gateway's books and the processes' record, runs each check,
and asks `tally audit` too when this build has it (issue 19)."""

from __future__ import annotations

import asyncio
import subprocess
from typing import Any

import httpx
from nats.aio.client import Client as NATS

from chaos import check_fulfilment as fulfilment
from chaos import check_views as views
from chaos.check_commands import check_commands
from chaos.deployment import Deployment
from chaos.fold import fold
from chaos.history import History
from chaos.processes import TALLY
from chaos.report import Outcome
from chaos.shape import VIEWS
from chaos.streams import dead_letters, query, read_streams
from chaos.violations import Violation, violation


def _audit(deployment: Deployment) -> list[Violation]:
    """`tally audit NAME` for every view, when the command exists (exit 0: agrees)."""
    env = deployment.env | {
        "NATS_URL": deployment.direct_nats_url,
        "DATABASE_URL": deployment.direct_database_url,
    }
    probe = subprocess.run([TALLY, "audit", "--help"], env=env, capture_output=True, check=False)
    if probe.returncode != 0:
        return []
    found = []
    for view in VIEWS:
        done = subprocess.run(
            [TALLY, "audit", view], env=env, capture_output=True, timeout=300, check=False
        )
        if done.returncode != 0:
            what = f"tally audit {view} exit {done.returncode}: {done.stdout.decode()[-300:]}"
            found.append(violation("audit", what))
    return found


async def verify(deployment: Deployment, history: History, nc: NATS) -> Outcome:
    streams = await read_streams(nc)
    folded = fold(streams.events["ORDERS"], streams.events["STOCK"])
    database = deployment.direct_database_url
    order_rows = views.order_rows(await query(database, "SELECT * FROM orders"))
    stock_rows = views.stock_rows(await query(database, "SELECT * FROM stock_items"))
    async with httpx.AsyncClient(timeout=30) as client:
        ledger: dict[str, Any] = (await client.get(f"{deployment.gateway_url}/ledger")).json()
    found = check_commands(history.calls, streams.all())
    found += fulfilment.check_traced(streams)
    found += fulfilment.check_steps_once(streams)
    found += fulfilment.check_outcomes(streams, folded)
    ledger_found, notes = fulfilment.check_ledger(streams, folded, ledger)
    found += ledger_found
    found += views.check_invariant(folded)
    found += views.check_view_rows(folded, order_rows, stock_rows)
    found += views.check_reads(history.calls, folded)
    found += [violation("poison", f"not a valid event: {p}") for p in streams.poison]
    if dead := await dead_letters(nc):
        found.append(violation("dead-letter", f"{dead} events dead-lettered"))
    found += [
        violation("crash", f"{f.target} exited without being killed: {f.detail[-300:]}")
        for f in history.faults
        if f.kind == "crash"
    ]
    found += await asyncio.to_thread(_audit, deployment)
    outcome = Outcome(history, streams.all(), found, notes)
    outcome.figures |= {
        "events": len(outcome.events),
        "orders": len(folded.orders),
        "gateway_calls": sum(ledger["calls"].values()),
    }
    return outcome
