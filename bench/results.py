"""One measured scenario, commpref's performance targets, and the ratios between scenarios."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Result:
    backend: str  # "sqlite" or "postgresql"
    scenario: str  # "B1", "B2", "S1", "S1v", "S2", "S3", "S3r", "S4", "S5-S1", "S5-S3"
    connections: int  # wrk connections, or concurrent in-process callers for B1
    requests: int
    seconds: float
    emails_per_request: int  # 100 for batches, 1 for single-address calls, 0 for B2
    p50_ms: float
    p99_ms: float
    server_cpu_s: float  # every server process (B1: the benchmark process itself)
    db_cpu_s: float | None  # PostgreSQL backends serving this run; None for SQLite
    peak_rss_mib: float  # largest VmHWM of one server process during the scenario
    loadgen_cpu_s: float | None = None  # wrk's own CPU time; None for B1
    errors: int = 0  # non-2xx answers, socket errors and timeouts
    others_cpu_s: float = 0.0  # CPU the machine spent on anything but the above
    worker_cpu_s: list[float] = field(default_factory=list)  # per worker, with --workers > 1

    @property
    def worker_split(self) -> str:
        """Each worker's share of the server's CPU, e.g. "52%/48%"."""
        total = sum(self.worker_cpu_s) or 1.0
        return "/".join(f"{100 * c / total:.0f}%" for c in self.worker_cpu_s)

    @property
    def others_share(self) -> float:
        """How much of the machine other work took during the run (0..1 of all cores)."""
        cores = os.cpu_count() or 1
        return max(0.0, self.others_cpu_s) / (self.seconds * cores) if self.seconds else 0.0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def eps(self) -> float:
        return self.rps * self.emails_per_request

    @property
    def cpu_ms_per_request(self) -> float:
        return 1000 * self.server_cpu_s / self.requests if self.requests else 0.0

    @property
    def db_cpu_ms_per_request(self) -> float | None:
        if self.db_cpu_s is None or not self.requests:
            return None
        return 1000 * self.db_cpu_s / self.requests

    @property
    def per_core_rps(self) -> float | None:
        """Requests/s one core would serve at this run's CPU cost per request (server plus
        database): what an uncontended machine would approach if the work were CPU-bound."""
        ms = self.cpu_ms_per_request + (self.db_cpu_ms_per_request or 0.0)
        return 1000 / ms if ms else None

    @property
    def server_cores_busy(self) -> float:
        return self.server_cpu_s / self.seconds if self.seconds else 0.0

    @property
    def loadgen_busy(self) -> float | None:
        """wrk's share of its one core during the run."""
        if self.loadgen_cpu_s is None or not self.seconds:
            return None
        return self.loadgen_cpu_s / self.seconds

    @property
    def loadgen_ceiling_rps(self) -> float | None:
        """Requests/s wrk could send with a whole core at this run's cost per request."""
        busy = self.loadgen_busy
        return self.rps / busy if busy else None


@dataclass(frozen=True)
class Check:
    backend: str
    name: str  # e.g. "S1 emails/s"
    value: float
    target: float
    at_least: bool = True  # False: value ≤ target

    @property
    def ok(self) -> bool:
        return self.value >= self.target if self.at_least else self.value <= self.target

    def describe(self) -> str:
        sign = "≥" if self.at_least else "≤"
        fmt = "{:,.2f}" if abs(self.target) < 100 else "{:,.0f}"
        return (
            f"{'PASS' if self.ok else 'FAIL'}  {self.backend:<10} {self.name:<28} "
            f"{fmt.format(self.value):>10}  (target {sign} {fmt.format(self.target)})"
        )


RSS_LIMIT_MIB = 200.0
RATIO_HTTP_VS_INPROCESS = 0.6
RATIO_GROWTH = 2 / 3


def _backend_checks(backend: str, results: list[Result]) -> list[Check]:
    by = {r.scenario: r for r in results}
    out: list[Check] = []

    def add(scenario: str, name: str, value: Callable[[Result], float], target: float) -> None:
        if scenario in by:
            out.append(Check(backend, name, value(by[scenario]), target, at_least=True))

    sqlite = backend == "sqlite"
    add("S1", "S1 emails/s", lambda r: r.eps, 20_000 if sqlite else 10_000)
    if sqlite:
        add("S1v", "S1v emails/s (verbose)", lambda r: r.eps, 10_000)
    add("S2", "S2 emails/s", lambda r: r.eps, 30_000)
    add("S3", "S3 requests/s", lambda r: r.rps, 3_000)
    if "S3" in by:  # closed loop: mean latency = 32 / throughput, so this asks for more
        out.append(Check(backend, "S3 p99 ms (at its max rate)", by["S3"].p99_ms, 10, False))
    if "S3r" in by:
        r = by["S3r"]
        out.append(Check(backend, "S3r p99 ms at 3,000 req/s", r.p99_ms, 10, at_least=False))
        # The offered load must have been served, or the p99 says nothing.
        out.append(Check(backend, "S3r requests/s served", r.rps, 0.97 * 3_000))
    add("S4", "S4 requests/s", lambda r: r.rps, 1_500)
    served = [r for r in results if r.scenario != "B1"]
    if served:
        worst = max(served, key=lambda r: r.peak_rss_mib)
        name = f"peak RSS MiB (max: {worst.scenario})"
        out.append(Check(backend, name, worst.peak_rss_mib, RSS_LIMIT_MIB, at_least=False))
    if "S1" in by and "B1" in by and by["B1"].eps:
        ratio = by["S1"].eps / by["B1"].eps
        out.append(Check(backend, "S1/B1 (HTTP vs in-process)", ratio, RATIO_HTTP_VS_INPROCESS))
    for large, base in (("S5-S1", "S1"), ("S5-S3", "S3")):
        if large in by and base in by and by[base].rps:
            ratio = by[large].rps / by[base].rps
            out.append(Check(backend, f"{large}/{base} (10M vs 1M)", ratio, RATIO_GROWTH))
    return out


def checks(results: list[Result]) -> list[Check]:
    """Every target that this run measured, plus the ratios between scenarios."""
    out: list[Check] = []
    for backend in dict.fromkeys(r.backend for r in results):
        out += _backend_checks(backend, [r for r in results if r.backend == backend])
    return out
