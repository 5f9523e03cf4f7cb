"""A column of a batch's rows as ONE PostgreSQL array literal (a text such as
`{"a","b",NULL}`), for statements that unnest their rows from typed array parameters.

A view's statement takes a batch as texts (a one-message batch writes its texts into the
message as literals: `projections.deferred`), and PostgreSQL reads an array literal with
each element's own input function (`uuid_in`, `timestamptz_in`, ...), once. A JSON text
unpacked by `json_to_recordset` was parsed twice more (validated as `json`, then parsed
again into a record per object, its values copied out as texts): PostgreSQL's CPU per
OrderPlaced -25 to -30 % (docs/benchmarks.md, issue 14, session 12).

Quoting: every element between double quotes, a backslash and a double quote escaped by a
backslash; NULL unquoted. msgspec writes a list of strings as JSON in C, and the JSON of
texts and nulls without a backslash (no quote, backslash or control character escaped in
it) is already that literal between its brackets; any other list is quoted element by
element (a value that is not a text as its JSON text).
"""

from collections.abc import Sequence

import msgspec

_json = msgspec.json.Encoder()
_TEXTS = list[str | None]


def _quoted(value: object) -> str:
    if value is None:
        return "NULL"
    text = value if isinstance(value, str) else _json.encode(value).decode()
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def text_array(values: Sequence[object]) -> str:
    """`values` (texts, None for NULL) as an array literal."""
    try:
        msgspec.convert(values, _TEXTS)  # C, ~4 ns an element
    except msgspec.ValidationError:
        pass
    else:
        encoded = _json.encode(values).decode()
        if "\\" not in encoded:
            return "{" + encoded[1:-1] + "}"
    return "{" + ",".join(map(_quoted, values)) + "}"


def int_array(values: Sequence[int]) -> str:
    """Integers as an array literal."""
    return "{" + _json.encode(values).decode()[1:-1] + "}"
