"""`commpref serve --workers N`: N single-process servers, each with its own listening socket.

uvicorn's own multi-worker mode shares one listening socket, and a worker that wakes first
accepts a whole burst of connections, so a handful of keep-alive clients can all land on one
worker while the other idles. Each worker here binds its own socket with SO_REUSEPORT, so
the kernel spreads connections across the workers. The supervisor forwards SIGTERM/SIGINT
(each worker then finishes its in-flight requests), restarts a worker that dies, and gives
up when one cannot start at all.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from types import FrameType

STARTUP_FAILURE = 3  # uvicorn's exit code when the app cannot start


def reuse_port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def supervise(workers: int, argv: Sequence[str]) -> int:
    """Run `workers` copies of `argv` until SIGTERM/SIGINT; the exit code of the whole."""
    procs = [subprocess.Popen(argv) for _ in range(workers)]
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while True:
        if stopping:
            codes = [p.wait() for p in procs]
            return 0 if all(c in (0, -signal.SIGTERM) for c in codes) else 1
        for i, p in enumerate(procs):
            code = p.poll()
            if code is None or stopping:
                continue
            if code == STARTUP_FAILURE:
                print("Error: a worker could not start; stopping", file=sys.stderr)
                stop(signal.SIGTERM, None)
                break
            print(f"worker {p.pid} exited with {code}; starting another", file=sys.stderr)
            procs[i] = subprocess.Popen(argv)
        time.sleep(0.2)
