"""Logging for the whole process: one JSON object per line in production, readable lines in a
terminal, with the request id in every line written while a request is served.

Both structlog loggers and the standard library's (Django's own, granian's, any library's)
go through the same stdlib handler and `build_formatter`, so a line looks the same whoever
wrote it. Django applies the LOGGING setting through `configure_logging` (LOGGING_CONFIG);
deploy/server.py uses `build_formatter` for granian's own lines.

This module is imported while settings load: it must not import Django models or settings.
"""

import logging
import logging.config
import sys
from typing import Any

import structlog
from structlog.typing import Processor

LOG_FORMATS = ("json", "console")


def _shared_processors() -> list[Processor]:
    """What every line carries, whichever logger wrote it."""
    return [
        # The request id (and anything else bound with bind_contextvars) of the current request.
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def build_formatter(*, log_format: str = "json") -> logging.Formatter:
    """A stdlib formatter rendering structlog and plain logging records alike.

    log_format is "json" (one object per line, for a log collector) or "console".
    """
    renderer: list[Processor]
    if log_format == "json":
        renderer = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    elif log_format == "console":
        renderer = [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    else:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}.")
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_processors(),
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
    )


def configure_structlog() -> None:
    """Send structlog's events to the standard library, to be rendered by `build_formatter`."""
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *_shared_processors(),
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Safe to cache: the chain above never changes, only the stdlib handlers do.
        cache_logger_on_first_use=True,
    )


def configure_logging(logging_settings: dict[str, Any]) -> None:
    """The LOGGING_CONFIG callable: structlog first, then the stdlib dictConfig as usual."""
    configure_structlog()
    logging.config.dictConfig(logging_settings)
    # Python warnings (e.g. WhiteNoise's "No directory at ...") become log lines too, so the
    # output stays one JSON object per line.
    logging.captureWarnings(True)
