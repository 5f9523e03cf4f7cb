"""What each role may publish and subscribe to on NATS: the least that it needs.

One place for the per-role users of a secured cluster. `users_block` renders them as
nats-server configuration; docker/nats/nats.conf carries that rendering (a test keeps them
equal) and the tests run the roles against an embedded server configured with it.

Stream and consumer *configuration* is not constrained by publish permissions (an update
may add a `republish` into an event subject, a consumer may deliver into any subject), so
only `admin` may create, update or delete streams and consumers. The workers get:

- api: appends to the command subjects (`orders.*`, `stock.*`), reads those streams
  (direct get, stream info), its idempotency bucket and (only reads) the order-id secret;
  and for its admin routes (an `admin` token's) the dead letters: read, deleted once
  retried or dropped, and a retry that fails again dead-lettered anew; nothing else;
- projector: info, pull (`MSG.NEXT`), reset and ack on its own durable consumers (those of
  each partition a view may have, up to MAX_PARTITIONS), stream
  info, and dead letters on `tally.dlq.<its projection>`; never an event subject;
- fulfil: appends to `orders.*`, `stock.*`, `payments.*`, reads those streams, pulls and
  acks on its consumer, and its status bucket; with shards, asks stock commands of the
  other fulfil processes (`tally.fulfil.stock.<shard>`) and answers theirs;
- admin (`tally migrate`, `replay`, `status`, `dlq`): the whole JetStream API, the
  order-id secret, no event subject (an operator rebuilding a view has no business
  writing events).
"""

import json
from dataclasses import dataclass

from events.partitions import MAX_PARTITIONS
from events.subjects import ORDERS, PAYMENTS, STOCK, STREAM_SUBJECTS
from projections.consumers import consumer_name
from projections.dlq import DLQ_STREAM, DLQ_SUBJECTS, dlq_subject
from projections.partitions import ViewPartition
from projections.registry import PROJECTIONS
from write_side.fulfilment.consumer import CONSUMER as FULFILMENT
from write_side.fulfilment.status import BUCKET as STATUS_BUCKET
from write_side.idempotency import BUCKET as IDEMPOTENCY_BUCKET
from write_side.ids import SECRETS_BUCKET
from write_side.snapshots import BUCKET as SNAPSHOT_BUCKET


def inbox_prefix(user: str) -> str:
    """Each user's replies arrive under its own prefix (`nats_auth_options` sets it), so no
    role can subscribe to another role's answers (direct gets, KV reads, consumer pulls)."""
    return f"_INBOX_{user}"


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...] = ()


def _read_streams(*streams: str) -> list[str]:
    subjects = ["$JS.API.INFO"]
    for stream in streams:
        subjects += [
            f"$JS.API.STREAM.INFO.{stream}",
            f"$JS.API.STREAM.MSG.GET.{stream}",
            f"$JS.API.DIRECT.GET.{stream}",
            f"$JS.API.DIRECT.GET.{stream}.>",
        ]
    return subjects


def _bucket(bucket: str) -> list[str]:
    return [*_read_streams(f"KV_{bucket}")[1:], f"$KV.{bucket}.>"]


def _durable(stream: str, consumer: str, *, reset: bool = False) -> list[str]:
    """Pull from and ack a durable consumer made by `tally migrate`; `reset`: move it back
    to a sequence (the projectors, from their checkpoint). Never create, update or
    delete it."""
    api = "$JS.API.CONSUMER"
    subjects = [
        f"{api}.INFO.{stream}.{consumer}",
        f"{api}.MSG.NEXT.{stream}.{consumer}",
        f"$JS.ACK.{stream}.{consumer}.>",
    ]
    if reset:
        subjects.append(f"{api}.RESET.{stream}.{consumer}")
    return subjects


