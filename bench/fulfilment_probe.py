"""What fulfilment did over one confirm run, so that a slow run explains itself: its durable
consumer (deliveries beyond the stream's messages are redeliveries), what its metrics
counted (conflicts, steps that failed or timed out, events parked or failed, i.e. naked,
orders by outcome), and nats-server's message counts per placed order (a cache that no
longer holds the hot stock items shows as thousands of reads per order).

Read before and after a run (`Probe.read`); `Reading.minus` gives the run's share.
"""

from collections import defaultdict
from dataclasses import dataclass, field

import httpx
import nats
from prometheus_client.parser import text_string_to_metric_families

from events.subjects import ORDERS
from write_side.fulfilment.consumer import CONSUMER

# metric family -> the label a run's figures are counted by
COUNTED = {
    "tally_concurrency_conflicts_total": None,
    "tally_fulfilment_steps_total": "outcome",
    "tally_fulfilment_events_total": "result",
    "tally_fulfilment_orders_total": "outcome",
    "process_cpu_seconds_total": None,
}


@dataclass
class Reading:
    """Counters at one moment: `metrics` by "family" or "family:label value"; `consumer`
    the fulfilment consumer's sequences and counts; `server` nats-server's in/out msgs."""

    metrics: dict[str, float] = field(default_factory=dict)
    consumer: dict[str, int] = field(default_factory=dict)
    server: dict[str, int] = field(default_factory=dict)

    def minus(self, before: "Reading", placed: int) -> dict[str, object]:
        """The run's share, as one flat record (counters as differences; the consumer's
        ack-pending and redelivered as they are at the end)."""
        counted = {k: v - before.metrics.get(k, 0.0) for k, v in self.metrics.items()}
        sequences = {k: v - before.consumer.get(k, 0) for k, v in self.consumer.items()}
        record: dict[str, object] = {"placed": placed}
        record |= {key: round(value, 3) for key, value in sorted(counted.items()) if value}
        record["deliveries"] = sequences.get("consumer_seq", 0)
        record["stream_messages"] = sequences.get("stream_seq", 0)
        for now in ("num_redelivered", "num_ack_pending", "num_pending", "num_waiting"):
            record[now] = self.consumer.get(now, 0)
        for key, value in self.server.items():
            record[f"nats_{key}_per_order"] = round(
                (value - before.server.get(key, 0)) / max(placed, 1), 1
            )
        return record


class Probe:
    """Reads fulfilment's metrics (its TALLY_METRICS_PORT), its consumer and, when the
    server has a monitoring port, nats-server's message counts."""

    def __init__(self, nats_url: str, metrics_url: str, monitor_url: str | None) -> None:
        self._nats_url, self._metrics_url, self._monitor_url = nats_url, metrics_url, monitor_url

    async def read(self) -> Reading:
        reading = Reading()
        async with httpx.AsyncClient(timeout=5) as http:
            reading.metrics = counted(await _text(http, f"{self._metrics_url}/metrics"))
            if self._monitor_url is not None:
                varz = (await http.get(f"{self._monitor_url}/varz")).json()
                reading.server = {k: int(varz.get(k, 0)) for k in ("in_msgs", "out_msgs")}
        nc = await nats.connect(self._nats_url)
        try:
            info = await nc.jetstream().consumer_info(ORDERS, CONSUMER)
        finally:
            await nc.close()
        reading.consumer = {
            "consumer_seq": info.delivered.consumer_seq or 0,
            "stream_seq": info.delivered.stream_seq or 0,
            "num_redelivered": info.num_redelivered or 0,
            "num_ack_pending": info.num_ack_pending or 0,
            "num_pending": info.num_pending or 0,
            "num_waiting": info.num_waiting or 0,
        }
        return reading


def counted(text: str) -> dict[str, float]:
    """The samples of COUNTED (a Prometheus exposition) summed over their series, and by
    their counted label."""
    totals: defaultdict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name not in COUNTED:
                continue
            totals[sample.name] += sample.value
            by = COUNTED[sample.name]
            if by is not None:
                totals[f"{sample.name}:{sample.labels.get(by, '')}"] += sample.value
    return dict(totals)


async def _text(http: httpx.AsyncClient, url: str) -> str:
    answer = await http.get(url)
    answer.raise_for_status()
    return answer.text
