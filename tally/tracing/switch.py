"""Whether the OTEL_* variables ask for tracing, read without importing OpenTelemetry (a
process that does not trace never loads it).

On when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, or
`OTEL_TRACES_EXPORTER` names an exporter (`otlp`, or `console` to print spans); off when
none is, when `OTEL_TRACES_EXPORTER=none` or `OTEL_SDK_DISABLED=true`.
"""

import logging
from collections.abc import Mapping

log = logging.getLogger("tally.tracing")
ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
EXPORTERS = ("otlp", "console")


def exporter_named(environ: Mapping[str, str]) -> str | None:
    """Which exporter the variables ask for: "otlp", "console", or None (tracing off)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    chosen = [
        name.strip().lower()
        for name in environ.get("OTEL_TRACES_EXPORTER", "").split(",")
        if name.strip()
    ]
    if not chosen:
        return "otlp" if any(environ.get(name, "").strip() for name in ENDPOINTS) else None
    for name in chosen:
        if name in EXPORTERS:
            return name
        if name != "none":
            log.warning("OTEL_TRACES_EXPORTER=%s is not supported (otlp, console): ignored", name)
    return None
