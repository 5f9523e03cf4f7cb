"""Login roles in the groups the migrations make (tally_query, tally_projector), made the
way the README says, for the tests that run a role with its own database user."""

import contextlib
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from tally.database_url import asyncpg_dsn


def as_user(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{password}@{host}"))


@contextlib.asynccontextmanager
async def login_role(owner_url: str, group: str) -> AsyncIterator[str]:
    """A new LOGIN role that is a member of `group`; yields its database URL, then drops it."""
    user, password = f"t_{group}_{uuid.uuid4().hex[:8]}", uuid.uuid4().hex
    admin = await asyncpg.connect(asyncpg_dsn(owner_url))
    try:
        await admin.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{password}' IN ROLE {group}")
        yield as_user(owner_url, user, password)
    finally:
        await admin.execute(f"DROP OWNED BY {user}; DROP ROLE {user}")
        await admin.close()
