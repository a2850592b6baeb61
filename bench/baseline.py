"""B1: the unsubscribe-all service called in-process, without HTTP, on one core.

Same batches as S1 (100 distinct addresses: 50 new, 50 preloaded ones at random), same
database, same service (`services.statuses.unsubscribe_all`: validation, domain rules,
`Store.mutate`), `concurrency` callers in one event loop like S1's connections. Prints one
JSON line with the counts, latency percentiles and this process's CPU time.

    taskset -c 0 python -m bench.baseline --database-url URL --known N --portal 1 ...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from bench.preload import known_email
from commpref.domain.model import Actor
from commpref.services import statuses
from commpref.services.context import Call
from commpref.settings import Settings
from commpref.storage import open_store


def batches(known: int, new: int, size: int, nonce: str, worker: int) -> Iterator[list[str]]:
    """S1's batches (bench/load.lua builds the same shape)."""
    rng = random.Random(f"{nonce}-{worker}")
    n = 0
    while True:
        n += 1
        emails = [
            f"{rng.getrandbits(31):08x}.{nonce}.{worker}.{n * new + k}@new.example.com"
            for k in range(new)
        ]
        for i in rng.sample(range(known), size - new):
            emails.append(known_email(i))
        yield emails


def _peak_rss_mib() -> float:
    """VmHWM: unlike ru_maxrss it is not inherited from the parent across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def run(args: argparse.Namespace) -> dict[str, object]:
    store = open_store(Settings(database_url=args.database_url))
    await store.open()
    try:
        ctx = await store.portal_context(args.portal)
        actor = Actor("token", "bench")
        latencies: list[float] = []

        async def worker(w: int, until: float, record: bool) -> int:
            done = 0
            gen = batches(args.known, args.new, args.batch, f"{args.nonce}{int(record)}", w)
            while time.monotonic() < until:
                inputs = next(gen)
                t0 = time.perf_counter()
                result = await statuses.unsubscribe_all(
                    store=store,
                    call=Call.make(ctx, actor),
                    inputs=inputs,
                    business_unit_id=None,
                    verbose=False,  # as S1: the API's default
                )
                if record:
                    latencies.append(time.perf_counter() - t0)
                if len(result.results) != args.batch:
                    raise RuntimeError(f"{len(result.results)} results for {args.batch} inputs")
                done += 1
            return done

        async def phase(seconds: float, record: bool) -> int:
            until = time.monotonic() + seconds
            counts = await asyncio.gather(
                *(worker(w, until, record) for w in range(args.concurrency))
            )
            return sum(counts)

        await phase(args.warmup, record=False)
        print("BENCH_READY", flush=True)  # a profiler may attach now
        cpu0, t0 = _cpu(), time.monotonic()
        requests = await phase(args.duration, record=True)
        elapsed, cpu = time.monotonic() - t0, _cpu() - cpu0
        if args.handshake:  # the caller reads the database's CPU time before we disconnect
            print("BENCH_MEASURED", flush=True)
            await asyncio.to_thread(sys.stdin.readline)
    finally:
        await store.close()
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000

    return {
        "requests": requests,
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "p50_ms": pct(50),
        "p99_ms": pct(99),
        "peak_rss_mib": _peak_rss_mib(),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--database-url", required=True)
    p.add_argument("--portal", type=int, required=True)
    p.add_argument("--known", type=int, required=True, help="preloaded addresses")
    p.add_argument("--duration", type=float, default=12.0)
    p.add_argument("--warmup", type=float, default=3.0)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--new", type=int, default=50, help="new addresses per batch")
    p.add_argument("--nonce", default=f"b1{int(time.time())}")
    p.add_argument(
        "--handshake",
        action="store_true",
        help="print BENCH_MEASURED and wait for stdin to close before disconnecting",
    )
    args = p.parse_args(argv)
    result = asyncio.run(run(args))
    print("BENCH_JSON " + json.dumps(result), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
