"""The header block of an event as Tally writes it, read without building a dict.

Tally's write side writes an event's headers in one order (`events.codec.
encode_header_lines`): the event id, type, version, correlation id, occurrence time and
writer mark, then optional lines (causation, trace, the expected sequence). A projector
needs those six values of every event and no other header of most of them, so a block laid
out that way is read by one regular expression on its text (~0.5 µs against ~1.2 µs for a
dict of every header, docs/benchmarks.md, issue 14, session 10); the message keeps its block
and parses the dict only if it is asked for one.

The values are what `projections.wire.parse_headers` would give for those names, or the
block is not taken here (None: the caller parses the dict): each line of the six is read up
to its `\\r\\n` as that parser splits it, and a block that names any of the six again
further on (where the dict keeps the last value) is left to the dict. A value is what follows
the one space nats-py writes after the colon: the caller strips it, or takes it only when it
is exactly what it must be (a type, a version, a mark: any other whitespace makes it another
value, and the message is then decoded through the dict, which strips).
"""

import re

# (event id, type, version, correlation id, occurrence time, writer mark) after ": ", and
# the block's end ("\r\n": no other header follows the six; None: others follow)
OwnHeaders = tuple[str, str, str, str, str, str, str | None]

_OWN = re.compile(
    r"NATS/1\.0\r\n"
    r"Nats-Msg-Id: (.*)\r\n"
    r"Tally-Event-Type: (.*)\r\n"
    r"Tally-Event-Version: (.*)\r\n"
    r"Tally-Correlation-Id: (.*)\r\n"
    r"Tally-Occurred-At: (.*)\r\n"
    r"Tally-Writer: (.*)\r\n"
    r"(\r\n\Z)?"  # the empty line that ends a block with nothing after the six
)
_NAMED_AGAIN = re.compile(
    r"Nats-Msg-Id|Tally-(?:Event-Type|Event-Version|Correlation-Id|Occurred-At|Writer)"
)


def own_headers(block: bytes | None) -> OwnHeaders | None:
    """The six values of a block laid out as Tally writes it (each as the line holds it
    after ": ") and whether they are all of it, None for any other block."""
    if block is None:
        return None
    text = block.decode("utf-8", "replace")
    match = _OWN.match(text)
    if match is None:
        return None
    own: OwnHeaders = match.groups()  # type: ignore[assignment]
    if own[6] is None and _NAMED_AGAIN.search(text, match.end()) is not None:
        return None
    return own


def alone(own: OwnHeaders) -> bool:
    """The block holds the six headers and no other (so no atomic batch's id either)."""
    return own[6] is not None
