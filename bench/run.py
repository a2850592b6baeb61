"""`make bench`: preload, serve, load with wrk, measure, report (docs/benchmarks.md).

For each backend (SQLite, then PostgreSQL): build or reuse the preloaded database, run B1
(the service in-process), start `commpref serve`, then each HTTP scenario: a warm-up, then a
fixed-time wrk run with the server's CPU and peak RSS read from /proc around it. Servers,
wrk and B1 are started here and stopped here, on success, failure, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench import preload, procs, report
from bench.results import Result, checks

BENCH_DIR = preload.BENCH_DIR
ROOT = BENCH_DIR.parent
LUA = BENCH_DIR / "load.lua"
RESULTS_DIR = BENCH_DIR / "results"  # logs and profiles (gitignored)
DOC = ROOT / "docs" / "benchmarks.md"
PLOT = ROOT / "docs" / "benchmarks-throughput.png"
PG_DATABASE = "commpref_bench"


@dataclass(frozen=True)
class Scenario:
    name: str
    mode: str  # bench/load.lua mode
    connections: int
    emails: int  # addresses per request
    rate: int = 0  # offered requests/s (a fixed schedule); 0: as fast as answers come


# Connections are what a real client would open: a handful of parallel senders for batches,
# many concurrent callers for single-address checks (32 for S3, as its target assumes).
SCENARIOS = (
    Scenario("B2", "b2", 32, 0),
    Scenario("S1", "s1", 8, 100),
    Scenario("S1v", "s1v", 8, 100),
    Scenario("S2", "s2", 8, 100),
    Scenario("S3", "s3", 32, 1),
    # S3's latency target at S3's throughput target: p99 while 3,000 requests/s are offered.
    Scenario("S3r", "s3", 32, 1, rate=3_000),
    Scenario("S4", "s4", 16, 1),
)
LARGE_SCENARIOS = (Scenario("S5-S1", "s1", 8, 100), Scenario("S5-S3", "s3", 32, 1))
B1_CONCURRENCY = 8  # as S1's connections
SETTLE_WINDOW_S = 0.5  # the server counts as idle below 5 % of a core over this long


@dataclass(frozen=True)
class Backend:
    name: str
    workers: int
    server_cores: str  # taskset list for `commpref serve` (all its processes)
    loadgen_cores: str  # taskset list for wrk
    baseline_cores: str  # taskset list for B1


SQLITE = Backend("sqlite", workers=1, server_cores="0", loadgen_cores="1", baseline_cores="0")
# Two server processes and PostgreSQL itself share the two cores (there is no third one to
# isolate them on); wrk stays on core 1. See docs/benchmarks.md.
POSTGRES = Backend("postgresql", workers=2, server_cores="0,1", loadgen_cores="1",
                   baseline_cores="0")  # fmt: skip


class Interrupted(BaseException):
    """SIGTERM or SIGHUP: unwind like Ctrl-C (not caught as a failure) so every cleanup runs."""


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signal.Signals(signum).name)


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


# --- child processes ---------------------------------------------------------------------
class Children:
    """Every process the bench starts, so that cleanup can stop exactly those."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, command: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(command, **kwargs)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.returncode is None and proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                with contextlib.suppress(ChildProcessError):
                    proc.wait(timeout=10)


def finish(proc: subprocess.Popen[bytes]) -> tuple[str, float]:
    """Wait for a child whose stdout is a pipe (stderr merged); its output and CPU seconds."""
    assert proc.stdout is not None
    output = proc.stdout.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return output, usage.ru_utime + usage.ru_stime


def bench_json(output: str, what: str) -> dict[str, Any]:
    for line in output.splitlines():
        if line.startswith("BENCH_JSON "):
            return dict(json.loads(line[len("BENCH_JSON ") :]))
    raise RuntimeError(f"{what} printed no result:\n{output[-3000:]}")


# --- one wrk run ---------------------------------------------------------------------------
@dataclass
class Context:
    args: argparse.Namespace
    children: Children
    setup: preload.Setup
    backend: Backend
    db_pids: Callable[[], list[int]]  # PostgreSQL backends serving the bench; [] for SQLite


