"""The overview's chart of opt-ins and opt-outs per day, split by source, as geometry for
an inline SVG (drawn by the template: nothing is loaded from anywhere, no script runs).

Opt-ins stack upwards from the middle line, opt-outs downwards, one column per day, one
colour per source (`SOURCES`, the same order in the legend and in every column).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from commpref.domain.tallies import DAY_MS, SOURCES

WIDTH = 720
HALF = 90  # height of each half, in SVG units
TOP = 14  # room for the scale's label
COLOURS = {  # distinct in both colour schemes, each at least 3:1 against the card
    "api": "#2563eb",
    "page": "#0f766e",
    "one_click": "#7c3aed",
    "signup": "#0891b2",
    "import": "#b45309",
    "console": "#be185d",
    "feedback": "#dc2626",
    "erasure": "#475569",
    "other": "#65a30d",
}


@dataclass(frozen=True, slots=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    # What a pointer over it (and a screen reader) is told, in words the template
    # translates: the day, how many, which way, and the source (`SOURCES`).
    day: str
    value: int
    opt_in: bool
    source: str


@dataclass(frozen=True, slots=True)
class Chart:
    bars: tuple[Bar, ...]
    days: tuple[tuple[str, Mapping[str, int], Mapping[str, int]], ...]  # date, ins, outs
    scale: int  # the value of a full half
    width: int = WIDTH
    height: int = TOP + 2 * HALF + 16  # room below for the first and the last day
    middle: float = TOP + HALF

    @property
    def total_in(self) -> int:
        return sum(sum(ins.values()) for _, ins, _ in self.days)

    @property
    def total_out(self) -> int:
        return sum(sum(outs.values()) for _, _, outs in self.days)


def day_label(day: int) -> str:
    return datetime.fromtimestamp(day * DAY_MS / 1000, UTC).strftime("%Y-%m-%d")


def build(days: Mapping[int, Mapping[str, int]], *, today: int, span: int = 90) -> Chart:
    """The chart of the `span` days up to `today` (days since the epoch, UTC)."""
    rows = []
    for day in range(today - span + 1, today + 1):
        totals = days.get(day, {})
        ins = {s: totals.get(f"in:{s}", 0) for s in SOURCES}
        outs = {s: totals.get(f"out:{s}", 0) for s in SOURCES}
        rows.append((day_label(day), ins, outs))
    peak = max([1, *(max(sum(i.values()), sum(o.values())) for _, i, o in rows)])
    scale = _nice(peak)
    step = WIDTH / span
    bars = []
    middle = TOP + HALF
    for n, (label, ins, outs) in enumerate(rows):
        x = n * step + step * 0.1
        up = down = 0.0
        for source in SOURCES:
            for value, sign in ((ins[source], -1), (outs[source], 1)):
                if not value:
                    continue
                h = HALF * value / scale
                if sign < 0:
                    up += h
                    y = middle - up
                else:
                    y = middle + down
                    down += h
                bars.append(
                    Bar(round(x, 2), round(y, 2), round(step * 0.8, 2), round(h, 2),
                        COLOURS[source], label, value, sign < 0, source)
                )  # fmt: skip
    return Chart(tuple(bars), tuple(rows), scale)


def _nice(peak: int) -> int:
    """The smallest of 1, 2, 5 × 10^n at or above `peak`."""
    magnitude = 1
    while True:
        for factor in (1, 2, 5):
            if factor * magnitude >= peak:
                return factor * magnitude
        magnitude *= 10
