"""The console's overview over real HTTP, on both backends: mail feedback's figures and the
chart's sources. Complaints and bounces arrive through the real feedback endpoint
(Postmark's documented samples, with the basic credentials Postmark sends); a sign-up
confirmation and a CLI opt-out are written through the service layer with their actors."""

from __future__ import annotations

import html
import itertools
import re
from datetime import UTC, datetime
from typing import Any

from commpref.domain import signups
from commpref.domain.model import Actor, Status
from commpref.services import statuses
from commpref.services.context import Call
from commpref.services.statuses import StatusWrite
from commpref.storage.store import Store
from tests.support import feedback_samples as samples
from tests.support import feedback_signing as signing
from tests.support.console import Operator, Staff, unique
from tests.support.server import Portal, Server

USER, PASSWORD = "postmark", "a long enough password"
TITLE = re.compile(r"<rect [^>]*><title>\d{4}-\d\d-\d\d: ([^<]*)</title></rect>")
IDS = itertools.count(1)  # Postmark's record ids: each record is applied once


def figure(page: str, label: str) -> int:
    found = re.search(rf"<strong>([\d,]+)</strong> {re.escape(label)}</span>", page)
    assert found is not None, f"no figure {label!r} on the page"
    return int(found.group(1).replace(",", ""))


def bars(page: str) -> list[str]:
    """What each bar of the chart tells a pointer over it, but its day."""
    return sorted(html.unescape(t) for t in TITLE.findall(page))


def overview(op: Operator, portal: Portal, language: str = "en") -> str:
    answer = op.client.get(f"/console/?portal={portal.id}", headers={"Accept-Language": language})
    assert answer.status_code == 200, answer.text
    return answer.text


def postmark(server: Server, portal: Portal, sample: dict[str, Any], email: str) -> None:
    record = {**sample, "ID": next(IDS), "Email": email,
              "BouncedAt": datetime.now(UTC).isoformat()}  # fmt: skip
    with server.client() as http:
        answer = http.post(
            "/commpref/v1/feedback/postmark",
            params={"portal": portal.id},
            json=record,
            headers=signing.postmark_headers(USER, PASSWORD),
        )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"applied": 1, "duplicates": 0, "ignored": 0}


def take_postmark(server: Server, portal: Portal) -> None:
    with server.client(portal.token) as http:
        answer = http.put(
            "/commpref/v1/feedback-providers/postmark",
            json={"username": USER, "password": PASSWORD},
        )
    assert answer.status_code == 200, answer.text


def confirm_sign_up(server: Server, portal: Portal, email: str) -> None:
    """What a confirmed double opt-in writes: a subscription with the sign-up as actor."""

    async def write(store: Store) -> None:
        ctx = await store.portal_context(portal.id)
        call = Call.make(ctx, Actor(signups.ACTOR_KIND, "1"), source=signups.CONFIRMED_SOURCE)
        wanted = StatusWrite(email, portal.definitions[0], Status.SUBSCRIBED)
        await statuses.set_status(store=store, call=call, write=wanted)

    server.admin(write)


def cli_opt_out(server: Server, portal: Portal, email: str) -> None:
    async def write(store: Store) -> None:
        call = Call.make(await store.portal_context(portal.id), Actor("cli"), source="CLI")
        await statuses.unsubscribe_all(store=store, call=call, inputs=[email],
                                       business_unit_id=None)  # fmt: skip

    server.admin(write)


def test_the_overview_counts_mail_feedback_and_charts_each_source_as_its_own(
    server: Server, staff: Staff, portal: Portal
) -> None:
    take_postmark(server, portal)
    viewer = staff("viewer")
    before = overview(viewer, portal)
    assert [figure(before, n) for n in ("spam complaints", "hard bounces", "soft bounces")] == [
        0, 0, 0,
    ]  # fmt: skip
    assert bars(before) == []

    postmark(server, portal, samples.POSTMARK_SPAM_COMPLAINT, unique("complainer"))
    postmark(server, portal, samples.POSTMARK_BOUNCE, unique("gone"))
    soft = samples.postmark_bounce_of_type("SoftBounce", 4096)
    for _ in range(2):
        postmark(server, portal, soft, unique("full-mailbox"))
    confirm_sign_up(server, portal, unique("confirmed"))
    cli_opt_out(server, portal, unique("by-hand"))

    page = overview(viewer, portal)
    assert [figure(page, n) for n in ("spam complaints", "hard bounces", "soft bounces")] == [
        1, 1, 2,
    ]  # fmt: skip
    # The complaint is an opt-out of its own source; a bounce is no opt-out; only the CLI's
    # opt-out is "other".
    expected = ["1 opt-ins (Sign-up confirmation)", "1 opt-outs (Other (CLI))",
                "1 opt-outs (Spam complaint)"]  # fmt: skip
    assert bars(page) == expected
    assert (figure(page, "opt-ins"), figure(page, "opt-outs")) == (1, 2)

    german = overview(viewer, portal, "de")
    assert figure(german, "Spam-Beschwerden") == 1 and figure(german, "weiche Bounces") == 2
    assert "1 Opt-outs (Spam-Beschwerde)" in bars(german)
    assert "1 Opt-ins (Anmeldebestätigung)" in bars(german)

    # A recount from the ledger agrees with the totals kept as the changes committed.
    server.cli("tallies", "recount", "--portal", str(portal.id))
    again = overview(viewer, portal)
    assert bars(again) == expected
    assert figure(again, "spam complaints") == 1 and figure(again, "soft bounces") == 2
