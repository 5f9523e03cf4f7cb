"""Prometheus metrics of every role, on one registry per process made by its composition
root (no module-level metric objects, so tests get a fresh registry each)."""

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from write_side.fulfilment.breaker import STATE_CODES, BreakerSnapshot

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self._children: dict[tuple[str, ...], Any] = {}  # labels() is ~3 us; cache children
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.http_requests = Counter(
            "tally_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
        )
        self.http_seconds = Histogram(
            "tally_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.commands = Counter(
            "tally_commands", "Commands handled", ["command", "outcome"], registry=r
        )
        self.command_seconds = Histogram(
            "tally_command_seconds",
            "Command latency (load, decide, append)",
            ["command"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.appended = Counter("tally_events_appended", "Events appended", ["stream"], registry=r)
        self.conflicts = Counter(
            "tally_concurrency_conflicts",
            "Appends refused by the expected sequence",
            ["stream"],
            registry=r,
        )
        self.breaker_state = Gauge(
            "tally_payment_breaker_state",
            "Payment gateway circuit breaker (0 closed, 1 half-open, 2 open)",
            registry=r,
        )
        self.breaker_opened = Gauge(
            "tally_payment_breaker_opened", "Times the payment breaker opened", registry=r
        )
        self.gateway_calls = Counter(
            "tally_payment_gateway_calls",
            "Payment gateway calls",
            ["operation", "outcome"],
            registry=r,
        )
        self.fulfilment_orders = Counter(
            "tally_fulfilment_orders", "Orders decided by fulfilment", ["outcome"], registry=r
        )
        self.fulfilment_events = Counter(
            "tally_fulfilment_events",
            "Order events handled by fulfilment",
            ["event_type", "result"],
            registry=r,
        )
        self.projection_events = Counter(
            "tally_projection_events",
            "Events taken by projectors (applied, skipped as seen, dead-lettered)",
            ["projection", "result"],
            registry=r,
        )
        self.projection_position = Gauge(
            "tally_projection_position", "Last stream sequence applied", ["projection"], registry=r
        )
        self.projection_batch_seconds = Histogram(
            "tally_projection_batch_seconds",
            "One projector batch: its transaction and ack",
            ["projection"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )

    def _child(self, key: tuple[str, ...], metric: Any, *labels: str) -> Any:
        """metric.labels(*labels), looked up once per label set (all label values here
        are bounded: route templates, status codes, command and stream names)."""
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def request_observed(self, method: str, route: str, status: int, seconds: float) -> None:
        key = ("http", method, route, str(status))
        self._child(key, self.http_requests, method, route, str(status)).inc()
        self._child(("http_s", method, route), self.http_seconds, method, route).observe(seconds)

    # write_side.observer.CommandObserver
    def command_handled(self, command: str, outcome: str, seconds: float) -> None:
        self._child(("cmd", command, outcome), self.commands, command, outcome).inc()
        self._child(("cmd_s", command), self.command_seconds, command).observe(seconds)

    def events_appended(self, stream: str, count: int) -> None:
        self._child(("appended", stream), self.appended, stream).inc(count)

    def conflict(self, stream: str) -> None:
        self.conflicts.labels(stream).inc()

    # write_side.fulfilment.observer.FulfilmentObserver
    def gateway_called(self, operation: str, outcome: str) -> None:
        self.gateway_calls.labels(operation, outcome).inc()

    def order_decided(self, outcome: str) -> None:
        self.fulfilment_orders.labels(outcome).inc()

    def order_event_handled(self, event_type: str, result: str) -> None:
        self.fulfilment_events.labels(event_type, result).inc()

    # projections.runner.ProjectorObserver
    def batch_applied(
        self, projection: str, applied: int, skipped: int, dead: int, position: int, seconds: float
    ) -> None:
        for result, count in (("applied", applied), ("skipped", skipped), ("dead", dead)):
            if count:
                self.projection_events.labels(projection, result).inc(count)
        self.projection_position.labels(projection).set(position)
        self.projection_batch_seconds.labels(projection).observe(seconds)

    def breaker_changed(self, snapshot: BreakerSnapshot) -> None:
        self.breaker_state.set(STATE_CODES[snapshot.state])
        self.breaker_opened.set(snapshot.opened_count)
