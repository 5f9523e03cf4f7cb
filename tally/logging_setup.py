"""Structured logs: JSON lines in production, readable colour output on a terminal.

Library code logs through the standard `logging` module (with `extra=` fields); structlog
renders every record, and binds request/message context (correlation id) via contextvars.
"""

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

import structlog

Format = Literal["auto", "json", "console"]
_RECORD_KEYS = frozenset(logging.LogRecord("n", 0, "p", 0, "m", (), None).__dict__) | {"message"}
_BOUND: dict[str, ContextVar[Any]] | None = getattr(structlog.contextvars, "_CONTEXT_VARS", None)
_PREFIX = len(structlog.contextvars.STRUCTLOG_KEY_PREFIX)


def bound_context() -> dict[str, Any]:
    """What `structlog.contextvars.get_contextvars()` returns (the variables bound through
    structlog and set in this context), read from structlog's own variables, which it
    keeps by name (`_CONTEXT_VARS`), instead of copying the whole context and scanning
    every variable of the process in it (~1.5 µs a line); structlog's function if a
    release no longer keeps them there (`tests/unit/test_log_lines.py` says so)."""
    if _BOUND is None:
        return structlog.contextvars.get_contextvars()
    bound = {}
    for name, var in list(_BOUND.items()):  # a copy: another thread may bind a new name
        value = var.get(...)
        if value is not ...:
            bound[name[_PREFIX:]] = value
    return bound


def fallback(value: Any) -> Any:
    try:
        return value.__structlog__()
    except AttributeError:
        return repr(value)


class JsonLines(structlog.stdlib.ProcessorFormatter):
    """The same JSON line as the processor chain below, made directly for a plain stdlib
    record (contextvars, event, level, logger, `extra=` fields, timestamp): about 4x cheaper,
    which matters on the one-line-per-appended-command path. Records with exception or
    stack info, or from structlog loggers, take the full chain."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info or record.exc_text or record.stack_info or isinstance(record.msg, dict):
            return super().format(record)
        line = bound_context()
        line["event"] = record.getMessage()
        line["level"] = record.levelname.lower()
        line["logger"] = record.name
        for key, value in record.__dict__.items():
            if key not in _RECORD_KEYS:
                line[key] = value
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat()
        line["timestamp"] = stamp.replace("+00:00", "Z")
        return json.dumps(line, default=fallback)


def configure_logging(level: str = "info", fmt: Format = "auto") -> None:
    use_console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer() if use_console else structlog.processors.JSONRenderer()
    )
    kind = structlog.stdlib.ProcessorFormatter if use_console else JsonLines
    formatter = kind(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    # Nothing rendered uses the call site, thread or process of a record: do not collect
    # them (the optimisations of the logging HOWTO; ~15 us a line saved).
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "asyncio"):
        logging.getLogger(noisy).setLevel("WARNING")
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
