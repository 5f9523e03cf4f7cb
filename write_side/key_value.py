"""The JetStream adapter of the key-value port (`ports.KeyValueBucket`): a KV bucket with
history 1 and, when asked, a TTL (the bucket's max age).

nats-py's errors become write-side errors here: a lost create or update (10071) ->
WrongRevision; no connection, no answer -> StoreUnavailable.
"""

import nats.errors
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from write_side.errors import StoreUnavailable, WrongRevision
from write_side.ports import KeyValueEntry, check_key

_FAILED = (nats.errors.Error, TimeoutError)


async def open_key_value(
    js: JetStreamContext,
    bucket: str,
    *,
    ttl_seconds: float | None,
    replicas: int,
    description: str,
) -> "JetStreamKeyValue":
    """The bucket, created with this configuration when it does not exist yet."""
    try:
        kv = await js.key_value(bucket)
    except BucketNotFoundError:
        kv = await js.create_key_value(
            bucket=bucket, ttl=ttl_seconds, history=1, replicas=replicas, description=description
        )
    return JetStreamKeyValue(kv, bucket)


class JetStreamKeyValue:
    def __init__(self, kv: KeyValue, bucket: str) -> None:
        self._kv = kv
        self._bucket = bucket

    def _unavailable(self, operation: str, error: Exception) -> StoreUnavailable:
        return StoreUnavailable(f"key-value bucket {self._bucket}, {operation}: {error!r}")

    async def create(self, key: str, value: bytes) -> int:
        check_key(key)
        try:
            return await self._kv.create(key, value)
        except KeyWrongLastSequenceError as error:
            raise WrongRevision(key) from error
        except _FAILED as error:
            raise self._unavailable("create", error) from error

    async def update(self, key: str, value: bytes, *, revision: int) -> int:
        check_key(key)
        if revision < 1:  # JetStream reads 0 as "never written", the port does not
            raise WrongRevision(key)
        try:
            return await self._kv.update(key, value, last=revision)
        except KeyWrongLastSequenceError as error:
            raise WrongRevision(key) from error
        except _FAILED as error:
            raise self._unavailable("update", error) from error

    async def put(self, key: str, value: bytes) -> int:
        check_key(key)
        try:
            return await self._kv.put(key, value)
        except _FAILED as error:
            raise self._unavailable("put", error) from error

    async def get(self, key: str) -> KeyValueEntry | None:
        check_key(key)
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:  # also a deleted key (KeyDeletedError)
            return None
        except _FAILED as error:
            raise self._unavailable("get", error) from error
        if entry.value is None:
            return None
        return KeyValueEntry(entry.value, int(entry.revision or 0))

    async def delete(self, key: str) -> None:
        check_key(key)
        try:
            await self._kv.delete(key)
        except _FAILED as error:
            raise self._unavailable("delete", error) from error
