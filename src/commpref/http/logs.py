"""JSON log lines on stderr: one access line per request, and unexpected errors.

Lines never contain query strings or headers, so tokens and `hapikey` values stay out of logs.
"""

from __future__ import annotations

import logging
import sys
import time
import traceback
from typing import Any

import msgspec

from commpref.domain.formats import format_ms

_encode = msgspec.json.Encoder().encode


def _write(record: dict[str, object]) -> None:
    stream = sys.stderr
    stream.write(_encode(record).decode() + "\n")
    stream.flush()


def access(method: str, path: str, status: int, duration_ms: float, correlation_id: str) -> None:
    _write(
        {
            "time": format_ms(time.time_ns() // 1_000_000),
            "level": "info",
            "event": "request",
            "method": method,
            "path": path,
            "status": status,
            "durationMs": round(duration_ms, 3),
            "correlationId": correlation_id,
        }
    )


def error(message: str, correlation_id: str | None, exc: BaseException) -> None:
    _write(
        {
            "time": format_ms(time.time_ns() // 1_000_000),
            "level": "error",
            "event": message,
            "correlationId": correlation_id,
            "error": repr(exc),
            "traceback": "".join(traceback.format_exception(exc)),
        }
    )


class JsonFormatter(logging.Formatter):
    """uvicorn's and the libraries' own log records as JSON lines like ours."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": format_ms(int(record.created * 1000)),
            "level": record.levelname.lower(),
            "event": record.getMessage(),
            "logger": record.name,
        }
        if record.exc_info:
            out["traceback"] = self.formatException(record.exc_info)
        return _encode(out).decode()


def logging_config(level: str) -> dict[str, Any]:
    """`logging.config.dictConfig` for `commpref serve`: every record as one JSON line."""
    handler = {"handlers": ["json"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "commpref.http.logs.JsonFormatter"}},
        "handlers": {
            "json": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {**handler, "level": level.upper()},
            "uvicorn.error": {"level": level.upper()},
            "uvicorn.access": {**handler, "level": "WARNING"},
        },
        "root": {"handlers": ["json"], "level": "WARNING"},
    }