def role_permissions() -> dict[str, Permissions]:
    # imported here: stock_owners brings the command service, which a projector does not need
    from write_side.fulfilment.stock_owners import SUBJECT as OWNED_STOCK

    projector = ["$JS.API.INFO", f"$JS.API.STREAM.INFO.{DLQ_STREAM}"]
    for projection in PROJECTIONS.values():
        projector += [
            f"$JS.API.STREAM.INFO.{projection.stream}",
            # a partition's last event (its lag, in the metrics); it reads them all anyway
            f"$JS.API.STREAM.MSG.GET.{projection.stream}",
            *_durable(projection.stream, consumer_name(projection), reset=True),
            dlq_subject(projection.name),
        ]
        # the consumers of its partitions, whichever count `tally migrate` chose
        for partition in range(MAX_PARTITIONS):
            part = ViewPartition(projection, partition, MAX_PARTITIONS)
            projector += _durable(projection.stream, consumer_name(part), reset=True)
    roles = {
        "api": Permissions(
            (
                STREAM_SUBJECTS[ORDERS],
                STREAM_SUBJECTS[STOCK],
                *_read_streams(ORDERS, STOCK),
                *_bucket(IDEMPOTENCY_BUCKET),
                *_read_streams(f"KV_{SECRETS_BUCKET}")[1:],  # read only: the order-id secret
                *_bucket(SNAPSHOT_BUCKET),
                *_read_streams(DLQ_STREAM)[1:],  # the admin routes' dead letters
                f"$JS.API.STREAM.MSG.DELETE.{DLQ_STREAM}",
                DLQ_SUBJECTS,
            )
        ),
        "projector": Permissions(tuple(projector)),
        "fulfil": Permissions(
            (
                *(STREAM_SUBJECTS[stream] for stream in (ORDERS, STOCK, PAYMENTS)),
                *_read_streams(ORDERS, STOCK, PAYMENTS),
                *_durable(ORDERS, FULFILMENT),
                *_bucket(STATUS_BUCKET),
                *_bucket(SNAPSHOT_BUCKET),
                # with shards: stock commands asked of the SKU's owner, and its answers
                f"{OWNED_STOCK}.>",
                f"{inbox_prefix('fulfil')}.>",
            ),
            (f"{OWNED_STOCK}.>",),
        ),
        "admin": Permissions(
            ("$JS.API.>", "$JS.FC.>", "$JS.ACK.>", DLQ_SUBJECTS, f"$KV.{SECRETS_BUCKET}.>")
        ),
    }
    return {
        role: Permissions(permissions.publish, (f"{inbox_prefix(role)}.>", *permissions.subscribe))
        for role, permissions in roles.items()
    }


def users_block(passwords: dict[str, str], *, indent: str = "    ") -> str:
    """`users = [...]` for an `authorization { }` or an account: one user per role, named
    as the role, with the given password (or `$VARIABLE` for nats-server to read)."""
    lines = [f"{indent}users = ["]
    for role, permissions in role_permissions().items():
        password = passwords[role]
        literal = password if password.startswith("$") else json.dumps(password)
        lines.append(f"{indent}  {{")
        lines.append(f"{indent}    user: {role}, password: {literal}")
        lines.append(f"{indent}    permissions: {{")
        for kind in ("publish", "subscribe"):
            lines.append(f"{indent}      {kind}: {{ allow: [")
            lines += [f"{indent}        {json.dumps(s)}" for s in getattr(permissions, kind)]
            lines.append(f"{indent}      ] }}")
        lines.append(f"{indent}    }}")
        lines.append(f"{indent}  }}")
    lines.append(f"{indent}]")
    return "\n".join(lines)


def accounts_block() -> str:
    """The `accounts` of docker/nats/nats.conf: the roles' users in one JetStream account,
    passwords read by nats-server from `$NATS_<ROLE>_PASSWORD`, and a system account."""
    passwords = {role: f"$NATS_{role.upper()}_PASSWORD" for role in role_permissions()}
    return "\n".join(
        [
            "accounts {",
            "  TALLY {",
            "    jetstream: enabled",
            users_block(passwords),
            "  }",
            "  SYS {",
            "    users = [{ user: sys, password: $NATS_SYS_PASSWORD }]",
            "  }",
            "}",
            "system_account: SYS",
        ]
    )


if __name__ == "__main__":  # python -m tally.nats_permissions: the block for nats.conf
    print(accounts_block())
