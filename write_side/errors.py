"""The write side's errors. Library errors are translated into these in one place
(the adapters `event_store.py` and `key_value.py`); `http/problems.py` maps them to HTTP."""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from write_side.ports import LoadedEvents


class WriteSideError(Exception):
    """Base of every error the write side raises on purpose."""


class RuleViolation(WriteSideError):
    """A business rule refuses the command (HTTP 409). `code` ends the problem type URI."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


class AggregateNotFound(WriteSideError):
    """The command names an order or SKU that has no events (HTTP 404)."""

    def __init__(self, kind: str, aggregate_id: str) -> None:
        super().__init__(f"{kind} {aggregate_id} not found")
        self.kind = kind
        self.aggregate_id = aggregate_id


class ConcurrencyConflict(WriteSideError):
    """The subject moved past the expected sequence; reload and decide again. `newer`,
    when the store read them while telling the conflict from its own earlier write: the
    events stored after `expected` (a `ports.LoadedEvents`), at least up to the subject's
    last sequence at the conflict, so the caller need not read them again."""

    def __init__(
        self,
        subject: str,
        expected: int,
        actual: int | None = None,
        newer: "LoadedEvents | None" = None,
    ) -> None:
        super().__init__(f"{subject}: expected last sequence {expected}, found {actual}")
        self.subject = subject
        self.expected = expected
        self.actual = actual
        self.newer = newer


class StoreUnavailable(WriteSideError):
    """NATS cannot be reached or did not answer in time (HTTP 503)."""


class WrongRevision(WriteSideError):
    """A key-value write lost: the key holds another revision than the one expected (or any
    value, for a create). Caught where it is expected (idempotency); never sent to HTTP."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key {key} changed")
        self.key = key


class IdempotencyKeyReused(WriteSideError):
    """The same Idempotency-Key came with another request body (HTTP 422)."""


class IdempotentRequestInProgress(WriteSideError):
    """The first request with this Idempotency-Key is still being processed (HTTP 409)."""
