"""`python -m bench.console` (part of `make bench`): the console's overview (C1) and a
contact's page (C2) on the preloaded databases of `bench.preload`, signed in as a console
viewer, at 1,000,000 subscribers and (with `--large`) 10,000,000; p50, p95 and p99 of each
page against the 100 ms target, and, as the same run's baseline, `GET /healthz` (B2) over
the same client, so the ratio says what the page costs beyond HTTP itself.

The client is Python (httpx, a few threads with keep-alive), not wrk: the pages need a
session cookie and a sign-in first, and at these latencies its own overhead (well under a
millisecond) is noise. The preloaded database gets its tallies by a recount first, as an
upgrade would (`Store.recount_tallies`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import statistics
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from bench import preload, procs
from bench.run import PG_DATABASE, POSTGRES, RESULTS_DIR, SQLITE, free_port, log, with_database
from commpref.settings import Settings
from commpref.storage import open_store

TARGET_P95_MS = 100.0
USER = "bench-viewer@example.com"
PASSWORD = "a bench password of some length"
THREADS = 4


@dataclass(frozen=True)
class Measured:
    backend: str
    subscribers: int
    page: str
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    def line(self, baseline: Measured | None) -> str:
        ratio = f"{self.p95_ms / baseline.p95_ms:5.1f}×B2" if baseline else "       "
        verdict = "meets" if self.p95_ms < TARGET_P95_MS else "MISSES"
        return (
            f"{self.backend:<10} {self.subscribers:>11,} {self.page:<9} "
            f"{self.requests / self.seconds:8.0f}/s  p50 {self.p50_ms:6.1f}  "
            f"p95 {self.p95_ms:6.1f}  p99 {self.p99_ms:6.1f} ms  {ratio}  "
            f"{verdict} p95 < {TARGET_P95_MS:.0f} ms"
        )


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def measure(
    base: str, cookies: httpx.Cookies, path: Callable[[], str], seconds: float
) -> tuple[int, list[float]]:
    """GET `path()` from THREADS keep-alive clients for `seconds`; the latencies in ms."""
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    failures: list[str] = []

    def worker() -> None:
        mine: list[float] = []
        with httpx.Client(base_url=base, cookies=cookies, timeout=30) as client:
            while time.monotonic() < deadline:
                t0 = time.perf_counter()
                answer = client.get(path())
                mine.append((time.perf_counter() - t0) * 1000)
                if answer.status_code != 200:
                    failures.append(f"{answer.status_code} {answer.text[:200]}")
                    return
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise RuntimeError(f"a page failed: {failures[0]}")
    return len(latencies), latencies


def sign_in(base: str) -> httpx.Cookies:
    with httpx.Client(base_url=base, timeout=30) as client:
        page = client.get("/console/sign-in")
        found = re.search(r'name="signin_token" value="([^"]+)"', page.text)
        assert found is not None, page.text[:500]
        answer = client.post(
            "/console/sign-in",
            data={"signin_token": found.group(1), "email": USER, "password": PASSWORD,
                  "next": ""},
        )  # fmt: skip
        if answer.status_code != 303:
            raise RuntimeError(f"sign-in failed: {answer.status_code} {answer.text[:300]}")
        return client.cookies


def prepare(url: str, setup: preload.Setup) -> None:
    """Tallies by a recount (as after an upgrade), and the bench's console viewer."""

    async def go() -> None:
        store = open_store(Settings(database_url=url))
        await store.open()
        try:
            t0 = time.monotonic()
            await store.recount_tallies(setup.portal_id)
            log(f"  recount of {setup.subscribers:,} subscribers: {time.monotonic() - t0:.1f} s")
        finally:
            await store.close()

    asyncio.run(go())
    subprocess.run(
        [str(procs.COMMPREF), "user", "create", "--email", USER, "--role", "viewer",
         "--password", PASSWORD, "--database-url", url],
        check=False, capture_output=True,
    )  # fmt: skip


def run_backend(name: str, subscribers: int, args: argparse.Namespace) -> list[Measured]:
    backend = SQLITE if name == "sqlite" else POSTGRES
    cache, setup = preload.build_sqlite(subscribers, log=log)
    out: list[Measured] = []
    with contextlib.ExitStack() as stack:
        if name == "sqlite":
            run_db = preload.CACHE_DIR / "run" / "bench.db"
            preload.copy_sqlite(cache, run_db)
            stack.callback(preload.remove_sqlite, run_db)
            url = f"sqlite:///{run_db}"
        else:
            url = with_database(args.postgres_url, PG_DATABASE)
            setup = asyncio.run(
                preload.load_postgres(args.postgres_url, url, PG_DATABASE, cache, setup, log=log)
            )
            stack.callback(
                lambda: asyncio.run(preload.drop_postgres(args.postgres_url, PG_DATABASE))
            )
        prepare(url, setup)
        server = procs.Server(
            database_url=url,
            port=free_port(),
            cores=backend.server_cores,
            workers=backend.workers,
            log_path=RESULTS_DIR / f"server-console-{name}.log",
        )
        stack.callback(server.stop)
        server.start()
        base = f"http://127.0.0.1:{server.port}"
        cookies = sign_in(base)
        portal = setup.portal_id
        rng = random.Random(7)
        pages: dict[str, Callable[[], str]] = {
            "B2": lambda: "/healthz",
            "C1": lambda: f"/console/?portal={portal}",
            "C2": lambda: (
                f"/console/contacts/{preload.known_email(rng.randrange(subscribers))}"
                f"?portal={portal}"
            ),
        }
        for page, path in pages.items():
            measure(base, cookies, path, args.warmup)
            t0 = time.monotonic()
            count, latencies = measure(base, cookies, path, args.duration)
            elapsed = time.monotonic() - t0
            out.append(
                Measured(name, subscribers, page, count, elapsed,
                         _percentile(latencies, 50), _percentile(latencies, 95),
                         _percentile(latencies, 99))
            )  # fmt: skip
            log("  " + out[-1].line(out[0] if page != "B2" else None))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__.splitlines()[0])
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--subscribers", type=int, default=1_000_000)
    p.add_argument("--large", action="store_true", help="also 10,000,000 subscribers")
    p.add_argument("--large-subscribers", type=int, default=10_000_000)
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--postgres-url", default=preload.default_postgres_url())
    args = p.parse_args(argv)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    sizes = [args.subscribers] + ([args.large_subscribers] if args.large else [])
    results = []
    for size in sizes:
        for name in [b for b in args.backends.split(",") if b]:
            log(f"console: {name}, {size:,} subscribers")
            results += run_backend(name, size, args)
    print()
    print(f"console pages, {THREADS} clients with keep-alive; B2 = GET /healthz, the baseline")
    for m in results:
        baseline = next(
            (b for b in results if b.page == "B2" and (b.backend, b.subscribers) ==
             (m.backend, m.subscribers)), None,
        )  # fmt: skip
        print(m.line(baseline if m.page != "B2" else None))
    misses = [m for m in results if m.page != "B2" and m.p95_ms >= TARGET_P95_MS]
    return 1 if misses else 0


if __name__ == "__main__":
    raise SystemExit(main())
