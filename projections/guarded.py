"""Retrying what may pass on a second try, and telling what never will: an error the
event itself causes (a poison event: undecodable, or refused by the view's constraints)
against one of the database or the connection (retried by the caller's session)."""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from events.codec import DecodeError
from projections.facts import Fact
from projections.messages import StoredMessage, decode_all

_POISON_SQLSTATE_CLASSES = ("22", "23")  # data exceptions, integrity violations


def is_poison_error(error: BaseException) -> bool:
    """An error that the event itself causes (retrying the database will not help)."""
    if isinstance(error, asyncpg.PostgresError):
        return str(getattr(error, "sqlstate", "") or "")[:2] in _POISON_SQLSTATE_CLASSES
    return isinstance(error, DecodeError | TypeError | ValueError | KeyError)


@dataclass(frozen=True)
class Retry:
    attempts: int = 5
    backoff: float = 0.1  # seconds before the 2nd attempt, doubling each time

    async def pause(self, attempt: int) -> None:
        await asyncio.sleep(self.backoff * 2 ** (attempt - 1))


async def decode_guarded(
    messages: Sequence[StoredMessage], retry: Retry
) -> tuple[list[Fact], list[tuple[StoredMessage, str]]]:
    """Decode every message; one that fails is tried again with backoff, then given up."""
    events, poison = decode_all(messages)
    failed: list[tuple[StoredMessage, str]] = []
    for item in poison:
        error = item.error
        for attempt in range(1, retry.attempts):
            await retry.pause(attempt)
            try:
                events.append(item.message.decode())
                break
            except DecodeError as again:
                error = str(again)
        else:
            failed.append((item.message, error))
    if poison:  # those decoded on a retry were appended: back into stream order
        events.sort(key=lambda event: event.seq)
    return events, failed
