"""A NATS server without JetStream on a given port: every JetStream request finds no
responders, as during a leader election. Tests of what a role does while JetStream cannot
answer yet start one, then an EmbeddedNats with JetStream on the same port."""

import socket
import subprocess
import time

from tally.embedded.nats_server import find_nats_server


def listening(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


def without_jetstream(port: int) -> subprocess.Popen[bytes]:
    """NATS without JetStream: every JetStream request has no responders, as in an
    election."""
    plain = subprocess.Popen(
        [str(find_nats_server()), "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    listening(port)
    return plain
