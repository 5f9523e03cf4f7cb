"""Prometheus metrics of every role, on one registry per process made by its composition
root (no module-level metric objects, so tests get a fresh registry each).

Names follow the Prometheus conventions: base units (`_seconds`, `_bytes`), `_total` on
counters (the client adds it), bounded label values only. The series a dashboard or an
alert names exist from the start (at 0) for the label values a role knows in advance.
Counters and histograms are plain numbers folded into their families at each scrape
(`plain_metrics.py`: no lock per `inc`; the families are the same sample for sample).
Gauges about state outside the process (lag, dead letters, readiness) are set by probes
(tally/metric_probes.py) that `refresh()` runs before each scrape of the API's /metrics
and, in the worker roles, on a timer.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable

from prometheus_client import CollectorRegistry, Gauge, ProcessCollector

from events.subjects import STREAM_SUBJECTS
from tally.plain_metrics import PlainCounter, PlainHistogram
from write_side.fulfilment.breaker import STATE_CODES, BreakerSnapshot, CircuitBreaker

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
PROBE_TIMEOUT = 2.0  # seconds; a probe that takes longer is abandoned for this refresh
ORDER_OUTCOMES = (
    "confirmed",
    "refunded",
    "out_of_stock",
    "payment_declined",
    "payment_unavailable",
)
GATEWAY_OUTCOMES = ("ok", "unavailable", "error")
GATEWAY_CALLS = [(op, outcome) for op in ("authorize", "refund") for outcome in GATEWAY_OUTCOMES]
PROJECTION_RESULTS = ("applied", "skipped", "dead")

Probe = Callable[[], Awaitable[None]]
log = logging.getLogger("tally.metrics")


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self._probes: list[Probe] = []
        self._failing: set[int] = set()  # ids of the probes whose last run failed
        self._breaker_opens_seen = 0
        self._steps: frozenset[str] = frozenset()  # commands counted as fulfilment steps
        self.registry = r = registry or CollectorRegistry()
        ProcessCollector(registry=r)  # process_cpu_seconds_total, process_resident_memory_bytes

        def counter(name: str, doc: str, *labels: str) -> PlainCounter:
            return PlainCounter(name, doc, labels, registry=r)

        def gauge(name: str, doc: str, *labels: str) -> Gauge:
            return Gauge(name, doc, labels, registry=r)

        def histogram(name: str, doc: str, *labels: str) -> PlainHistogram:
            return PlainHistogram(name, doc, labels, LATENCY_BUCKETS, registry=r)

        # HTTP and the command side
        self.http_requests = counter(
            "tally_http_requests", "HTTP requests", "method", "route", "status"
        )
        self.http_seconds = histogram(
            "tally_http_request_seconds", "HTTP request latency", "method", "route"
        )
        self.commands = counter("tally_commands", "Commands handled", "command", "outcome")
        self.command_seconds = histogram(
            "tally_command_seconds", "Command latency (load, decide, append)", "command"
        )
        self.appended = counter("tally_events_appended", "Events appended", "stream")
        self.conflicts = counter(
            "tally_concurrency_conflicts", "Appends refused by the expected sequence", "stream"
        )
        self.cache_evictions = counter(
            "tally_command_cache_evictions",
            "Folded states dropped from the command cache for room; recent: cached less "
            "than a minute before (the cache is too small for the states in use)",
            "recent",
        )
        for stream in STREAM_SUBJECTS:
            self.appended.labels(stream)
            self.conflicts.labels(stream)
        for recent in ("true", "false"):
            self.cache_evictions.labels(recent)
        self.ready_check_up = gauge(
            "tally_ready_check_up", "1 while the /ready check passes, 0 while it fails", "check"
        )
        # fulfilment
        self.breaker_state = gauge(
            "tally_payment_breaker_state",
            "Payment gateway circuit breaker (0 closed, 1 half-open, 2 open)",
        )
        self.breaker_opens = counter(
            "tally_payment_breaker_opens", "Times the payment breaker opened"
        )
        self.gateway_calls = counter(
            "tally_payment_gateway_calls", "Payment gateway calls", "operation", "outcome"
        )
        self.gateway_seconds = histogram(
            "tally_payment_gateway_seconds", "One payment gateway call", "operation"
        )
        self.fulfilment_orders = counter(
            "tally_fulfilment_orders", "Orders decided by fulfilment", "outcome"
        )
        self.fulfilment_events = counter(
            "tally_fulfilment_events", "Order events handled by fulfilment", "event_type", "result"
        )
        self.fulfilment_event_seconds = histogram(
            "tally_fulfilment_event_seconds", "One order event, all its steps", "event_type"
        )
        self.fulfilment_steps = counter(
            "tally_fulfilment_steps", "Fulfilment steps (the commands it sends)", "step", "outcome"
        )
        self.fulfilment_step_seconds = histogram(
            "tally_fulfilment_step_seconds", "One fulfilment step (load, decide, append)", "step"
        )
        # projections
        self.projection_events = counter(
            "tally_projection_events",
            "Events taken by projectors (applied, skipped as seen, dead-lettered or parked)",
            "projection",
            "result",
        )
        self.projection_position = gauge(
            "tally_projection_position", "Last stream sequence applied", "projection"
        )
        self.projection_batch_seconds = histogram(
            "tally_projection_batch_seconds",
            "One projector batch: its transaction and ack",
            "projection",
        )
        self.projection_lag = gauge(
            "tally_projection_lag", "Events of the stream past the view's checkpoint", "projection"
        )
        self.stream_last_sequence = gauge(
            "tally_stream_last_sequence", "Last sequence of the stream", "stream"
        )
        self.dead_letters = gauge(
            "tally_dead_letters", "The view's events in the dead-letter stream", "projection"
        )
        self.projection_audit_ok = gauge(
            "tally_projection_audit_ok",
            "1 when the checkpoint's counters add up to its position (applied + dead +"
            " ignored), else 0: an event was skipped",
            "projection",
        )

    # --- probes: state outside the process, sampled before a scrape --------------------

    def add_probe(self, probe: Probe) -> None:
        self._probes.append(probe)

    async def refresh(self) -> None:
        """Runs every probe at once, each bounded by PROBE_TIMEOUT; a failing probe leaves
        its gauges as they were and is logged when it starts and stops failing."""
        await asyncio.gather(*(self._run_probe(probe) for probe in self._probes))

    async def _run_probe(self, probe: Probe) -> None:
        try:
            async with asyncio.timeout(PROBE_TIMEOUT):
                await probe()
        except Exception as error:  # a scrape must never fail because a probe did
            if id(probe) not in self._failing:
                self._failing.add(id(probe))
                extra = {"probe": repr(probe), "error": repr(error)}
                log.warning("metrics probe failing", extra=extra)
            return
        if id(probe) in self._failing:
            self._failing.discard(id(probe))
            log.info("metrics probe recovered", extra={"probe": repr(probe)})

    # --- what each role expects to report ------------------------------------------------

    def watch_fulfilment(self, breaker: CircuitBreaker, steps: Iterable[str]) -> None:
        """The breaker's state as of each scrape (an open breaker turns half-open by the
        clock, with no transition to hear; its openings come by `breaker_changed`), the
        commands that are fulfilment's steps, and the fulfilment series."""
        self.breaker_state.set_function(lambda: STATE_CODES[breaker.state])
        self._steps = frozenset(steps)
        for outcome in ORDER_OUTCOMES:
            self.fulfilment_orders.labels(outcome)
        for operation, outcome in GATEWAY_CALLS:
            self.gateway_calls.labels(operation, outcome)

    def watch_projections(self, names: Iterable[str]) -> None:
        for name in names:
            for result in PROJECTION_RESULTS:
                self.projection_events.labels(name, result)

    # --- tally.http.observe.ObserveRequests and the /ready probe -------------------------

    def request_observed(self, method: str, route: str, status: int, seconds: float) -> None:
        self.http_requests.labels(method, route, status).inc()
        self.http_seconds.labels(method, route).observe(seconds)

    def check_observed(self, check: str, ok: bool) -> None:
        self.ready_check_up.labels(check).set(1 if ok else 0)

    # --- write_side.observer.CommandObserver ---------------------------------------------

    def command_handled(self, command: str, outcome: str, seconds: float) -> None:
        if command in self._steps:
            self.step_handled(command, outcome, seconds)
            return
        self.commands.labels(command, outcome).inc()
        self.command_seconds.labels(command).observe(seconds)

    def events_appended(self, stream: str, count: int) -> None:
        self.appended.labels(stream).inc(count)

    def conflict(self, stream: str) -> None:
        self.conflicts.labels(stream).inc()

    def cache_evicted(self, recent: bool) -> None:
        self.cache_evictions.labels("true" if recent else "false").inc()

    # --- write_side.fulfilment.observer.FulfilmentObserver, tally.fulfilment_metrics -----

    def gateway_called(self, operation: str, outcome: str) -> None:
        self.gateway_calls.labels(operation, outcome).inc()

    def gateway_timed(self, operation: str, seconds: float) -> None:
        self.gateway_seconds.labels(operation).observe(seconds)

    def order_decided(self, outcome: str) -> None:
        self.fulfilment_orders.labels(outcome).inc()

    def order_event_handled(self, event_type: str, result: str) -> None:
        self.fulfilment_events.labels(event_type, result).inc()

    def order_event_timed(self, event_type: str, seconds: float) -> None:
        self.fulfilment_event_seconds.labels(event_type).observe(seconds)

    def step_handled(self, step: str, outcome: str, seconds: float) -> None:
        self.fulfilment_steps.labels(step, outcome).inc()
        self.fulfilment_step_seconds.labels(step).observe(seconds)

    def breaker_changed(self, snapshot: BreakerSnapshot) -> None:
        if snapshot.opened_count > self._breaker_opens_seen:
            self.breaker_opens.inc(snapshot.opened_count - self._breaker_opens_seen)
            self._breaker_opens_seen = snapshot.opened_count

    # --- projections.runner.ProjectorObserver and the projection probe -------------------

    def batch_applied(
        self, projection: str, applied: int, skipped: int, dead: int, position: int, seconds: float
    ) -> None:
        for result, count in (("applied", applied), ("skipped", skipped), ("dead", dead)):
            if count:
                self.projection_events.labels(projection, result).inc(count)
        self.projection_position.labels(projection).set(position)
        self.projection_batch_seconds.labels(projection).observe(seconds)

    def projection_sampled(
        self, projection: str, checkpoint: int, last_seq: int, audit_ok: bool
    ) -> None:
        """A view's, or a partition's (`orders/2`): `last_seq` is the last event it folds."""
        self.projection_lag.labels(projection).set(max(0, last_seq - checkpoint))
        self.projection_audit_ok.labels(projection).set(1 if audit_ok else 0)

    def stream_sampled(self, stream: str, last_seq: int) -> None:
        self.stream_last_sequence.labels(stream).set(last_seq)

    def dead_letters_sampled(self, view: str, dead_letters: int) -> None:
        self.dead_letters.labels(view).set(dead_letters)
