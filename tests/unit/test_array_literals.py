"""A column of a batch as one PostgreSQL array literal (`projections.array_literals`): texts
quoted as PostgreSQL reads them, NULLs, integers. PostgreSQL's own reading of them:
tests/integration/views/test_array_literals_in_postgres.py."""

from projections.array_literals import int_array, text_array


def test_texts_are_quoted_and_none_is_null() -> None:
    assert text_array(["a", "b c", None, ""]) == '{"a","b c",null,""}'
    assert text_array([]) == "{}"


def test_braces_commas_and_the_word_null_stay_inside_their_quotes() -> None:
    assert text_array(["{x,y}", "NULL", "é"]) == '{"{x,y}","NULL","é"}'


def test_a_quote_or_a_backslash_is_escaped_by_a_backslash() -> None:
    # not JSON's escapes: a line break stays as it is (PostgreSQL would read "\n" as "n")
    assert text_array(['say "hi"', "a\\b", "line\nbreak", None]) == (
        '{"say \\"hi\\"","a\\\\b","line\nbreak",NULL}'
    )


def test_a_value_that_is_not_a_text_is_quoted_as_its_json() -> None:
    assert text_array(["25.00", 25, 2.5]) == '{"25.00","25","2.5"}'


def test_integers() -> None:
    assert int_array([1, -2, 30_000_000_000]) == "{1,-2,30000000000}"
    assert int_array([]) == "{}"
