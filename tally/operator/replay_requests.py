"""Replays asked for through the admin API, one row each in `replay_requests`: asked for
here (`request_replay`), run by a projections worker (`tally.roles.replay_worker`), looked
at (`show_replay`) and cancelled (`cancel_replay`) here.

One replay per view at a time: a running row (building, catching-up, comparing) is unique
per view (a partial unique index), and a `tally replay` running from a terminal holds the
view's replay lock, which the request tries within its transaction."""

import json
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from projections.registry import PROJECTIONS
from tally.operator.pauses import UnknownView

RUNNING = ("building", "catching-up", "comparing")
FIELDS = """id, projection, state, done, total, rate, error, comparison,
    requested_at, started_at, finished_at"""
SHOW = f"SELECT {FIELDS} FROM replay_requests WHERE id = $1"
CANCEL = f"""UPDATE replay_requests SET cancel = true,
    state = CASE WHEN started_at IS NULL THEN 'cancelled' ELSE state END,
    finished_at = CASE WHEN started_at IS NULL THEN now() END
WHERE id = $1 AND state = any($2::text[])
RETURNING {FIELDS}"""


class ReplayConflict(Exception):
    """A replay of that view runs already (asked for here, or `tally replay`)."""


class ReplayFinished(Exception):
    """The replay is over: nothing to cancel."""


@dataclass(frozen=True)
class ReplayLock:
    """The view's replay lock, held by whatever runs a replay of it (projections.replay)."""

    view: str

    @property
    def key(self) -> str:
        return f"tally.replay.{self.view}"


def replay_id(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def request_replay(conn: Any, view: str) -> uuid.UUID:
    """A new replay of `view`, `building` until a worker takes it; ReplayConflict when one
    runs."""
    if view not in PROJECTIONS:
        raise UnknownView(f"no projection {view!r} (known: {', '.join(PROJECTIONS)})")
    new = uuid.uuid4()
    try:
        async with conn.transaction():
            free = await conn.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtext($1))", ReplayLock(view).key
            )
            if not free:
                raise ReplayConflict(f"a replay of {view} is running (`tally replay`?)")
            await conn.execute(
                "INSERT INTO replay_requests (id, projection) VALUES ($1, $2)", new, view
            )
    except asyncpg.UniqueViolationError:
        running = await conn.fetchval(
            "SELECT id FROM replay_requests WHERE projection = $1 AND state = any($2::text[])",
            view,
            list(RUNNING),
        )
        raise ReplayConflict(f"replay {running} of {view} is running") from None
    return new


def described(row: Any) -> dict[str, Any]:
    """A replay as the admin API shows it."""
    comparison = row["comparison"]
    return {
        "replay_id": str(row["id"]),
        "projection": row["projection"],
        "state": row["state"],
        "done": int(row["done"]),
        "total": int(row["total"]),
        "rate": round(float(row["rate"]), 1),
        "error": row["error"],
        "comparison": json.loads(comparison) if comparison else None,
        "requested_at": _time(row["requested_at"]),
        "started_at": _time(row["started_at"]),
        "finished_at": _time(row["finished_at"]),
    }


def _time(value: Any) -> str | None:
    return None if value is None else str(value.isoformat())


async def show_replay(conn: Any, id: uuid.UUID) -> dict[str, Any] | None:
    row = await conn.fetchrow(SHOW, id)
    return None if row is None else described(row)


async def cancel_replay(conn: Any, id: uuid.UUID) -> dict[str, Any] | None:
    """Ask the replay to stop (one no worker has taken yet is cancelled at once; a running
    one stops within a second or two, its shadow dropped, the old view untouched). None:
    no such replay; ReplayFinished: it is over."""
    row = await conn.fetchrow(CANCEL, id, list(RUNNING))
    if row is not None:
        return described(row)
    if await conn.fetchrow(SHOW, id) is None:
        return None
    raise ReplayFinished(f"replay {id} is over")
