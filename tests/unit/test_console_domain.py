"""The console's pure parts: roles, session lifetimes, the chart's geometry, form tokens."""

from __future__ import annotations

import pytest

from commpref.domain.console import ConsoleSession, ConsoleUser, Role
from commpref.domain.tallies import DAY_MS
from commpref.services import console
from commpref.web.console import chart


def user(role: Role, disabled_at: int | None = None) -> ConsoleUser:
    return ConsoleUser(1, "u@example.com", role, None, "h", 0, 0, disabled_at)


def test_each_role_may_what_the_ones_below_it_may() -> None:
    assert user(Role.OWNER).may(Role.VIEWER) and user(Role.OWNER).may(Role.OWNER)
    assert user(Role.EDITOR).may(Role.EDITOR) and not user(Role.EDITOR).may(Role.ADMIN)
    assert not user(Role.VIEWER).may(Role.EDITOR)
    assert not user(Role.OWNER, disabled_at=5).may(Role.VIEWER)
    assert Role.parse(" Editor ") is Role.EDITOR
    with pytest.raises(ValueError, match="one of viewer, editor, admin, owner"):
        Role.parse("root")


def test_a_session_lives_until_idle_too_long_too_old_or_ended() -> None:
    s = ConsoleSession("h", 1, "c", created_at=0, seen_at=1_000)
    assert s.live(now=1_500, idle_ms=500, max_ms=10_000)
    assert not s.live(now=1_501, idle_ms=500, max_ms=10_000)
    assert not s.live(now=1_200, idle_ms=500, max_ms=1_100)
    ended = ConsoleSession("h", 1, "c", 0, 1_000, ended_at=1_100)
    assert not ended.live(now=1_200, idle_ms=500, max_ms=10_000)


def test_form_tokens_belong_to_their_session() -> None:
    a = ConsoleSession("a", 1, "secret-a", 0, 0)
    b = ConsoleSession("b", 1, "secret-b", 0, 0)
    token = console.form_token(a)
    assert console.form_token_ok(a, token)
    assert not console.form_token_ok(b, token)
    assert not console.form_token_ok(a, None)
    assert not console.form_token_ok(a, token[:-1] + ("0" if token[-1] != "0" else "1"))


def test_passwords_need_twelve_characters_and_hash_with_argon2id() -> None:
    with pytest.raises(Exception, match="at least 12"):
        console.hash_password("short")
    hashed = console.hash_password("long enough password")
    assert hashed.startswith("$argon2id$v=19$")
    assert hashed != console.hash_password("long enough password")  # salted


def test_the_chart_stacks_ins_up_and_outs_down_on_a_nice_scale() -> None:
    today = 20_000
    days = {
        today: {"in:api": 3, "in:page": 2, "out:one_click": 4},
        today - 89: {"out:erasure": 1},
        today - 90: {"in:api": 1000},  # outside the 90 days: ignored
    }
    built = chart.build(days, today=today)
    assert len(built.days) == 90
    assert built.days[0][0] == chart.day_label(today - 89)
    assert built.days[-1][0] == chart.day_label(today)
    assert built.scale == 5  # the busiest day has 5 opt-ins
    assert (built.total_in, built.total_out) == (5, 5)
    last = [b for b in built.bars if b.day == chart.day_label(today)]
    ups = [b for b in last if b.opt_in]
    downs = [b for b in last if not b.opt_in]
    assert [(b.value, b.source) for b in ups] == [(3, "api"), (2, "page")]
    assert [(b.value, b.source) for b in downs] == [(4, "one_click")]
    assert all(b.y + b.height <= built.middle + 0.01 for b in ups)
    assert all(b.y >= built.middle - 0.01 for b in downs)
    assert sum(b.height for b in ups) == pytest.approx(chart.HALF)  # 5 of 5: a full half
    assert {b.colour for b in ups} == {chart.COLOURS["api"], chart.COLOURS["page"]}
    assert chart.day_label(0) == "1970-01-01" and DAY_MS == 86_400_000


@pytest.mark.parametrize(
    ("peak", "scale"), [(1, 1), (2, 2), (3, 5), (7, 10), (11, 20), (501, 1000)]
)
def test_the_scale_is_one_two_or_five_times_a_power_of_ten(peak: int, scale: int) -> None:
    assert chart._nice(peak) == scale
