"""`/metrics` in Prometheus' text format (prometheus_client).

One process: the metrics live in this process's registry. Several (`commpref serve
--workers N`): `serve` points PROMETHEUS_MULTIPROC_DIR at a fresh directory before the workers
start, every worker writes its values there, and whichever worker answers `/metrics` reports
the sum over all of them (prometheus_client's multi-process mode).

The hot path is one dict lookup and two cached label children per request.
"""

from __future__ import annotations

import collections
import os
from collections.abc import Callable
from itertools import chain
from operator import attrgetter
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client import multiprocess as mp

from commpref.domain.model import ChangeKind
from commpref.http.overload import Gate
from commpref.storage.subscribers import Outcome

_KIND_OF = attrgetter("kind")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: a cached read takes ~1 ms, a 1000-input batch tens of ms, a queued one more.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """Every metric of one server process."""

    def __init__(self) -> None:
        self.multiprocess = multiprocess_dir() is not None
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "commpref_http_requests",
            "HTTP requests answered, by operation and status code.",
            ("operation", "status"),
            registry=r,
        )
        self.latency = Histogram(
            "commpref_http_request_duration_seconds",
            "Time from the request's arrival to its answer, by operation and status code.",
            ("operation", "status"),
            buckets=BUCKETS,
            registry=r,
        )
        self.changes = Counter(
            "commpref_status_changes",
            "Statuses written: each actual change of a type status or an opt-out-of-all status.",
            ("kind",),
            registry=r,
        )
        self.events = Counter(
            "commpref_ledger_events_appended",
            "Consent-ledger entries appended (one per request and subscriber changed).",
            registry=r,
        )
        self.refused = Counter(
            "commpref_overload_refused",
            "API requests refused with 503 because the process was at its concurrency limit.",
            registry=r,
        )
        self.in_flight = Gauge(
            "commpref_http_requests_in_progress",
            "API requests being worked on (active) or waiting for a slot (queued).",
            ("state",),
            registry=r,
            multiprocess_mode="livesum",
        )
        self.webhook_backlog = Gauge(
            "commpref_webhook_backlog",
            "Webhook deliveries waiting in the outbox (fed by the webhook worker).",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.mail_backlog = Gauge(
            "commpref_mail_backlog",
            "Confirmation emails waiting in the outbox (fed by the mail worker).",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.pool = Gauge(
            "commpref_db_pool_connections",
            "Database connections of this process: open (size), in use, and the maximum.",
            ("state",),
            registry=r,
            multiprocess_mode="livesum",
        )
        if not self.multiprocess:
            ProcessCollector(registry=r)  # resident memory, CPU, open files
        self._children: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._change_kinds = {k: self.changes.labels(kind=k.value) for k in ChangeKind}
        self.pool_source: Callable[[], dict[str, int]] | None = None
        self.gate: Gate | None = None

    def observe(self, operation: str, status: int, seconds: float) -> None:
        """Count one answered request (called once per request)."""
        key = (operation, status)
        children = self._children.get(key)
        if children is None:
            labels = {"operation": operation, "status": str(status)}
            children = (self.requests.labels(**labels), self.latency.labels(**labels))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def committed(self, outcome: Outcome[Any]) -> None:
        """Store commit listener: count ledger entries and the status changes they hold."""
        if not outcome.events:
            return
        self.events.inc(len(outcome.events))
        # Counted in C: an opt-out batch holds about 1,000 changes.
        changes = chain.from_iterable(e.changes for e in outcome.events)
        kinds = collections.Counter(map(_KIND_OF, changes))
        for kind, n in kinds.items():
            self._change_kinds[kind].inc(n)

    def set_webhook_backlog(self, pending: int) -> None:
        """The hook for the webhook outbox: how many deliveries are waiting."""
        self.webhook_backlog.set(pending)

    def set_mail_backlog(self, pending: int) -> None:
        """The hook for the mail outbox: how many confirmation emails are waiting."""
        self.mail_backlog.set(pending)

    def sample(self) -> None:
        """Refresh the gauges read from elsewhere (concurrency gate, database pool)."""
        if self.gate is not None:
            self.in_flight.labels(state="active").set(self.gate.active)
            self.in_flight.labels(state="queued").set(self.gate.waiting)
        if self.pool_source is not None:
            for state, value in self.pool_source().items():
                self.pool.labels(state=state).set(value)

    def render(self) -> bytes:
        """The exposition text; with several workers, summed over all of them."""
        self.sample()
        if self.multiprocess:
            registry = CollectorRegistry()
            mp.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return bytes(generate_latest(registry))
        return bytes(generate_latest(self.registry))


def process_exited(pid: int) -> None:
    """Drop a finished worker's live gauges (multi-process mode)."""
    if multiprocess_dir() is not None:
        mp.mark_process_dead(pid)  # type: ignore[no-untyped-call]
