"""The JetStream adapter of the key-value port (`ports.KeyValueBucket`): a KV bucket with
history 1 and, when asked, a TTL (the bucket's max age).

nats-py's errors become write-side errors here: a lost create or update (10071) ->
WrongRevision; no connection, no answer -> StoreUnavailable.

A bucket whose stream allows direct gets (`direct=True` when `tally migrate` makes it: the
snapshots) is read by a direct get of the key's subject on the connection's shared wire
(`direct_get.py`): a frame and a header block, where nats-py's `kv.get` makes a JSON
request through its generic request path and, without `allow_direct`, reads the value
back from base64 inside JSON. Any replica answers a direct get, and a follower may lag
the leader: right for a hint such as a snapshot, not for a bucket whose readers act on
what another writer just stored (the Idempotency-Key claims: a lagging read there would
have the claim loop ask again at once), which is why those buckets are made without it.
"""

import nats.errors
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KV_DEL, KV_OP, KV_PURGE, KeyValue

from write_side.direct_get import DirectGetError, DirectReader
from write_side.errors import StoreUnavailable, WrongRevision
from write_side.ports import KeyValueEntry, check_key

_FAILED = (nats.errors.Error, TimeoutError, DirectGetError)
_DELETED = frozenset({KV_DEL, KV_PURGE})


async def open_key_value(
    js: JetStreamContext,
    bucket: str,
    *,
    ttl_seconds: float | None,
    replicas: int,
    description: str,
    direct: bool = False,
) -> "JetStreamKeyValue":
    """The bucket, created with this configuration when it does not exist yet. `direct`:
    its stream allows direct gets (a bucket made before without them is updated)."""
    try:
        kv = await js.key_value(bucket)
    except BucketNotFoundError:
        kv = await js.create_key_value(
            bucket=bucket,
            ttl=ttl_seconds,
            history=1,
            replicas=replicas,
            description=description,
            direct=direct,
        )
    if direct and not kv._direct:
        info = await js.stream_info(kv._stream)
        info.config.allow_direct = True
        await js.update_stream(info.config)
        kv = await js.key_value(bucket)
    return JetStreamKeyValue(kv, bucket)


class JetStreamKeyValue:
    """Reads by a direct get on the shared wire when the bucket's stream allows them (as
    nats-py's bucket found it when bound), else through nats-py."""

    def __init__(self, kv: KeyValue, bucket: str) -> None:
        self._kv = kv
        self._bucket = bucket
        # nats-py 2.16's own fields of the bound bucket: its stream, whether that allows
        # direct gets, its context's connection and time limit
        self._stream = kv._stream
        self._subject_prefix = kv._pre
        self._timeout = float(kv._js._timeout)
        self._direct = DirectReader(kv._js._nc) if kv._direct else None

    @property
    def reads_directly(self) -> bool:
        return self._direct is not None

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
        if self._direct is not None:
            return await self._get_direct(self._direct, key)
        try:
            entry = await self._kv.get(key)
        except KeyNotFoundError:  # also a deleted key (KeyDeletedError)
            return None
        except _FAILED as error:
            raise self._unavailable("get", error) from error
        if entry.value is None:
            return None
        return KeyValueEntry(entry.value, int(entry.revision or 0))

    async def _get_direct(self, reader: DirectReader, key: str) -> KeyValueEntry | None:
        subject = self._subject_prefix + key
        try:
            message = await reader.last_message(self._stream, subject, timeout=self._timeout)
        except _FAILED as error:
            raise self._unavailable("get", error) from error
        if message is None or message.headers.get(KV_OP) in _DELETED:
            return None
        return KeyValueEntry(message.data, message.seq)

    async def delete(self, key: str) -> None:
        check_key(key)
        try:
            await self._kv.delete(key)
        except _FAILED as error:
            raise self._unavailable("delete", error) from error
