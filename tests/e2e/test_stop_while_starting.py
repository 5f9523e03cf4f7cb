"""A stop signal that reaches a role while it is still starting (importing, connecting)
ends it cleanly with exit 0, as one that comes later does: what an orchestrator sees when
it scales a deployment down right after scaling it up."""

import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import pytest

from support.roles import TALLY, migrate, role_env
from support.signals import wait_for_handler
from tally.embedded.ports import free_port

pytestmark = pytest.mark.e2e


def stopped_at_once(args: list[str], env: dict[str, str], sig: signal.Signals) -> str:
    """Start `tally <args>`, signal it as soon as it handles the signal; its stderr."""
    proc = subprocess.Popen(
        [TALLY, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_handler(proc.pid, sig)
        proc.send_signal(signal.SIGSTOP)  # hold it where it is, then look
        # caught from the first line of the command on: long before the event loop
        # (uvloop, imported with the command line) exists
        assert "uvloop" not in Path(f"/proc/{proc.pid}/maps").read_text()
        proc.send_signal(sig)
        proc.send_signal(signal.SIGCONT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    return err


@pytest.mark.parametrize("role", ["api", "project", "fulfil"])
def test_a_role_stopped_while_starting_exits_zero(
    nats_url: str, database_url: str, role: str
) -> None:
    """SIGTERM only: Python handles SIGINT from its own start, so the moment Tally takes
    it over cannot be seen from outside (SIGTERM's handler is Tally's first line)."""
    env = role_env(nats_url, database_url, TALLY_PORT=str(free_port()))
    migrate(env)
    stopped_at_once([role], env, signal.SIGTERM)


def test_tally_up_stopped_while_starting_exits_zero() -> None:
    home = Path(tempfile.mkdtemp(prefix="tally-e2e-", dir="/tmp"))
    try:
        env = role_env("") | {"TALLY_DATA_DIR": str(home / "data")}
        env.pop("NATS_URL")
        stopped_at_once(["up", "--port", str(free_port())], env, signal.SIGTERM)
    finally:
        shutil.rmtree(home, ignore_errors=True)
