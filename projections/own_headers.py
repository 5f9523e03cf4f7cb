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
to its `\\r\\n` as that parser splits it, a value is stripped as it strips them, and a block
that names any of the six again further on (where the dict keeps the last value) is left to
the dict.
"""

import re

# (event id, type, version, correlation id, occurrence time, writer mark), unstripped
OwnHeaders = tuple[str, str, str, str, str, str]

_OWN = re.compile(
    r"NATS/1\.0\r\n"
    r"Nats-Msg-Id:(.*)\r\n"
    r"Tally-Event-Type:(.*)\r\n"
    r"Tally-Event-Version:(.*)\r\n"
    r"Tally-Correlation-Id:(.*)\r\n"
    r"Tally-Occurred-At:(.*)\r\n"
    r"Tally-Writer:(.*)\r\n"
)
_NAMED_AGAIN = re.compile(
    r"Nats-Msg-Id|Tally-(?:Event-Type|Event-Version|Correlation-Id|Occurred-At|Writer)"
)
_END = "\r\n"  # the empty line that ends a block with nothing after the six


def own_headers(block: bytes | None) -> OwnHeaders | None:
    """The six values of a block laid out as Tally writes it (each as the line holds it
    after the colon: strip it), None for any other block."""
    if block is None:
        return None
    text = block.decode("utf-8", "replace")
    match = _OWN.match(text)
    if match is None:
        return None
    end = match.end()
    if text[end:] != _END and _NAMED_AGAIN.search(text, end) is not None:
        return None
    return match.groups()  # type: ignore[return-value]
