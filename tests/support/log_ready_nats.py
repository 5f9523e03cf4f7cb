"""An embedded NATS server that is ready when its log says so, for configurations the
plain-text readiness probe cannot pass (TLS required, operator/JWT mode)."""

import time

from tally.embedded.nats_server import EmbeddedNats


class LogReadyNats(EmbeddedNats):
    def _wait_ready(self, timeout: float, log_offset: int) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "Server is ready" in self.log_path.read_text(errors="replace")[log_offset:]:
                return
            if not self.running:
                break
            time.sleep(0.05)
        self.kill()
        raise AssertionError("nats-server did not start:\n" + self.log_path.read_text()[-3000:])
