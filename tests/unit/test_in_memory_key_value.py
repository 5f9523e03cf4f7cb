"""The in-memory key-value bucket passes the key-value contract (no server, a fake clock)."""

import pytest

from contract.key_value import Elapse, KeyValueContract, MakeBucket
from support.clock import FakeClock
from write_side.in_memory import InMemoryKeyValue
from write_side.ports import KeyValueBucket


class TestInMemoryKeyValue(KeyValueContract):
    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    @pytest.fixture
    def make_bucket(self, clock: FakeClock) -> MakeBucket:
        async def make(ttl: float | None) -> KeyValueBucket:
            return InMemoryKeyValue(ttl=ttl, clock=clock)

        return make

    @pytest.fixture
    def elapse(self, clock: FakeClock) -> Elapse:
        return clock.elapse
