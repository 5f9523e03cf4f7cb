"""Idempotency keys kept durably in a key-value bucket (JetStream's in production, default
48 h, across restarts), not only inside the stream's duplicate window.

The first request with a key claims it (`create`, which only one writer can win), runs, and
stores its answer; a repeat with the same body gets that answer; another body gets 422.
A claim left behind by a crashed process is taken over after `stale_after` seconds.
"""

import asyncio
import base64
import contextlib
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nats.js import JetStreamContext

from write_side.errors import (
    IdempotencyKeyReused,
    IdempotentRequestInProgress,
    StoreUnavailable,
    WrongRevision,
)
from write_side.key_value import JetStreamKeyValue, open_key_value
from write_side.ports import KeyValueBucket

BUCKET = "tally_idempotency"


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: bytes
    headers: dict[str, str]


async def open_bucket(
    js: JetStreamContext, *, ttl_seconds: float, replicas: int
) -> JetStreamKeyValue:
    return await open_key_value(
        js,
        BUCKET,
        ttl_seconds=ttl_seconds,
        replicas=replicas,
        description="Tally Idempotency-Key answers",
    )


class IdempotencyStore:
    """`stale_after`: seconds after which a claim without an answer is taken over; `wait`:
    how long a repeat waits for the first request's answer; `clock`: Unix time."""

    def __init__(
        self,
        kv: KeyValueBucket,
        *,
        stale_after: float = 30.0,
        wait: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._kv = kv
        self._stale_after = stale_after
        self._wait = wait
        self._clock = clock

    @staticmethod
    def kv_key(scope: str, key: str) -> str:
        return hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest()

    async def begin(self, kv_key: str, fingerprint: str) -> StoredAnswer | None:
        """None: this request holds the key and must run. Else the first answer to replay."""
        claim = json.dumps({"fingerprint": fingerprint, "claimed_at": self._clock()}).encode()
        deadline = time.monotonic() + self._wait
        while True:
            try:
                await self._kv.create(kv_key, claim)
                return None
            except WrongRevision:
                pass
            entry = await self._get(kv_key)
            if entry is None:
                continue  # expired or dropped in between: claim again
            record, revision = entry
            if record["fingerprint"] != fingerprint:
                raise IdempotencyKeyReused("this Idempotency-Key was used with another request")
            if "status" in record:
                return StoredAnswer(
                    status=int(record["status"]),
                    body=base64.b64decode(record["body"]),
                    headers=dict(record["headers"]),
                )
            if self._clock() - float(record["claimed_at"]) > self._stale_after:
                try:
                    await self._kv.update(kv_key, claim, revision=revision)
                    return None
                except WrongRevision:
                    continue
            if time.monotonic() > deadline:
                raise IdempotentRequestInProgress("the first request with this key is running")
            await asyncio.sleep(0.05)

    async def complete(self, kv_key: str, fingerprint: str, answer: StoredAnswer) -> None:
        record = {
            "fingerprint": fingerprint,
            "claimed_at": self._clock(),
            "status": answer.status,
            "body": base64.b64encode(answer.body).decode(),
            "headers": answer.headers,
        }
        await self._kv.put(kv_key, json.dumps(record).encode())

    async def abandon(self, kv_key: str) -> None:
        """Gives the key back after an answer that must not be replayed (e.g. 503)."""
        # If this fails, the claim goes stale and is taken over later.
        with contextlib.suppress(StoreUnavailable):
            await self._kv.delete(kv_key)

    async def _get(self, kv_key: str) -> tuple[dict[str, Any], int] | None:
        entry = await self._kv.get(kv_key)
        if entry is None:
            return None
        return json.loads(entry.value), entry.revision
