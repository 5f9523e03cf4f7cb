"""A one-message batch's deferred view statements (`projections.deferred`): what is kept,
what refuses, and how a text is written into SQL."""

import pytest

from projections.deferred import Deferred, NotDeferrable, literal, view_statement


async def test_a_statement_of_texts_is_kept_in_order() -> None:
    deferred = Deferred()
    assert (
        await deferred.execute("INSERT INTO t SELECT * FROM json_to_recordset($1::json)", "[]")
        == ""
    )
    assert await deferred.execute("UPDATE t SET a = $1::int", "1") == ""
    assert deferred.statements == [
        ("INSERT INTO t SELECT * FROM json_to_recordset($1::json)", ("[]",)),
        ("UPDATE t SET a = $1::int", ("1",)),
    ]


@pytest.mark.parametrize("value", [1, None, b"bytes", "a\x00b"])
async def test_a_value_that_is_not_a_storable_text_refuses(value: object) -> None:
    with pytest.raises(NotDeferrable):
        await Deferred().execute("SELECT $1", value)


async def test_anything_but_execute_needs_the_connection() -> None:
    deferred = Deferred()
    with pytest.raises(NotDeferrable):
        await deferred.executemany("INSERT INTO t VALUES ($1)", [("a",)])
    with pytest.raises(NotDeferrable):
        await deferred.fetchval("SELECT 1")
    with pytest.raises(NotDeferrable):
        deferred.transaction()


def test_a_literal_doubles_its_quotes_and_nothing_else() -> None:
    assert literal("") == "''"
    assert literal("O'Brien") == "'O''Brien'"
    assert literal("a\\'b'' é") == "'a\\''b'''' é'"


def test_a_statement_has_one_name_everywhere() -> None:
    sql = "INSERT INTO t SELECT * FROM json_to_recordset($1::json)"
    assert view_statement(sql) == view_statement(str(sql))
    assert view_statement(sql) != view_statement(sql + " ")
    assert view_statement(sql).startswith("tally_view_")
