"""Overload scenario: 1,000 concurrent connections against one server process.

    python bench/overload_bench.py [--connections 1000] [--seconds 10] [--batch 100]

Starts its own `commpref serve` (SQLite in a temporary directory, default settings: 64 requests
at once, 64 queued for at most 250 ms), then:

1. **Flood**: N keep-alive connections each send batch opt-outs and batch reads back to back
   for a fixed time. Reported: the status mix (200 vs fast 503 with Retry-After), latency
   percentiles per status, requests/s, and the server's RSS (sampled every 50 ms; peak =
   VmHWM) against its idle RSS.
2. **Slow clients**: 300 connections trickle their headers and 200 their bodies (one byte a
   second) while 20 ordinary clients keep working. Reported: how the ordinary requests fared,
   and how the slow connections were ended (408 after the header/body deadline).

Loopback only; every loop is bounded by time and count. Linux (/proc) for RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HOST = "127.0.0.1"
COMMPREF = str(Path(sys.executable).with_name("commpref"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cli(db: str, *args: str) -> str:
    out = subprocess.run(
        [COMMPREF, *args, "--database-url", db], capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[0]


class Server:
    def __init__(self, workdir: Path) -> None:
        self.db = f"sqlite:///{workdir}/bench.db"
        self.port = free_port()
        self.log = (workdir / "server.log").open("wb")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "COMMPREF_ACCESS_LOG": "false"}
        self.proc = subprocess.Popen(
            [COMMPREF, "serve", "--port", str(self.port), "--database-url", self.db],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((HOST, self.port), timeout=1) as s:
                    s.sendall(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if b" 200 " in s.recv(100):
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(30)
        self.log.close()


def request(method: str, path: str, token: str, body: bytes = b"") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name:
            headers[name.strip().lower()] = value.strip()
    await reader.readexactly(int(headers.get("content-length", "0")))
    return int(lines[0].split()[1]), headers


class Tally:
    def __init__(self) -> None:
        self.statuses: Counter[int] = Counter()
        self.latency: dict[int, list[float]] = {}
        self.errors: Counter[str] = Counter()
        self.retry_after_missing = 0

    def add(self, status: int, seconds: float, headers: dict[str, str]) -> None:
        self.statuses[status] += 1
        self.latency.setdefault(status, []).append(seconds)
        if status == 503 and "retry-after" not in headers:
            self.retry_after_missing += 1


async def flood_client(
    i: int, port: int, token: str, until: float, batch: int, tally: Tally, start: asyncio.Event
) -> None:
    emails = [f"load{i}-{k}@example.com" for k in range(batch)]
    body = json.dumps({"inputs": emails}).encode()
    paths = [
        ("POST", "/communication-preferences/v4/statuses/batch/unsubscribe-all?channel=EMAIL"),
        ("POST", "/communication-preferences/v4/statuses/batch/read?channel=EMAIL"),
    ]
    await start.wait()
    n = 0
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError as exc:
            tally.errors[type(exc).__name__] += 1
            await asyncio.sleep(0.05)
            continue
        try:
            while time.monotonic() < until:
                method, path = paths[n % 2]
                n += 1
                t0 = time.monotonic()
                writer.write(request(method, path, token, body))
                status, headers = await read_response(reader)
                tally.add(status, time.monotonic() - t0, headers)
                if status == 503:  # as HubSpot's SDKs do: wait Retry-After (with jitter)
                    retry = float(headers.get("retry-after", "1"))
                    await asyncio.sleep(retry * random.uniform(0.5, 1.5))
                if headers.get("connection") == "close":
                    break
        except (OSError, asyncio.IncompleteReadError) as exc:
            tally.errors[type(exc).__name__] += 1
        finally:
            writer.close()


async def sample_rss(pid: int, until: float, out: list[int]) -> None:
    while time.monotonic() < until:
        out.append(kib(pid, "VmRSS"))
        await asyncio.sleep(0.05)


def pct(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


async def flood(server: Server, token: str, connections: int, seconds: float, batch: int) -> None:
    assert server.proc is not None
    pid = server.proc.pid
    idle = kib(pid, "VmRSS")
    tally = Tally()
    start = asyncio.Event()
    until = time.monotonic() + seconds + 1
    clients = [
        asyncio.create_task(flood_client(i, server.port, token, until, batch, tally, start))
        for i in range(connections)
    ]
    rss: list[int] = []
    sampler = asyncio.create_task(sample_rss(pid, until, rss))
    t0 = time.monotonic()
    start.set()
    await asyncio.gather(*clients)
    elapsed = time.monotonic() - t0
    await sampler
    total = sum(tally.statuses.values())
    print(f"\n== flood: {connections} connections, {seconds:g} s, batches of {batch} ==")
    print(f"requests answered: {total} ({total / elapsed:.0f}/s)")
    for status, count in sorted(tally.statuses.items()):
        lat = tally.latency[status]
        print(
            f"  {status}: {count:6d} ({100 * count / max(total, 1):5.1f} %)  "
            f"p50 {pct(lat, 50):7.1f} ms  p99 {pct(lat, 99):7.1f} ms  "
            f"mean {statistics.fmean(lat) * 1000:7.1f} ms"
        )
    if tally.errors:
        print(f"  client-side errors: {dict(tally.errors)}")
    print(f"  503 without Retry-After: {tally.retry_after_missing}")
    print(
        f"server RSS: idle {idle / 1024:.1f} MiB, peak sampled {max(rss) / 1024:.1f} MiB, "
        f"peak (VmHWM) {kib(pid, 'VmHWM') / 1024:.1f} MiB, after {kib(pid, 'VmRSS') / 1024:.1f} MiB"
    )


async def slow_header(port: int, outcome: Counter[str], until: float) -> None:
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
    except OSError:
        outcome["connect failed"] += 1
        return
    t0 = time.monotonic()
    head = b"GET /communication-preferences/v4/definitions HTTP/1.1\r\nHost: x\r\n"
    try:
        for b in head:
            if time.monotonic() > until:
                break
            writer.write(bytes([b]))
            await writer.drain()
            try:
                data = await asyncio.wait_for(reader.read(200), 1.0)
            except TimeoutError:
                continue
            status = data.split(b" ")[1].decode() if data else "closed"
            outcome[f"ended {status} after {round(time.monotonic() - t0)} s"] += 1
            return
        outcome["still open"] += 1
    except OSError:
        outcome["reset"] += 1
    finally:
        writer.close()


async def slow_body(port: int, token: str, outcome: Counter[str], until: float) -> None:
    try:
        reader, writer = await asyncio.open_connection(HOST, port)
    except OSError:
        outcome["connect failed"] += 1
        return
    t0 = time.monotonic()
    writer.write(
        request(
            "POST", "/communication-preferences/v4/statuses/batch/read?channel=EMAIL", token
        ).replace(b"Content-Length: 0", b"Content-Length: 1000")
    )
    try:
        while time.monotonic() < until:
            writer.write(b" ")
            await writer.drain()
            try:
                data = await asyncio.wait_for(reader.read(200), 1.0)
            except TimeoutError:
                continue
            status = data.split(b" ")[1].decode() if data else "closed"
            outcome[f"ended {status} after {round(time.monotonic() - t0)} s"] += 1
            return
        outcome["still open"] += 1
    except OSError:
        outcome["reset"] += 1
    finally:
        writer.close()


async def slow_clients(server: Server, token: str) -> None:
    until = time.monotonic() + 25
    headers: Counter[str] = Counter()
    bodies: Counter[str] = Counter()
    tally = Tally()
    start = asyncio.Event()
    start.set()
    slow = [asyncio.create_task(slow_header(server.port, headers, until)) for _ in range(300)]
    slow += [asyncio.create_task(slow_body(server.port, token, bodies, until)) for _ in range(200)]
    await asyncio.sleep(1)
    normal_until = time.monotonic() + 12
    normal = [
        asyncio.create_task(flood_client(i, server.port, token, normal_until, 10, tally, start))
        for i in range(20)
    ]
    await asyncio.gather(*normal)
    await asyncio.gather(*slow)
    print("\n== slow clients: 300 trickled heads, 200 trickled bodies, 20 ordinary clients ==")
    ok = tally.statuses[200]
    lat = tally.latency.get(200, [])
    print(
        f"ordinary requests: {dict(tally.statuses)}; p50 {pct(lat, 50):.1f} ms, "
        f"p99 {pct(lat, 99):.1f} ms ({ok} answered 200)"
    )
    print(f"slow heads: {dict(headers)}")
    print(f"slow bodies: {dict(bodies)}")


async def main(args: argparse.Namespace) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, 8192))
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))  # inherited by the server
    with tempfile.TemporaryDirectory(prefix="commpref-overload-") as tmp:
        server = Server(Path(tmp))
        cli(server.db, "migrate")
        portal = cli(server.db, "portal", "create", "--name", "Overload")
        token = cli(server.db, "token", "create", "--portal", portal, "--all-scopes")
        server.start()
        try:
            await flood(server, token, args.connections, args.seconds, args.batch)
            if not args.skip_slow:
                await slow_clients(server, token)
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=100, help="addresses per batch request")
    parser.add_argument("--skip-slow", action="store_true", help="only the flood")
    asyncio.run(main(parser.parse_args()))
