"""The knobs tests give the write side's constructors, from one place.

Production values come from `tally.settings` (the only place that holds them); the NATS
timeout is more generous in tests, where two suites share two cores.
"""

from tally.settings import Settings

COMMAND_MAX_ATTEMPTS: int = Settings.model_fields["command_max_attempts"].default
DUPLICATE_WINDOW: float = Settings.model_fields["duplicate_window_seconds"].default
TEST_NATS_TIMEOUT = 2.0