def wrk(
    ctx: Context, server: procs.Server, sc: Scenario, seconds: float
) -> tuple[dict[str, Any], float]:
    nonce = f"{sc.mode}{time.time_ns() % 10**10:x}"
    command = [
        "taskset", "-c", ctx.backend.loadgen_cores, "wrk", "-t1", f"-c{sc.connections}",
        f"-d{seconds:g}s", "--timeout", "10s", "-s", str(LUA), server.url, "--",
        sc.mode, ctx.setup.token, str(ctx.setup.subscribers), nonce,
        ",".join(map(str, ctx.setup.definitions)), str(sc.rate),
    ]  # fmt: skip
    proc = ctx.children.start(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output, cpu = finish(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed ({proc.returncode}):\n{output[-3000:]}")
    return bench_json(output, "wrk"), cpu


def settle(ctx: Context, server: procs.Server, limit_s: float = 60.0) -> None:
    """Wait until the server and its database are idle: a write scenario leaves background
    work behind (SQLite's checkpointer copying the WAL back, up to 256 MiB), which the next
    scenario would otherwise pay for."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        pids, db_pids = server.pids(), ctx.db_pids()
        cpu0, db0 = procs.cpu_seconds(pids), procs.cpu_seconds(db_pids)
        time.sleep(SETTLE_WINDOW_S)
        cpu1, db1 = procs.cpu_seconds(pids), procs.cpu_seconds(db_pids)
        if procs.cpu_delta(cpu0, cpu1) + procs.cpu_delta(db0, db1) < 0.05 * SETTLE_WINDOW_S:
            return
    log(f"  warning: the server was still busy after {limit_s:.0f} s")


def run_scenario(ctx: Context, server: procs.Server, sc: Scenario) -> Result:
    args = ctx.args
    settle(ctx, server)
    warm, _ = wrk(ctx, server, sc, args.warmup)
    if warm["errors"]["status"] or not warm["requests"]:
        log(f"  warning: {sc.name} warm-up: {warm['requests']} requests, errors {warm['errors']}")
    pids = server.pids()
    procs.reset_peak_rss(pids)
    cpu0, db0 = procs.cpu_seconds(pids), procs.cpu_seconds(ctx.db_pids())
    busy0 = procs.machine_busy_seconds()
    out, wrk_cpu = wrk(ctx, server, sc, args.duration)
    busy1 = procs.machine_busy_seconds()
    cpu1, db1 = procs.cpu_seconds(pids), procs.cpu_seconds(ctx.db_pids())
    server_cpu, db_cpu = procs.cpu_delta(cpu0, cpu1), procs.cpu_delta(db0, db1)
    workers = server.workers_pids()
    per_worker = [cpu1.get(p, 0.0) - cpu0.get(p, 0.0) for p in workers]
    errors = sum(out["errors"].values())
    lat = out["latency_us"]
    result = Result(
        backend=ctx.backend.name,
        scenario=sc.name,
        connections=sc.connections,
        requests=out["requests"],
        seconds=out["duration_us"] / 1e6,
        emails_per_request=sc.emails,
        p50_ms=lat["p50"] / 1000,
        p99_ms=lat["p99"] / 1000,
        server_cpu_s=server_cpu,
        db_cpu_s=db_cpu if db1 else None,
        peak_rss_mib=procs.peak_rss_mib(pids),
        loadgen_cpu_s=wrk_cpu,
        errors=errors,
        others_cpu_s=busy1 - busy0 - server_cpu - db_cpu - wrk_cpu,
        worker_cpu_s=per_worker if len(workers) > 1 else [],
    )
    log(
        f"  {sc.name:<6} {result.rps:>9,.0f} req/s {result.eps:>9,.0f} emails/s  "
        f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:7.2f} ms  "
        f"cpu {result.cpu_ms_per_request:.3f} ms/req  rss {result.peak_rss_mib:.0f} MiB  "
        f"wrk {100 * (result.loadgen_busy or 0):.0f}%  others {100 * result.others_share:.0f}%  "
        f"errors {errors}"
        + (f"  worker CPU split {result.worker_split}" if result.worker_cpu_s else "")
    )
    return result


# --- B1 --------------------------------------------------------------------------------------
def run_baseline(ctx: Context, database_url: str, profile: Path | None = None) -> Result:
    args = ctx.args
    command = [
        "taskset", "-c", ctx.backend.baseline_cores, sys.executable, "-m", "bench.baseline",
        "--database-url", database_url, "--portal", str(ctx.setup.portal_id),
        "--known", str(ctx.setup.subscribers), "--duration", str(args.duration),
        "--warmup", str(args.warmup), "--concurrency", str(B1_CONCURRENCY), "--handshake",
    ]  # fmt: skip
    proc = ctx.children.start(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT
    )
    stdin, stdout = proc.stdin, proc.stdout
    assert stdin is not None and stdout is not None
    lines: list[str] = []

    def wait_for(marker: str) -> None:
        for raw in stdout:
            lines.append(raw.decode(errors="replace"))
            if lines[-1].startswith(marker):
                return
        raise RuntimeError(f"B1 ended before {marker}:\n{''.join(lines)[-3000:]}")

    wait_for("BENCH_READY")  # warm-up done, measuring now
    db0, busy0 = procs.cpu_seconds(ctx.db_pids()), procs.machine_busy_seconds()
    spy = start_profiler(ctx, proc.pid, profile, args.duration) if profile else None
    wait_for("BENCH_MEASURED")  # measuring done; its connections are still open
    db1, busy1 = procs.cpu_seconds(ctx.db_pids()), procs.machine_busy_seconds()
    stdin.close()
    output, _ = finish(proc)
    spy_cpu = finish(spy)[1] if spy is not None else 0.0
    if proc.returncode != 0:
        raise RuntimeError(f"B1 failed ({proc.returncode}):\n{''.join(lines)}{output[-3000:]}")
    output = "".join(lines) + output
    out = bench_json(output, "B1")
    result = Result(
        backend=ctx.backend.name,
        scenario="B1",
        connections=B1_CONCURRENCY,
        requests=out["requests"],
        seconds=out["seconds"],
        emails_per_request=100,
        p50_ms=out["p50_ms"],
        p99_ms=out["p99_ms"],
        server_cpu_s=out["cpu_seconds"],
        db_cpu_s=procs.cpu_delta(db0, db1) if db1 else None,
        peak_rss_mib=out["peak_rss_mib"],
    )
    result.others_cpu_s = busy1 - busy0 - result.server_cpu_s - (result.db_cpu_s or 0.0) - spy_cpu
    log(
        f"  B1     {result.rps:>9,.0f} req/s {result.eps:>9,.0f} emails/s  "
        f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:7.2f} ms  "
        f"cpu {result.cpu_ms_per_request:.3f} ms/req (in-process, no HTTP)"
    )
    return result


# --- profiles (--profile) --------------------------------------------------------------------
def start_profiler(
    ctx: Context, pid: int, out: Path, seconds: float, subprocesses: bool = False
) -> subprocess.Popen[bytes]:
    """py-spy on the load generator's core, sampling `pid` for `seconds` (raw stacks)."""
    spy = str(Path(sys.executable).with_name("py-spy"))
    command = [
        "taskset", "-c", ctx.backend.loadgen_cores, spy, "record", "--pid", str(pid),
        "--duration", str(int(seconds)), "--rate", "200", "--nonblocking", "--threads",
        "--format", "raw", "--output", str(out),
    ]  # fmt: skip
    if subprocesses:
        command.append("--subprocesses")
    return ctx.children.start(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def profile_scenario(ctx: Context, server: procs.Server, sc: Scenario) -> None:
    """One more run of `sc` with py-spy attached to the server; summarised by bench.profile."""
    from bench import profile

    out = RESULTS_DIR / f"profile-{ctx.backend.name}-{sc.name}.txt"
    log(f"  profiling {sc.name} ({ctx.backend.name}) with py-spy → {out.relative_to(ROOT)}")
    spy = start_profiler(ctx, server.pids()[0], out, ctx.args.duration, ctx.backend.workers > 1)
    wrk(ctx, server, sc, ctx.args.duration + 1)
    finish(spy)
    print(profile.summary(out), flush=True)


# --- one backend -----------------------------------------------------------------------------
def serve(ctx: Context, stack: contextlib.ExitStack, database_url: str) -> procs.Server:
    server = procs.Server(
        database_url=database_url,
        port=free_port(),
        cores=ctx.backend.server_cores,
        workers=ctx.backend.workers,
        log_path=RESULTS_DIR / f"server-{ctx.backend.name}.log",
    )
    stack.callback(server.stop)
    server.start()
    log(f"  server: pid {server.pids()[0]}, {server.workers} worker(s), cores {server.cores}")
    return server


def pg_backend_pids(admin_url: str, name: str) -> Callable[[], list[int]]:
    """The PostgreSQL processes doing the bench's work: its database's backends and the WAL
    writer (auxiliary processes shared with other databases are left out)."""

    async def query() -> list[int]:
        import asyncpg

        con = await asyncpg.connect(admin_url)
        try:
            rows = await con.fetch(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 OR backend_type = 'walwriter'",
                name,
            )
        finally:
            await con.close()
        return [r["pid"] for r in rows]

    return lambda: asyncio.run(query())


def run_backend(
    args: argparse.Namespace,
    children: Children,
    backend: Backend,
    subscribers: int,
    scenarios: tuple[Scenario, ...],
    with_baseline: bool,
    results: list[Result],
) -> None:
    """Measure one backend; each result is added to `results` as soon as it is measured."""
    cache, setup = preload.build_sqlite(subscribers, log=log)
    with contextlib.ExitStack() as stack:
        if backend.name == "sqlite":
            run_db = preload.CACHE_DIR / "run" / "bench.db"
            preload.copy_sqlite(cache, run_db)
            stack.callback(preload.remove_sqlite, run_db)
            url = f"sqlite:///{run_db}"
            db_pids: Callable[[], list[int]] = list
        else:
            url = with_database(args.postgres_url, PG_DATABASE)
            setup = asyncio.run(
                preload.load_postgres(args.postgres_url, url, PG_DATABASE, cache, setup, log=log)
            )
            stack.callback(
                lambda: asyncio.run(preload.drop_postgres(args.postgres_url, PG_DATABASE))
            )
            db_pids = pg_backend_pids(args.postgres_url, PG_DATABASE)
        ctx = Context(args, children, setup, backend, db_pids)
        log(f"{backend.name}: {subscribers:,} subscribers, {len(setup.definitions)} definitions")
        wanted = [s for s in scenarios if not args.scenarios or s.name in args.scenarios]
        if with_baseline and (not args.scenarios or "B1" in args.scenarios):
            profile = (
                RESULTS_DIR / f"profile-{backend.name}-B1.txt" if "B1" in args.profile else None
            )
            results.append(run_baseline(ctx, url))
            if profile is not None:
                log(f"  profiling B1 ({backend.name}) with py-spy → {profile.relative_to(ROOT)}")
                run_baseline(ctx, url, profile)
                from bench import profile as prof

                print(prof.summary(profile), flush=True)
        if wanted:
            server = serve(ctx, stack, url)
            for sc in wanted:
                results.append(run_scenario(ctx, server, sc))
            for sc in wanted:
                if sc.name in args.profile:
                    profile_scenario(ctx, server, sc)


# --- the run -----------------------------------------------------------------------------------
def git(*command: str) -> str:
    try:
        return subprocess.run(
            ["git", *command], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine() -> dict[str, str]:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with contextlib.suppress(OSError, ValueError):
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{mem_kib / 2**20:.0f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": wrk_version.split()[1] if wrk_version.split()[1:] else "?",
    }


def postgres_version(url: str) -> str | None:
    async def query() -> str:
        import asyncpg

        con = await asyncpg.connect(url, timeout=5)
        try:
            return str(await con.fetchval("SHOW server_version"))
        finally:
            await con.close()

    try:
        return asyncio.run(query())
    except Exception as exc:
        log(f"PostgreSQL at {url} unreachable ({exc}); its scenarios are skipped")
        return None


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--large", action="store_true", help="also S5 (10,000,000 subscribers)")
    p.add_argument("--backends", default="sqlite,postgresql", help="comma-separated")
    p.add_argument("--scenarios", default="", help="comma-separated subset, e.g. B1,S1")
    p.add_argument("--subscribers", type=int, default=1_000_000)
    p.add_argument("--large-subscribers", type=int, default=10_000_000)
    p.add_argument("--duration", type=float, default=12.0, help="measured seconds")
    p.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds")
    p.add_argument(
        "--postgres-url",
        default=os.environ.get("COMMPREF_BENCH_POSTGRES_URL") or preload.default_postgres_url(),
        help="a maintenance database; the bench creates and drops its own next to it",
    )
    p.add_argument(
        "--profile",
        nargs="?",
        const="B1,S1",
        default="",
        help="after measuring, profile these scenarios with py-spy (default B1,S1); "
        "raw stacks and summaries go to bench/results/",
    )
    p.add_argument("--no-docs", action="store_true", help="do not touch docs/")
    args = p.parse_args(argv)
    args.backends = [b for b in args.backends.split(",") if b]
    args.scenarios = {s for s in args.scenarios.split(",") if s}
    args.profile = {s for s in args.profile.split(",") if s}
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"bench: {tool} is missing (make bench installs wrk with apt-get)")
    if (os.cpu_count() or 1) < 2:
        sys.exit("bench: needs two cores (server on core 0, load generator on core 1)")
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _raise_interrupted)
    # Ctrl-C raises KeyboardInterrupt even where SIGINT came in ignored (a background job).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC)
    load_before = os.getloadavg()
    source = source_state()
    info = machine()
    backends = [b for b in (SQLITE, POSTGRES) if b.name in args.backends]
    if POSTGRES in backends:
        pg = postgres_version(args.postgres_url)
        if pg is None:
            backends.remove(POSTGRES)
        else:
            via = "Unix socket" if "host=/" in args.postgres_url else "TCP"
            info["postgresql"] = f"{pg} (via {via})"
    children = Children()
    results: list[Result] = []
    failures: list[str] = []
    plan: list[tuple[Backend, int, tuple[Scenario, ...], bool]]
    plan = [(b, args.subscribers, SCENARIOS, True) for b in backends]
    if args.large:
        plan += [(b, args.large_subscribers, LARGE_SCENARIOS, False) for b in backends]
    t0 = time.monotonic()
    try:
        for backend, subscribers, scenarios, baseline in plan:
            try:
                run_backend(args, children, backend, subscribers, scenarios, baseline, results)
            except Exception as exc:  # report it, measure the rest, exit 1 at the end
                traceback.print_exc()
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
                failures.append(f"{backend.name} with {subscribers:,} subscribers failed: {reason}")
                log(f"FAILED: {failures[-1]}")
    except (KeyboardInterrupt, Interrupted) as exc:
        log(f"interrupted ({str(exc) or 'Ctrl-C'}); servers stopped, nothing written to docs/")
        return 130
    finally:
        children.stop_all()
    elapsed = time.monotonic() - t0
    return finish_report(args, results, info, started, load_before, elapsed, source, failures)


def source_state() -> tuple[str, str]:
    """(short commit, a digest of the uncommitted changes to src/ or "") — read-only git."""
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    diff = git("diff", "HEAD", "--", "src")
    return commit, hashlib.sha256(diff.encode()).hexdigest()[:8] if diff else ""


def notes(
    args: argparse.Namespace,
    info: dict[str, str],
    load: tuple[float, ...],
    elapsed: float,
    source: tuple[str, str],
) -> Iterator[str]:
    commit, dirty = source
    changes = f" with uncommitted changes to src/ (digest {dirty})" if dirty else ""
    yield f"commit `{commit}`{changes}"
    if source_state() != source:
        now, now_dirty = source_state()
        yield (
            f"**the source changed during the run** (now `{now}`"
            f"{f' + changes {now_dirty}' if now_dirty else ''}): figures may mix two versions"
        )
    yield (
        f"machine: {info['cpu']}, {info['cores']} cores, {info['memory']}; Linux "
        f"{info['kernel']}; Python {info['python']}, SQLite {info['sqlite']}, "
        f"PostgreSQL {info.get('postgresql', '—')}, wrk {info['wrk']}"
    )
    yield (
        f"{args.subscribers:,} subscribers preloaded (S5: {args.large_subscribers:,}), "
        f"10 active definitions; {args.warmup:g} s warm-up + {args.duration:g} s per scenario; "
        f"whole run {elapsed / 60:.1f} min"
    )
    yield (
        f"load average before / after: {load[0]:.2f} / {os.getloadavg()[0]:.2f} "
        "(anything well above 0 means other work shared the cores)"
    )


def finish_report(
    args: argparse.Namespace,
    results: list[Result],
    info: dict[str, str],
    started: dt.datetime,
    load: tuple[float, ...],
    elapsed: float,
    source: tuple[str, str],
    failures: list[str],
) -> int:
    found = checks(results)
    print()
    print(report.text_table(results))
    print()
    for c in found:
        print(c.describe())
    run_notes = list(notes(args, info, load, elapsed, source)) + failures
    splits = ", ".join(f"{r.scenario} {r.worker_split}" for r in results if r.worker_cpu_s)
    if splits:
        run_notes.append(f"CPU split between the PostgreSQL run's two workers: {splits}")
    if results:
        worst = max(results, key=lambda r: r.others_share)
        if worst.others_share > 0.1:
            run_notes.append(
                f"other work on the machine took up to {100 * worst.others_share:.0f}% of its "
                f"CPU during a scenario ({worst.backend} {worst.scenario}; see the last column): "
                "those figures are lower bounds"
            )
    print()
    for n in run_notes:
        print(f"- {n}")
    if failures:
        log("docs/ left as it was: a backend failed (see above)")
        return 1
    if not args.no_docs and results:
        # Named by the code measured, not by a date: the history of runs lives in git.
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        heading = f"commit {commit or 'unknown'}"
        report.plot(results, PLOT, f"commpref, {heading}, {info['cpu']} ×{info['cores']}")
        report.update_docs(
            DOC, report.markdown_block(results, found, heading, run_notes), PLOT.name
        )
        log(f"results written to {DOC.relative_to(ROOT)}, plot {PLOT.relative_to(ROOT)}")
    return 0
