"""Summaries of py-spy's raw (collapsed-stack) profiles: where the samples went.

    python -m bench.profile bench/results/profile-sqlite-S1.txt

"Self" counts samples whose innermost frame is the function; "total" counts samples with
the function anywhere on the stack. Percentages are of all samples of active threads.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]*)(?::(?P<line>\d+))?\)$")
_TRIM = re.compile(r"^.*?/(?:site-packages|src|lib/python3\.\d+)/")


def _frame(raw: str) -> tuple[str, str, str]:
    """(function, line, file) labels of one raw frame such as `mutate (/x/src/a/b.py:12)`."""
    m = _FRAME.match(raw.strip())
    if m is None:
        return raw.strip(), raw.strip(), raw.strip()
    path = _TRIM.sub("", m["file"])
    return f"{m['func']} ({path})", f"{m['func']} ({path}:{m['line']})", path


def load(path: Path) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text().splitlines():
        frames, _, count = line.rpartition(" ")
        if frames and count.isdigit():
            stacks.append((frames.split(";"), int(count)))
    return stacks


def summary(path: Path, top: int = 25) -> str:
    stacks = load(path)
    total = sum(c for _, c in stacks)
    if not total:
        return f"{path}: no samples"
    own: Counter[str] = Counter()
    lines_: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    modules: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    for frames, count in stacks:
        labels = []
        for raw in frames:
            if raw.startswith(("thread (", "process ")):
                if raw.startswith("thread ("):
                    threads[raw] += count
                continue
            labels.append(_frame(raw))
        if not labels:
            continue
        func, line, module = labels[-1]
        own[func] += count
        lines_[line] += count
        modules[module] += count
        for label in {f for f, _, _ in labels}:
            inclusive[label] += count

    def table(title: str, counter: Counter[str]) -> list[str]:
        lines = [f"  {title}"]
        for name, count in counter.most_common(top):
            lines.append(f"    {100 * count / total:5.1f}%  {name}")
        return lines

    lines = [f"{path.name}: {total} samples"]
    lines += table("threads", threads) if threads else []
    lines += table("self time by function", own)
    lines += table("self time by line (C calls count for the line that makes them)", lines_)
    lines += table("self time by file", modules)
    lines += table("total time (function on the stack)", inclusive)
    return "\n".join(lines)


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        print(summary(Path(arg), top=40))
