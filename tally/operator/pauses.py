"""Pausing and resuming a view, for `tally pause | resume` and the admin API alike: a row
in `projection_pauses` (see `projections/pause.py` for what the projectors do with it).
Both are idempotent: pausing a paused view or resuming a running one changes nothing."""

from typing import Any

from projections.registry import PROJECTIONS

PAUSE = "INSERT INTO projection_pauses (name) VALUES ($1) ON CONFLICT (name) DO NOTHING"
RESUME = "DELETE FROM projection_pauses WHERE name = $1"
PAUSED_VIEWS = "SELECT name FROM projection_pauses"


class UnknownView(LookupError):
    pass


async def set_paused(conn: Any, view: str, paused: bool) -> dict[str, Any]:
    """Pause (`paused`) or resume `view`; the answer is `{name, paused}`, as the API gives."""
    if view not in PROJECTIONS:
        raise UnknownView(f"no projection {view!r} (known: {', '.join(PROJECTIONS)})")
    await conn.execute(PAUSE if paused else RESUME, view)
    return {"name": view, "paused": paused}


async def paused_views(conn: Any) -> set[str]:
    return {str(row["name"]) for row in await conn.fetch(PAUSED_VIEWS)}
