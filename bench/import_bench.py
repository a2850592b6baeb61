"""Import scenario: `commpref import` of a 1M-row file — time and peak memory.

Standalone: `python -m bench.import_bench [--rows N] [--postgres URL] [--json FILE]`.

For each backend (SQLite; PostgreSQL unless --sqlite-only: --postgres, else
COMMPREF_BENCH_POSTGRES_URL, else the default of `python -m bench`) on a fresh database with
one portal: generate a CSV (every 50th row invalid; a mix of opt-outs of all and per-type
statuses, for ~N/2 distinct addresses so that later rows meet stored state), then run the
real `commpref import` as a child process and read its wall time and peak RSS (ru_maxrss
from wait4). The same file is imported a second time as the baseline of the same run: every
row is then UNCHANGED, so the ratio shows what the writes cost over reading, validating and
locking. Peak memory must not grow with N (constant-memory import): run with --rows 100000
and 1000000 to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.preload import default_postgres_url

COMMPREF = str(Path(sys.executable).with_name("commpref"))
T0 = 1_700_000_000_000


@dataclass
class Run:
    backend: str
    rows: int
    pass_: str  # "first" (writes) or "again" (baseline: nothing changes)
    seconds: float
    rows_per_second: float
    peak_rss_mib: float
    summary: dict[str, int | str]


def write_file(path: Path, rows: int) -> None:
    """N data rows: every 50th invalid; addresses repeat once (later rows are newer)."""
    addresses = max(rows // 2, 1)
    with path.open("w", encoding="utf-8") as f:
        f.write("email,subscription_id,status,timestamp,source\n")
        for i in range(rows):
            if i % 50 == 49:
                f.write(f"not-an-address-{i},ALL,UNSUBSCRIBED,{T0 + i},bench\n")
                continue
            n = i % addresses
            if i % 3 == 0:
                f.write(f"user{n}@example.com,ALL,UNSUBSCRIBED,{T0 + i},bounce\n")
            else:
                status = "SUBSCRIBED" if i % 3 == 1 else "UNSUBSCRIBED"
                f.write(f"user{n}@example.com,{1 + i % 3},{status},{T0 + i},form\n")


def run_cli(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB) and stdout of one `commpref` child process."""
    started = time.perf_counter()
    proc = subprocess.Popen([COMMPREF, *args], stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"commpref {' '.join(args)} exited with {proc.returncode}")
    return seconds, usage.ru_maxrss / 1024, out


def fresh_postgres(base: str) -> str:
    """A new empty database next to `base`'s (dropped and re-created)."""
    import asyncpg  # only needed for PostgreSQL
    from tests.support.postgres import with_database

    name = "commpref_import_bench"

    async def make() -> None:
        con = await asyncpg.connect(base)
        try:
            await con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await con.execute(f'CREATE DATABASE "{name}"')
        finally:
            await con.close()

    asyncio.run(make())
    return with_database(base, name)


def bench(backend: str, url: str, file: Path, rows: int) -> list[Run]:
    env = {**os.environ, "COMMPREF_DATABASE_URL": url}
    portal = subprocess.run(
        [COMMPREF, "portal", "create", "--name", "bench"],
        env=env, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    runs = []
    for name in ("first", "again"):
        args = ["import", "--portal", portal, str(file), "--no-progress"]
        seconds, rss, out = run_cli(args, env)
        summary = json.loads(out.strip().splitlines()[-1])
        runs.append(Run(backend, rows, name, seconds, rows / seconds, rss, summary))
    return runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    default_url = os.environ.get("COMMPREF_BENCH_POSTGRES_URL") or default_postgres_url()
    parser.add_argument("--postgres", default=default_url)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="Also write the results here.")
    args = parser.parse_args()
    results: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="commpref-import-bench-") as tmp:
        file = Path(tmp) / f"import-{args.rows}.csv"
        write_file(file, args.rows)
        print(f"{args.rows} rows, {file.stat().st_size / 2**20:.1f} MiB of CSV")
        results += bench("sqlite", f"sqlite:///{tmp}/bench.db", file, args.rows)
        if args.postgres and not args.sqlite_only:
            results += bench("postgresql", fresh_postgres(args.postgres), file, args.rows)
    print(f"{'backend':<11} {'pass':<6} {'seconds':>8} {'rows/s':>9} {'peak RSS':>9}  result")
    for r in results:
        print(f"{r.backend:<11} {r.pass_:<6} {r.seconds:>8.1f} {r.rows_per_second:>9.0f} "
              f"{r.peak_rss_mib:>6.0f} MiB  {r.summary}")  # fmt: skip
    for backend in sorted({r.backend for r in results}):
        first, again = (r for r in results if r.backend == backend)
        print(f"{backend}: first import / unchanged re-import = "
              f"{first.seconds / again.seconds:.2f}x the time")  # fmt: skip
    if args.json is not None:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
