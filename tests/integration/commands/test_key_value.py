"""A JetStream key-value bucket passes the key-value contract against a real nats-server."""

import asyncio
from uuid import uuid4

import pytest
from nats.aio.client import Client as NATS

from contract.key_value import Elapse, KeyValueContract, MakeBucket
from write_side.key_value import open_key_value
from write_side.ports import KeyValueBucket

pytestmark = pytest.mark.integration


class TestJetStreamKeyValue(KeyValueContract):
    @pytest.fixture
    def make_bucket(self, nc: NATS) -> MakeBucket:
        async def make(ttl: float | None) -> KeyValueBucket:
            name = f"contract_{uuid4().hex[:12]}"
            return await open_key_value(
                nc.jetstream(), name, ttl_seconds=ttl, replicas=1, description="contract"
            )

        return make

    @pytest.fixture
    def elapse(self) -> Elapse:
        return asyncio.sleep
