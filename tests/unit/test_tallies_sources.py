"""The chart's sources (`domain.tallies.source_of`): mail feedback and sign-up confirmations
have their own, the CLI stays "other"; totals stored under an older source read as stored;
every source has a colour and a name of its own on the overview."""

from __future__ import annotations

import pytest

from commpref.domain import signups
from commpref.domain.feedback import Provider
from commpref.domain.model import Actor, Change, ChangeKind, Event, Status
from commpref.domain.tallies import (
    COMPLAINTS,
    DAY_MS,
    HARD_BOUNCES,
    SOFT_BOUNCES,
    SOURCES,
    Delta,
    Tallies,
    daily,
    source_of,
)
from commpref.services import feedback
from commpref.web import i18n, render
from commpref.web.console import chart

DAY = 20_000
AT = DAY * DAY_MS + 1_000
NS, SUB, UNSUB = Status.NOT_SPECIFIED, Status.SUBSCRIBED, Status.UNSUBSCRIBED
OUT_OF_ALL = (Change(ChangeKind.WIDE, 0, NS, UNSUB),)
SUBSCRIBED = (Change(ChangeKind.TYPE, 101, NS, SUB),)


def entry(changes: tuple[Change, ...], actor: str, at: int = AT) -> Event:
    return Event("a@example.com", changes, "source", actor, "corr", at)


@pytest.mark.parametrize(
    ("actor", "source"),
    [
        (feedback.actor(Provider.SES).label(), "feedback"),
        (feedback.actor(Provider.POSTMARK).label(), "feedback"),
        (Actor(signups.ACTOR_KIND, "42").label(), "signup"),
        ("signup:7", "signup"),
        ("cli", "other"),
        ("feedbacks:ses", "other"),  # the kind, not a prefix of it, names the source
        ("token:3", "api"),
    ],
)
def test_feedback_and_sign_up_confirmations_have_sources_of_their_own(
    actor: str, source: str
) -> None:
    assert source_of(actor) == source
    assert source in SOURCES


def test_a_complaint_and_a_confirmation_count_under_their_sources() -> None:
    entries = [
        entry(OUT_OF_ALL, "feedback:ses"),
        entry(SUBSCRIBED, "signup:9"),
        entry(OUT_OF_ALL, "cli"),
    ]
    assert daily(entries) == {
        (DAY, "out:feedback"): 1,
        (DAY, COMPLAINTS): 1,
        (DAY, "in:signup"): 1,
        (DAY, "out:other"): 1,  # the CLI's opt-out is no complaint
    }
    keyed = Delta()
    keyed.entry(AT, "feedback:mailgun", b"out", OUT_OF_ALL, 2, moves=False)
    keyed.entry(AT, "signup:9", b"in", SUBSCRIBED, moves=False)
    assert keyed.rows() == [
        (DAY, COMPLAINTS, 2),
        (DAY, "in:signup", 1),
        (DAY, "out:feedback", 2),
    ]


def test_totals_stored_under_other_stay_other_beside_the_new_sources() -> None:
    """Complaints counted before they had a source of their own are `out:other` rows;
    they read, and are charted, where they were stored."""
    stored = [(DAY - 1, "out:other", 3), (DAY, "out:other", 1), (DAY, "out:feedback", 2),
              (DAY, "in:signup", 4), (DAY, COMPLAINTS, 3)]  # fmt: skip
    read = Tallies.of(stored)
    built = chart.build(read.days, today=DAY)
    by_day = {label: (ins, outs) for label, ins, outs in built.days}
    ins, outs = by_day[chart.day_label(DAY)]
    assert (outs["other"], outs["feedback"], ins["signup"]) == (1, 2, 4)
    assert by_day[chart.day_label(DAY - 1)][1]["other"] == 3
    assert (built.total_in, built.total_out) == (4, 6)
    colours = {b.source: b.colour for b in built.bars}
    assert colours["feedback"] == chart.COLOURS["feedback"] != chart.COLOURS["other"]


def test_feedback_totals_add_up_over_the_days_read() -> None:
    stored = [(DAY - 90, COMPLAINTS, 50), (DAY - 89, COMPLAINTS, 1), (DAY, COMPLAINTS, 2),
              (DAY, HARD_BOUNCES, 5), (DAY - 3, SOFT_BOUNCES, 7),
              (0, "subscribers", 9)]  # fmt: skip
    read = Tallies.of(stored, since_day=DAY - 89)
    totals = [read.total(name) for name in (COMPLAINTS, HARD_BOUNCES, SOFT_BOUNCES)]
    assert totals == [3, 5, 7]
    assert read.total("subscribers") == 0  # a standing count is no daily total
    assert Tallies.of(stored).total(COMPLAINTS) == 53


def test_every_source_has_a_colour_and_a_name_of_its_own() -> None:
    assert tuple(chart.COLOURS) == SOURCES  # the legend's order is the stacking order
    assert len(set(chart.COLOURS.values())) == len(SOURCES)
    for language in ("en", "de", "fr"):
        env = render.environment(language)
        macro = env.from_string(
            '{% from "console/macros.html" import source_name %}{{ source_name(s) }}'
        )
        names = {s: macro.render(s=s) for s in SOURCES}
        assert len(set(names.values())) == len(SOURCES), names  # none falls into "other"
        if language == "en":
            assert (names["feedback"], names["signup"], names["other"]) == (
                "Spam complaint",
                "Sign-up confirmation",
                "Other (CLI)",
            )
        else:
            assert names["feedback"] == i18n.catalogs()[language]["Spam complaint"]
