"""The plain counters and histograms expose what prometheus_client's own would, sample for
sample (only the `_created` timestamps differ), and refuse what those refuse."""

import math

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from tally.metrics import LATENCY_BUCKETS
from tally.plain_metrics import PlainCounter, PlainHistogram


def exposition(registry: CollectorRegistry) -> list[str]:
    """The text format's lines, with the `_created` values left out."""
    return [
        line.rpartition(" ")[0] if "_created" in line and not line.startswith("#") else line
        for line in generate_latest(registry).decode().splitlines()
    ]


def test_same_exposition_as_prometheus_client() -> None:
    theirs, ours = CollectorRegistry(), CollectorRegistry()
    counters = (
        Counter("requests", "Requests", ["method", "status"], registry=theirs),
        PlainCounter("requests", "Requests", ["method", "status"], registry=ours),
    )
    bare = (
        Counter("opens", "Opens", registry=theirs),
        PlainCounter("opens", "Opens", registry=ours),
    )
    histograms = (
        Histogram("seconds", "Latency", ["route"], buckets=LATENCY_BUCKETS, registry=theirs),
        PlainHistogram("seconds", "Latency", ["route"], LATENCY_BUCKETS, registry=ours),
    )
    for counter in counters:
        counter.labels("GET", "200")  # a series known in advance, at 0
        counter.labels("POST", 202).inc()
        counter.labels("POST", "202").inc(2.5)
        counter.labels("POST", 409).inc()
    for opens in bare:
        opens.inc(3)
    for histogram in histograms:
        for seconds in (0.0005, 0.001, 0.0011, 0.003, 0.05, 7.0, 10, 11, math.inf):
            histogram.labels("/orders").observe(seconds)
        histogram.labels("/stock/{sku}/receive").observe(0.002)

    assert exposition(ours) == exposition(theirs)
    assert ours.get_sample_value("requests_total", {"method": "POST", "status": "202"}) == 3.5
    assert ours.get_sample_value("seconds_bucket", {"route": "/orders", "le": "0.001"}) == 2
    assert ours.get_sample_value("seconds_count", {"route": "/orders"}) == 9


def test_refuses_what_prometheus_client_refuses() -> None:
    counter = PlainCounter("c", "C", ["a"], registry=CollectorRegistry())
    with pytest.raises(ValueError):
        counter.labels("x").inc(-1)
    with pytest.raises(ValueError):
        counter.labels("x", "y")
    registry = CollectorRegistry()
    PlainCounter("same", "Same", registry=registry)
    with pytest.raises(ValueError):  # a name taken twice in one registry
        Counter("same", "Same", registry=registry)
