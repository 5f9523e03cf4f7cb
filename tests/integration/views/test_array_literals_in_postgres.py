"""PostgreSQL reads a batch's array literals (`projections.array_literals`) back into the
values they were made of: as a statement's parameter, and written into a message as a
string literal (a one-message batch, `projections.deferred.literal`)."""

import asyncpg
import pytest

from projections.array_literals import int_array, text_array
from projections.deferred import literal

pytestmark = pytest.mark.integration

AWKWARD = [
    "plain",
    "",
    None,
    "NULL",
    "null",
    "{x,y}",
    " spaced ",
    'say "hi"',
    'back\\slash \\" \\\\',
    "line\nbreak\ttab",
    "O'Brien '' E'x' $$ ;--",
    "ünïcode é 🙂",
]


@pytest.mark.parametrize(
    "values",
    [AWKWARD, [value for value in AWKWARD if value is None or not {'"', "\\"} & set(value)]],
    ids=["escaped", "as-json-writes-them"],
)
async def test_texts_come_back_as_they_were(database_url: str, values: list[str | None]) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        array = text_array(values)
        assert await conn.fetchval("SELECT $1::text::text[]", array) == values
        assert await conn.fetchval(f"SELECT {literal(array)}::text[]") == values
    finally:
        await conn.close()


async def test_integers_and_typed_elements(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("SELECT $1::text::bigint[]", int_array([1, -2, 2**40])) == [
            1,
            -2,
            2**40,
        ]
        moments = text_array(["2026-12-02T09:00:00.123456Z", None])
        assert await conn.fetchval(
            "SELECT ($1::text::timestamptz[])[1] = '2026-12-02 09:00:00.123456+00'", moments
        )
    finally:
        await conn.close()
