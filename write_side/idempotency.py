"""Idempotency keys kept durably in a JetStream key-value bucket (default 48 h, across
restarts), not only inside the stream's duplicate window.

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
from dataclasses import dataclass
from typing import Any

import nats.errors
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from write_side.errors import (
    IdempotencyKeyReused,
    IdempotentRequestInProgress,
    StoreUnavailable,
)

BUCKET = "tally_idempotency"


@dataclass(frozen=True)
class StoredAnswer:
    status: int
    body: bytes
    headers: dict[str, str]


async def open_bucket(js: JetStreamContext, *, ttl_seconds: float, replicas: int) -> KeyValue:
    try:
        return await js.key_value(BUCKET)
    except BucketNotFoundError:
        return await js.create_key_value(
            bucket=BUCKET,
            ttl=ttl_seconds,
            history=1,
            replicas=replicas,
            description="Tally Idempotency-Key answers",
        )


class IdempotencyStore:
    def __init__(self, kv: KeyValue, *, stale_after: float = 30.0, wait: float = 1.0) -> None:
        self._kv = kv
        self._stale_after = stale_after
        self._wait = wait

    @staticmethod
    def kv_key(scope: str, key: str) -> str:
        return hashlib.sha256(f"{scope}\n{key}".encode()).hexdigest()

    async def begin(self, kv_key: str, fingerprint: str) -> StoredAnswer | None:
        """None: this request holds the key and must run. Else the first answer to replay."""
        claim = json.dumps({"fingerprint": fingerprint, "claimed_at": time.time()}).encode()
        deadline = time.monotonic() + self._wait
        while True:
            try:
                await self._kv.create(kv_key, claim)
                return None
            except KeyWrongLastSequenceError:
                pass
            except (nats.errors.Error, TimeoutError) as error:
                raise StoreUnavailable(f"idempotency store: {error!r}") from error
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
            if time.time() - float(record["claimed_at"]) > self._stale_after:
                try:
                    await self._kv.update(kv_key, claim, last=revision)
                    return None
                except KeyWrongLastSequenceError:
                    continue
            if time.monotonic() > deadline:
                raise IdempotentRequestInProgress("the first request with this key is running")
            await asyncio.sleep(0.05)

    async def complete(self, kv_key: str, fingerprint: str, answer: StoredAnswer) -> None:
        record = {
            "fingerprint": fingerprint,
            "claimed_at": time.time(),
            "status": answer.status,
            "body": base64.b64encode(answer.body).decode(),
            "headers": answer.headers,
        }
        try:
            await self._kv.put(kv_key, json.dumps(record).encode())
        except (nats.errors.Error, TimeoutError) as error:
            raise StoreUnavailable(f"idempotency store: {error!r}") from error

    async def abandon(self, kv_key: str) -> None:
        """Gives the key back after an answer that must not be replayed (e.g. 503)."""
        # If this fails, the claim goes stale and is taken over later.
        with contextlib.suppress(nats.errors.Error, TimeoutError):
            await self._kv.delete(kv_key)

    async def _get(self, kv_key: str) -> tuple[dict[str, Any], int] | None:
        try:
            entry = await self._kv.get(kv_key)
        except KeyNotFoundError:
            return None
        except (nats.errors.Error, TimeoutError) as error:
            raise StoreUnavailable(f"idempotency store: {error!r}") from error
        if entry.value is None:
            return None
        return json.loads(entry.value), int(entry.revision or 0)
