"""The projections' durable consumers: made by `tally migrate` (the NATS admin), only
repositioned by the projectors.

A projector may not create or change a consumer: a user allowed to create one can point
it anywhere (a push consumer delivering into another role's inbox; the server checks no
permission on the deliver subject), so its NATS user gets info, `MSG.NEXT`, `RESET` and
acks on its own consumers only. At each session start it resets its consumer to the
checkpoint + 1 (PostgreSQL, not the consumer, knows what was applied), which also drops
the waiting pull requests and unacknowledged deliveries of an earlier session.
"""

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from nats.js.manager import JetStreamManager

from projections.base import Projection

# Fixed, not derived from settings, so that the live configuration never depends on the
# environment of whichever process made it: room for 8 of the largest batches
# (TALLY_PROJECTOR_BATCH_SIZE ≤ 10,000) in flight before an acknowledgement.
MAX_ACK_PENDING = 80_000
ACK_WAIT_SECONDS = 30.0
MAX_WAITING = 64


class ConsumerMissing(Exception):
    """The consumer (or its stream) is not there: `tally migrate` has not run."""


def consumer_name(projection: Projection) -> str:
    return f"projection-{projection.name}"


def consumer_config(projection: Projection) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=consumer_name(projection),
        description=f"projection {projection.name} (repositioned at each projector start)",
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.ALL,
        ack_wait=ACK_WAIT_SECONDS,
        max_deliver=-1,
        max_ack_pending=MAX_ACK_PENDING,
        max_waiting=MAX_WAITING,
    )


async def ensure_projection_consumer(js: JetStreamContext, projection: Projection) -> None:
    """Create the consumer, or bring it to the wanted configuration (`tally migrate`).

    A consumer made by an older Tally (deliver by start sequence, re-created by the
    projector at each start) cannot be updated to deliver all: it is replaced, which
    loses nothing, as the projector repositions it from its checkpoint."""
    config = consumer_config(projection)
    name = consumer_name(projection)
    try:
        live = await js.consumer_info(projection.stream, name)
    except NotFoundError:
        await js.add_consumer(projection.stream, config)
        return
    if live.config.deliver_policy != DeliverPolicy.ALL or live.config.deliver_subject:
        await js.delete_consumer(projection.stream, name)
    await js.add_consumer(projection.stream, config)


async def reposition(jsm: JetStreamManager, projection: Projection, next_seq: int) -> None:
    """Deliver from `next_seq` on, as if nothing had been delivered (`CONSUMER.RESET`,
    nats-server ≥ 2.14, which does not answer at all for a missing consumer: hence the
    info first)."""
    name = consumer_name(projection)
    try:
        await jsm.consumer_info(projection.stream, name)
    except NotFoundError as error:
        raise ConsumerMissing(
            f"consumer {name} on stream {projection.stream} is missing: run `tally migrate`"
            " (only the NATS admin creates consumers)"
        ) from error
    await jsm.reset_consumer(projection.stream, name, seq=next_seq)
