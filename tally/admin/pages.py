"""The problem codes only the admin API answers with, and what each means."""

from collections.abc import Mapping

ADMIN_PAGES: Mapping[str, str] = {
    "dead-letter-still-fails": "The dead letter was applied to its view again and failed "
    "again; it stays, and `detail` has the new error. Fix the cause, then retry.",
    "replay-running": "A replay of that view is running (asked for through the admin API, "
    "whose id `detail` names, or `tally replay` from a terminal): one at a time per view. "
    "Wait for it, or cancel it with DELETE /admin/replays/{id}.",
    "replay-finished": "The replay is over (swapped, failed or cancelled): there is nothing "
    "to cancel. GET /admin/replays/{id} shows how it ended.",
}
