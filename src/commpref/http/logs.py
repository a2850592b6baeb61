"""JSON log lines on stderr: one access line per request, and unexpected errors.

Lines never contain query strings or headers, so tokens and `hapikey` values stay out of logs.
"""

from __future__ import annotations

import sys
import time
import traceback

import msgspec

from commpref.http.render import format_ms

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
