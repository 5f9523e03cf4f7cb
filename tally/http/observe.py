"""GET /metrics: the process's Prometheus registry (the requests are observed by the
API's one ASGI layer, `edge.py`). Under `tally up` the API also serves the samples of
the other role processes (fulfilment, projectors), read from their own metrics ports at
each scrape and labelled `role`, so that one scrape still sees the whole system."""

import asyncio
import logging
from collections.abc import Iterator, Mapping

import httpx
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tally.metrics import Metrics

log = logging.getLogger("tally.metrics")
ROLE_SCRAPE_TIMEOUT = 2.0


class WithRoles(Collector):
    """The process's families with the other roles' samples added to them (same names:
    every role counts with the same `Metrics`), each of those samples labelled `role`."""

    def __init__(self, own: Collector, roles: Mapping[str, str]) -> None:
        self._own = own
        self._roles = roles  # role name -> its /metrics text

    def collect(self) -> Iterator[Metric]:
        families = {family.name: family for family in self._own.collect()}
        for role, text in self._roles.items():
            for family in text_string_to_metric_families(text):
                # the parser splits a counter's `_created` samples into a gauge of their own
                base = family.name.removesuffix("_created")
                if family.name != base and base in families:
                    target = families[base]
                else:
                    target = families.setdefault(
                        family.name, Metric(family.name, family.documentation, family.type)
                    )
                target.samples.extend(
                    Sample(s.name, {**s.labels, "role": role}, s.value, s.timestamp, s.exemplar)
                    for s in family.samples
                )
        yield from families.values()


async def _scrape(http: httpx.AsyncClient, role: str, url: str) -> tuple[str, str] | None:
    try:
        answer = await http.get(url)
        answer.raise_for_status()
    except httpx.HTTPError as error:  # restarting, or not up yet: its samples are left out
        log.debug("role metrics unavailable", extra={"role": role, "error": str(error)})
        return None
    return role, answer.text


def metrics_route(metrics: Metrics, roles: Mapping[str, str] | None = None) -> Route:
    """`roles`: role name -> URL of that role's /metrics (`tally up`)."""
    others = dict(roles or {})

    async def render(request: Request) -> Response:
        await metrics.refresh()  # the probes: readiness, and lag where the projectors run
        if not others:
            return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
        async with httpx.AsyncClient(timeout=ROLE_SCRAPE_TIMEOUT) as http:
            found = await asyncio.gather(*(_scrape(http, r, u) for r, u in others.items()))
        texts = dict(item for item in found if item is not None)
        body = generate_latest(WithRoles(metrics.registry, texts))
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", render, methods=["GET"])
