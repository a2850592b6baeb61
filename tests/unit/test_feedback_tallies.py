"""Mail providers' feedback in the daily totals (`domain.tallies`): complaints, hard and
soft bounces counted per day, in both the plain and the keyed forms of a delta."""

from __future__ import annotations

from commpref.domain import tallies
from commpref.domain.model import Change, ChangeKind, Event, Status
from commpref.domain.tallies import DAY_MS, Delta

DAY = 19_000
AT = DAY * DAY_MS + 5
NS = Status.NOT_SPECIFIED
OUT = (Change(ChangeKind.WIDE, 0, NS, Status.UNSUBSCRIBED),)
BOUNCE = (Change(ChangeKind.BOUNCE, 0, NS, NS),)
SOFT = (Change(ChangeKind.SOFT_BOUNCE, 0, NS, NS),)


def entry(changes: tuple[Change, ...], actor: str = "feedback:ses") -> Event:
    return Event("a@example.com", changes, "x", actor, "cid", AT)


def test_feedback_entries_have_daily_totals_of_their_own() -> None:
    events = [entry(OUT), entry(BOUNCE), entry(BOUNCE), entry(SOFT), entry(OUT, "token:1")]
    assert tallies.daily(events) == {
        (DAY, "feedback:complaint"): 1,
        (DAY, "feedback:hard_bounce"): 2,
        (DAY, "feedback:soft_bounce"): 1,
        (DAY, "out:feedback"): 1,  # the complaint is an opt-out too, of its own source
        (DAY, "out:api"): 1,
    }
    assert all(tallies.is_daily(name) for _, name in tallies.daily(events))
    read = tallies.Tallies.of([(d, n, v) for (d, n), v in tallies.daily(events).items()])
    assert read.days[DAY]["feedback:hard_bounce"] == 2 and read.standing == {}


def test_the_keyed_form_counts_them_alike() -> None:
    keys = {b"out": OUT, b"hard": BOUNCE, b"soft": SOFT}
    noted = Delta()
    noted.appended(
        [AT, AT, AT], ["feedback:ses"] * 3, [b"out", b"hard", b"soft"],
        ["a@example.com"] * 3, stored={"a@example.com"},
    )  # fmt: skip
    merged = Delta.merged([noted.groups()], keys.__getitem__, lambda key: NotImplemented)
    rows = {(day, name): n for day, name, n in merged.rows() if day}
    assert rows == {
        (DAY, "feedback:complaint"): 1,
        (DAY, "feedback:hard_bounce"): 1,
        (DAY, "feedback:soft_bounce"): 1,
        (DAY, "out:feedback"): 1,
    }
