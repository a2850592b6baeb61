"""The results as a terminal table, as Markdown in docs/benchmarks.md, and as a PNG plot."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.results import Check, Result

HEADERS = (
    "backend", "scenario", "conns", "req/s", "emails/s", "p50 ms", "p99 ms",
    "CPU ms/req", "DB CPU ms/req", "req/s per core", "peak RSS MiB", "wrk CPU %",
    "wrk ceiling req/s", "errors", "others' CPU %",
)  # fmt: skip
LATEST_START = "<!-- bench:latest:start -->"
LATEST_END = "<!-- bench:latest:end -->"
BATCH_SCENARIOS = ("B1", "S1", "S1v", "S2", "S5-S1")
SINGLE_SCENARIOS = ("B2", "S3", "S4", "S5-S3")
# The throughput targets (docs/benchmarks.md), drawn on the plot over each backend's bar.
TARGETS = {"S1": 20_000, "S1v": 10_000, "S2": 30_000, "S3": 3_000, "S4": 1_500}
BACKEND_TARGETS = {("postgresql", "S1"): 10_000, ("postgresql", "S1v"): None}


def _num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:,.{digits}f}"


def rows(results: Sequence[Result]) -> list[list[str]]:
    out = []
    for r in results:
        busy = r.loadgen_busy
        out.append(
            [
                r.backend,
                r.scenario,
                str(r.connections),
                _num(r.rps),
                _num(r.eps) if r.emails_per_request > 1 else "—",
                _num(r.p50_ms, 2),
                _num(r.p99_ms, 2),
                _num(r.cpu_ms_per_request, 3),
                _num(r.db_cpu_ms_per_request, 3),
                _num(r.per_core_rps),
                _num(r.peak_rss_mib),
                "—" if busy is None else f"{100 * busy:.0f}",
                _num(r.loadgen_ceiling_rps),
                str(r.errors),
                f"{100 * r.others_share:.0f}",
            ]
        )
    return out


def text_table(results: Sequence[Result]) -> str:
    table = [list(HEADERS), *rows(results)]
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADERS))]
    lines = []
    for n, row in enumerate(table):
        cells = [
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells))
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def markdown_table(results: Sequence[Result]) -> str:
    lines = [
        "| " + " | ".join(HEADERS) + " |",
        "|" + "|".join("---" if i < 2 else "---:" for i in range(len(HEADERS))) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows(results)]
    return "\n".join(lines)


def markdown_block(
    results: Sequence[Result], checks: Sequence[Check], heading: str, notes: Sequence[str]
) -> str:
    checks_text = "\n".join(c.describe() for c in checks)
    return (
        f"### {heading}\n\n"
        + "".join(f"- {n}\n" for n in notes)
        + f"\n{markdown_table(results)}\n\n```text\n{checks_text}\n```\n"
    )


def update_docs(doc: Path, block: str, plot_name: str) -> None:
    """Replace the "latest results" part (history stays in git), or add it at the end of a
    document that has none."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    latest = f"{LATEST_START}\n{block}\n![Throughput per scenario]({plot_name})\n{LATEST_END}"
    pattern = re.compile(re.escape(LATEST_START) + ".*?" + re.escape(LATEST_END), re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _: latest, text)
    else:
        text = text.rstrip("\n") + "\n\n" + latest
    doc.write_text(text.rstrip("\n") + "\n")


def plot(results: Sequence[Result], path: Path, title: str) -> None:
    """Throughput per scenario: emails/s of the batch scenarios, requests/s of the others."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    backends = list(dict.fromkeys(r.backend for r in results))
    by = {(r.backend, r.scenario): r for r in results}
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), gridspec_kw={"width_ratios": [5, 4]})
    panels: tuple[tuple[Any, tuple[str, ...], str, Callable[[Result], float]], ...] = (
        (axes[0], BATCH_SCENARIOS, "emails/s", lambda r: r.eps),
        (axes[1], SINGLE_SCENARIOS, "requests/s", lambda r: r.rps),
    )
    colours = {"sqlite": "#3b75af", "postgresql": "#e1812c"}
    for ax, scenarios, unit, value in panels:
        present = [s for s in scenarios if any((b, s) in by for b in backends)]
        width = 0.8 / max(1, len(backends))
        for k, backend in enumerate(backends):
            xs, ys = [], []
            for i, s in enumerate(present):
                if (backend, s) in by:
                    xs.append(i + (k - (len(backends) - 1) / 2) * width)
                    ys.append(value(by[(backend, s)]))
            bars = ax.bar(xs, ys, width, label=backend, color=colours.get(backend))
            ax.bar_label(bars, labels=[f"{y:,.0f}" for y in ys], fontsize=7, padding=2)
            for x, s in zip(xs, [s for s in present if (backend, s) in by], strict=True):
                target = BACKEND_TARGETS.get((backend, s), TARGETS.get(s))
                if target is not None:
                    ax.hlines(
                        target, x - width / 2, x + width / 2, colors="#c0392b", linestyles="--"
                    )
        ax.set_xticks(range(len(present)), present)
        ax.set_ylabel(unit)
        ax.set_title(f"{unit} (dashed: target)", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
