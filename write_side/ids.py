"""What an Idempotency-Key stands for, and the order id made from it.

A key is the client's own: with API tokens on, it is scoped by the client that sent it
(the `token:<digest prefix>` the auth middleware names), so two clients' equal keys are
two keys — two answers kept, two orders, two sets of event ids. Without tokens there is no
client to tell apart and the key is global, as it was.

An order placed with a key gets the id HMAC-SHA256(secret, "order:" + scoped key), shaped
as a UUID (version 8, RFC 9562's custom layout): the same key from the same client gives
the same order again, yet nobody can predict an id from a key, and two deployments give
different ones. The secret is made at random by `tally migrate` and kept in the key-value
bucket `tally_secrets` (no TTL), which the API's NATS user may read but not write.
"""

import contextlib
import hashlib
import hmac
import secrets
from uuid import UUID

from nats.js import JetStreamContext

from write_side.errors import StoreUnavailable, WrongRevision
from write_side.key_value import open_key_value
from write_side.ports import KeyValueBucket

SECRETS_BUCKET = "tally_secrets"
ORDER_ID_SECRET = "order-ids"


def scoped_key(client: str | None, key: str) -> str:
    """The key as the store and the ids see it: `client`'s own when there is a client."""
    return key if client is None else f"{client}|{key}"


def order_id(secret: bytes, scoped: str) -> str:
    digest = bytearray(hmac.new(secret, f"order:{scoped}".encode(), hashlib.sha256).digest())
    digest[6] = (digest[6] & 0x0F) | 0x80  # version 8
    digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC 9562 variant
    return str(UUID(bytes=bytes(digest[:16])))


async def ensure_id_secret(js: JetStreamContext, *, replicas: int) -> None:
    """The bucket and a random secret, made once (`tally migrate`); never replaced."""
    bucket = await open_key_value(
        js, SECRETS_BUCKET, ttl_seconds=None, replicas=replicas, description="Tally secrets"
    )
    with contextlib.suppress(WrongRevision):  # made by an earlier migrate: ids stay put
        await bucket.create(ORDER_ID_SECRET, secrets.token_bytes(32))


async def read_id_secret(bucket: KeyValueBucket) -> bytes:
    entry = await bucket.get(ORDER_ID_SECRET)
    if entry is None or len(entry.value) < 32:
        raise StoreUnavailable(
            f"no order-id secret in the key-value bucket {SECRETS_BUCKET}: run `tally migrate`"
        )
    return entry.value
