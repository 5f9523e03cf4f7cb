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

from events.partitions import Layout
from projections.base import Projection
from projections.partitions import filter_subject, parse_checkpoint_key, projectors_of

# Fixed, not derived from settings, so that the live configuration never depends on the
# environment of whichever process made it: room for 8 of the largest batches
# (TALLY_PROJECTOR_BATCH_SIZE ≤ 10,000) in flight before an acknowledgement.
MAX_ACK_PENDING = 80_000
ACK_WAIT_SECONDS = 30.0
MAX_WAITING = 64


class ConsumerMissing(Exception):
    """The consumer (or its stream) is not there: `tally migrate` has not run."""


def consumer_name(projection: Projection) -> str:
    """`projection-orders`, or `projection-orders-p2` for partition 2 of the view."""
    view, partition = parse_checkpoint_key(projection.name)
    return f"projection-{view}" if partition is None else f"projection-{view}-p{partition}"


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
        filter_subject=filter_subject(projection),
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
    if (
        live.config.deliver_policy != DeliverPolicy.ALL
        or live.config.deliver_subject
        or live.config.filter_subject != config.filter_subject
    ):
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


async def ensure_view_consumers(js: JetStreamContext, view: Projection, layout: Layout) -> None:
    """The consumers of `view` as its stream is partitioned (`tally migrate`): one per
    partition, or one for the whole view; those of another layout are deleted (a projector
    repositions its consumer from its checkpoint, so nothing is lost)."""
    wanted = projectors_of(view, layout)
    for projection in wanted:
        await ensure_projection_consumer(js, projection)
    names = {consumer_name(projection) for projection in wanted}
    ours = f"projection-{view.name}"
    for info in await js.consumers_info(view.stream):
        name = info.name or ""
        if (name == ours or name.startswith(f"{ours}-p")) and name not in names:
            await js.delete_consumer(view.stream, name)
