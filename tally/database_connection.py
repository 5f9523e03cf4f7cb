"""The operator's PostgreSQL connection (`tally status`, `dlq retry`, the checks before
`replay` and `migrate`): made within a bounded time, or one error naming the URL (password
masked) and the cause."""

import asyncpg

from tally.connect_errors import cause
from tally.database_url import asyncpg_dsn
from tally.redaction import mask_url


class DatabaseUnavailable(Exception):
    """PostgreSQL could not be reached, or refused us; the message says where and why."""


async def connect_database(dsn: str, *, timeout: float) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(asyncpg_dsn(dsn), timeout=timeout)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {mask_url(dsn)}: {cause(error)}"
        ) from error
