"""Counters and histograms kept as plain numbers and folded into Prometheus families only
when the registry is collected (a scrape, `get_sample_value`).

prometheus_client's own `Counter` and `Histogram` take a lock on every `inc`/`observe`
(they may be called from any thread) and go through a value object per bucket: ~1.5 µs
an `inc`, seven of them a command. Every role counts on its event loop's one thread, so a
plain `+=` is all it takes; the families these collectors yield at a scrape are sample for
sample what prometheus_client's would be (same names, labels, bucket bounds, `_created`),
so a dashboard, an alert or a test cannot tell them apart. Not for use from other threads.
"""

import time
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from typing import Generic, TypeVar

from prometheus_client import metrics as prometheus_metrics
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import INF, floatToGoString


def _with_created() -> bool:
    """prometheus_client's switch (`disable_created_metrics()`, or its environment
    variable) for the `_created` samples, honoured here too."""
    return bool(getattr(prometheus_metrics, "_use_created", True))


class CounterChild:
    """One labelled series of a counter."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()

    def inc(self, amount: float = 1) -> None:
        if amount < 0:
            raise ValueError("Counters can only be incremented by non-negative amounts.")
        self.value += amount


class HistogramChild:
    """One labelled series of a histogram: a count per bucket (not cumulative until
    collected) and the sum."""

    __slots__ = ("_bounds", "counts", "created", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self._bounds = bounds
        self.counts = [0] * len(bounds)
        self.sum = 0.0
        self.created = time.time()

    def observe(self, amount: float) -> None:
        self.sum += amount
        self.counts[bisect_left(self._bounds, amount)] += 1  # the first bound >= amount


Child = TypeVar("Child", CounterChild, HistogramChild)


class _Plain(Collector, Generic[Child]):
    """What the two kinds share: a name, a help text, label names and the series by their
    label values (found again by the values as given, so `labels(..., 202)` costs a dict
    lookup), registered with `registry` as a collector."""

    kind = ""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        registry: CollectorRegistry | None,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self._series: dict[tuple[str, ...], Child] = {}  # by label values: what is collected
        self._given: dict[tuple[object, ...], Child] = {}  # by the values as given
        if registry is not None:
            registry.register(self)

    def _new(self) -> Child:
        raise NotImplementedError

    def labels(self, *values: object) -> Child:
        child = self._given.get(values)
        if child is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name}: labels {self.labelnames}, given {values!r}")
            key = tuple(str(value) for value in values)
            child = self._series.get(key)
            if child is None:
                child = self._series[key] = self._new()
            self._given[values] = child
        return child

    def describe(self) -> Iterable[Metric]:
        return [Metric(self.name, self.documentation, self.kind)]

    def _labels(self, values: tuple[str, ...]) -> dict[str, str]:
        return dict(zip(self.labelnames, values, strict=True))


class PlainCounter(_Plain[CounterChild]):
    """A counter (`<name>_total`, `<name>_created`), like prometheus_client's `Counter`."""

    kind = "counter"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        registry: CollectorRegistry | None = None,
    ) -> None:
        super().__init__(name, documentation, labelnames, registry)
        if not self.labelnames:
            self.labels()

    def _new(self) -> CounterChild:
        return CounterChild()

    def inc(self, amount: float = 1) -> None:
        """The series of a counter without labels."""
        self.labels().inc(amount)

    def collect(self) -> Iterable[Metric]:
        family = Metric(self.name, self.documentation, self.kind)
        created = _with_created()
        for values, child in self._series.items():
            labels = self._labels(values)
            family.add_sample(self.name + "_total", labels, child.value)
            if created:
                family.add_sample(self.name + "_created", labels, child.created)
        return [family]


class PlainHistogram(_Plain[HistogramChild]):
    """A histogram (`_bucket` by `le`, `_count`, `_sum`, `_created`), like
    prometheus_client's `Histogram` with the same `buckets` (+Inf added)."""

    kind = "histogram"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str],
        buckets: Sequence[float],
        registry: CollectorRegistry | None = None,
    ) -> None:
        bounds = sorted(float(bound) for bound in buckets)
        if bounds[-1] != INF:
            bounds.append(INF)
        self._bounds = tuple(bounds)
        self._le = [floatToGoString(bound) for bound in bounds]  # type: ignore[no-untyped-call]
        super().__init__(name, documentation, labelnames, registry)
        if not self.labelnames:
            self.labels()

    def _new(self) -> HistogramChild:
        return HistogramChild(self._bounds)

    def collect(self) -> Iterable[Metric]:
        family = Metric(self.name, self.documentation, self.kind)
        created = _with_created()
        for values, child in self._series.items():
            labels = self._labels(values)
            total = 0
            for le, count in zip(self._le, child.counts, strict=True):
                total += count
                family.add_sample(self.name + "_bucket", {**labels, "le": le}, float(total))
            family.add_sample(self.name + "_count", labels, float(total))
            if self._bounds[0] >= 0:
                family.add_sample(self.name + "_sum", labels, child.sum)
            if created:
                family.add_sample(self.name + "_created", labels, child.created)
        return [family]
