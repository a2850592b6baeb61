"""Processes: CPU time and peak memory from /proc, and the server under test.

CPU is utime + stime of every process of the tree (a process's figures include all its
threads); peak RSS is VmHWM, reset per scenario through /proc/PID/clear_refs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
COMMPREF = str(Path(sys.executable).with_name("commpref"))


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # fields from the 3rd on (comm may hold spaces)


def tree(root: int) -> list[int]:
    """`root` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """utime + stime of each of these processes (all its threads), in seconds."""
    out = {}
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            out[pid] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return out


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two snapshots; processes born in between count whole."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def machine_busy_seconds() -> float:
    """CPU time all cores spent busy since boot (user, nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def peak_rss_mib(pids: list[int]) -> float:
    """The largest VmHWM among these processes, in MiB."""
    return max((_status_kib(pid, "VmHWM") for pid in pids), default=0) / 1024


def reset_peak_rss(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")


def pin(pid: int, cores: str) -> None:
    """Pin every thread of a running process (taskset -a -p)."""
    subprocess.run(["taskset", "-a", "-p", "-c", cores, str(pid)], check=True, capture_output=True)


@dataclass
class Server:
    """`commpref serve` pinned to `cores`, in its own process group, killed on exit."""

    database_url: str
    port: int
    cores: str
    workers: int = 1
    log_path: Path = Path(os.devnull)
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        env = {
            **os.environ,
            "COMMPREF_ACCESS_LOG": "false",
            "COMMPREF_LOG_LEVEL": "warning",
            **self.env,
        }
        command = [
            "taskset", "-c", self.cores, COMMPREF, "serve",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--database-url", self.database_url, "--workers", str(self.workers),
        ]  # fmt: skip
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {self.proc.returncode}; see {self.log_path}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=1) as r:
                    if r.status == 200 and len(self.pids()) >= self.workers + (self.workers > 1):
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready after 60 s; see {self.log_path}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        return [] if self.proc is None else tree(self.proc.pid)

    def workers_pids(self) -> list[int]:
        """The processes that serve requests: with --workers N, uvicorn's spawned children
        (not the supervisor, nor multiprocessing's resource tracker)."""
        pids = self.pids()
        if self.workers == 1:
            return pids
        return [p for p in pids[1:] if "resource_tracker" not in _cmdline(p)]

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL after 30 s: nothing is left behind."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
