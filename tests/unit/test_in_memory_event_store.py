"""The in-memory event store passes the event-store contract (no server, a fake clock)."""

import pytest

from contract.event_store import Elapse, EventStoreContract, MakeStore
from support.clock import FakeClock
from write_side.in_memory import InMemoryEventStore
from write_side.ports import EventStore


class TestInMemoryEventStore(EventStoreContract):
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def make_store(self, clock: FakeClock) -> MakeStore:
        async def make(duplicate_window: float) -> EventStore:
            return InMemoryEventStore(duplicate_window=duplicate_window, clock=clock)

        return make

    @pytest.fixture
    def elapse(self, clock: FakeClock) -> Elapse:
        return clock.elapse
