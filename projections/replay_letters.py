"""A replay's swap brings the dead letters of its view in line with the rebuild: the
rebuild's heads (`projections.parking`) are its dead letters. In the swap's transaction
(the projectors held), each head of the rebuild without a dead letter gets one, and the
view's dead letters whose event the rebuild applied or parked are found; those are dropped
after the commit (a retry would apply them twice, or out of order)."""

import json
import logging

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from projections.base import Connection
from projections.dlq import DLQ_STREAM, dead_letter, drop_dead_letter, list_dead_letters
from projections.messages import StoredMessage
from projections.parking import TABLE

log = logging.getLogger("tally.replay")
_HEADS = f"""SELECT seq, stream, subject, data, headers FROM public.{TABLE}
WHERE view = $1 AND state = 'dead' ORDER BY seq"""
REBUILT = "failed again in a replay's rebuild"


async def align_dead_letters(js: JetStreamContext, conn: Connection, view: str) -> list[int]:
    """Dead-letter the heads of `view` that have no dead letter; the dead letters that no
    longer head anything, to drop once the swap is committed (see `drop_stale`)."""
    try:
        await js.stream_info(DLQ_STREAM)
    except NotFoundError:
        return []  # no dead-letter stream (not migrated): nothing to align with
    letters = await list_dead_letters(js, view)
    heads = {int(row["seq"]): row for row in await conn.fetch(_HEADS, view)}
    lettered = {letter.original.seq for letter in letters}
    for seq, row in heads.items():
        if seq not in lettered:
            message = StoredMessage(
                row["stream"], seq, row["subject"], bytes(row["data"]), json.loads(row["headers"])
            )
            await dead_letter(js, view, message, REBUILT, 1)
    return [letter.seq for letter in letters if letter.original.seq not in heads]


async def drop_stale(js: JetStreamContext, view: str, stale: list[int]) -> None:
    for seq in stale:
        await drop_dead_letter(js, seq)
    if stale:
        log.info(
            "dropped the dead letters the rebuild applied",
            extra={"projection": view, "dead_letters": stale},
        )
