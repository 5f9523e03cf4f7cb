"""Free loopback TCP ports for the embedded servers.

Ports are picked below the kernel's ephemeral range when possible: a port from that range
can be taken by an outgoing connection's local end while a server is down, which would
make a restart on the same port fail.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from pathlib import Path

__all__ = ["free_port", "port_is_free"]

_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_LOWEST = 20000
_ATTEMPTS = 200

_lock = threading.Lock()
_handed_out: set[int] = set()


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on (host, port) and it can be bound right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _ephemeral_low() -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    return 32768


def _kernel_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on `host` that is free now and not handed out before by this process."""
    high = _ephemeral_low() - 1
    with _lock:
        if high > _LOWEST:
            for _ in range(_ATTEMPTS):
                port = random.randint(_LOWEST, high)
                if port not in _handed_out and port_is_free(port, host):
                    _handed_out.add(port)
                    return port
        for _ in range(_ATTEMPTS):
            port = _kernel_port(host)
            if port not in _handed_out:
                _handed_out.add(port)
                return port
    raise RuntimeError(f"no free TCP port found on {host}")
