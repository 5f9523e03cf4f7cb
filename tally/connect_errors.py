"""Why a connection failed, in a few words, for the one line an operator reads:
`connection refused`, `unknown host`, `no answer (timed out)`, or the server's own
message (passwords masked)."""

import socket

import nats

from tally.redaction import mask_url


def cause(error: BaseException | None) -> str:
    if error is None:
        return "no answer"
    if isinstance(error, ConnectionRefusedError) or "Connect call failed" in str(error):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return f"unknown host ({error.strerror or error})"
    if isinstance(error, TimeoutError | nats.errors.TimeoutError):
        return "no answer (timed out)"
    return mask_url(str(error) or type(error).__name__)
