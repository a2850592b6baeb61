"""The console's pages: signing in and out, the overview, contacts.

Each is a `visit.view`: its role is checked before it runs, a POST's form token too. Every
change goes through the same services as the API and the CLI, with the console user as
the ledger's actor (`Visit.call`).
"""

from __future__ import annotations

import secrets
from urllib.parse import quote

from commpref.domain import emails
from commpref.domain.console import Role
from commpref.domain.model import LegalBasis, Status
from commpref.domain.tallies import COMPLAINTS, DAY_MS, HARD_BOUNCES, SOFT_BOUNCES
from commpref.errors import ValidationError
from commpref.http.operation import Reply
from commpref.services import console, erasure, feedback, history, links, statuses
from commpref.services.statuses import StatusWrite
from commpref.web.console import chart
from commpref.web.console.visit import PREFIX, SIGNIN_COOKIE, Visit, cookies, view

LATEST = 15  # changes the overview lists
FOUND = 50  # addresses a search lists
TIMELINE = 2000  # consent events a contact's page shows at most
STATUSES = (Status.SUBSCRIBED, Status.UNSUBSCRIBED, Status.NOT_SPECIFIED)


# --- signing in and out ----------------------------------------------------------------------


def _next(raw: str) -> str:
    """Where to go after signing in: a console path only (never another site)."""
    if raw.startswith(PREFIX + "/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return PREFIX + "/"


@view(None)
async def sign_in_page(v: Visit) -> Reply:
    if await v.open_session():
        return v.redirect(_next(v.query("next")))
    return _sign_in_form(v)


def _sign_in_form(v: Visit, status: int = 200, problem: str = "", email: str = "") -> Reply:
    token = secrets.token_urlsafe(24)
    v.set_cookie(SIGNIN_COOKIE, token, max_age=3600)
    return v.render(
        "signin.html", status, signin_token=token, next=_next(v.query("next")),
        problem=problem, email=email,
    )  # fmt: skip


@view(None, form=True)
async def sign_in(v: Visit) -> Reply:
    # Double submit: the form's token must equal the cookie set with the form. A page of
    # another site can neither read the cookie nor (SameSite=Strict) have it sent.
    from_cookie = cookies(v.page).get(SIGNIN_COOKIE, "")
    given = v.value("signin_token")
    if not from_cookie or not secrets.compare_digest(from_cookie, given):
        return _sign_in_form(v, 403, "expired")
    rt = v.rq.runtime
    email = v.value("email")
    client = v.rq.scope.get("client") or ("", 0)
    # Whatever session the browser had ends: a session id planted before sign-in is
    # never carried over (fixation).
    await console.sign_out(store=rt.store, cookie=v.cookie(), now=v.rq.now)
    try:
        signed = await console.sign_in(
            store=rt.store, settings=rt.settings, email=email,
            password=v.raw("password"),
            client=str(client[0]), now=v.rq.now,
        )  # fmt: skip
    except console.SignInThrottled as exc:
        v.rq.headers.append((b"retry-after", exc.headers["Retry-After"].encode()))
        return _sign_in_form(v, 429, "throttled", email)
    except console.SignInRefused:
        return _sign_in_form(v, 401, "refused", email)
    v.set_cookie(v.cookie_name, signed.cookie)
    v.set_cookie(SIGNIN_COOKIE, "", max_age=0)
    return v.redirect(_next(v.value("next")))


@view(Role.VIEWER, portal=False, form=True)
async def sign_out(v: Visit) -> Reply:
    await console.sign_out(store=v.rq.runtime.store, cookie=v.cookie(), now=v.rq.now)
    v.set_cookie(v.cookie_name, "", max_age=0)
    return v.redirect(f"{PREFIX}/sign-in")


# --- the overview -------------------------------------------------------------------------------


@view(Role.VIEWER)
async def overview(v: Visit) -> Reply:
    store = v.rq.runtime.store
    ctx = v.portal
    today = v.rq.now // DAY_MS
    tallies = await store.tallies(ctx.portal.id, since_day=today - 89)
    types = [(d, {s: tallies.count(d.id, s) for s in STATUSES}) for d in ctx.definitions]
    units = sorted(ctx.business_units)
    ids = await store.latest_entry_ids(ctx.portal.id, limit=LATEST)
    entries = sorted(await store.ledger_entries(ctx.portal.id, ids), key=lambda e: -e.id)
    return v.render(
        "overview.html",
        tallies=tallies,
        types=types,
        units=units,
        chart=chart.build(tallies.days, today=today),
        colours=chart.COLOURS,
        # Over the days read, the chart's 90, like the opt-ins and opt-outs beside them.
        feedback={
            "complaints": tallies.total(COMPLAINTS),
            "hard_bounces": tallies.total(HARD_BOUNCES),
            "soft_bounces": tallies.total(SOFT_BOUNCES),
        },
        entries=entries,
        definitions=ctx.by_id,
    )


# --- contacts -----------------------------------------------------------------------------------


@view(Role.VIEWER)
async def contacts(v: Visit) -> Reply:
    q = v.query("q").strip().lower()[: emails.MAX_EMAIL_LENGTH]
    found: list[str] = []
    if q:
        found = await v.rq.runtime.store.find_addresses(v.portal.portal.id, q, limit=FOUND)
        exact = emails.parse(q)
        if exact is not None and found == [exact]:
            return v.redirect(_contact_url(v, exact))
    return v.render(
        "contacts.html", q=q, found=found, more=len(found) == FOUND, erased=v.query("erased")
    )


def _contact_url(v: Visit, email: str) -> str:
    return v.url(f"/contacts/{quote(email, safe='@')}")


def _address(v: Visit) -> str:
    email = emails.parse(v.rq.param or "")
    if email is None:
        raise ValidationError("Not an email address")
    return email


@view(Role.VIEWER)
async def contact(v: Visit) -> Reply:
    email = _address(v)
    done = v.query("done")
    rt = v.rq.runtime
    call = v.call()
    ctx = v.portal
    rows = (await statuses.read_statuses(
        store=rt.store, call=call, inputs=[email], business_unit_id=None
    )).results[0].rows  # fmt: skip
    wide = (await statuses.read_wide(
        store=rt.store, call=call, inputs=[email], business_unit_id=None
    )).results[0].rows  # fmt: skip
    events: list[history.ConsentEvent] = []
    since = None
    while len(events) < TIMELINE:
        page = await history.subscriber_history(
            store=rt.store, portal_id=ctx.portal.id, email=email, since=since, limit=500
        )
        events += page.events
        since = page.cursor
        if not page.has_more:
            break
    key = rt.link_keys[0]
    base = rt.base_url
    link = links.generate_links(
        call=call, email=email, business_unit_id=0, language=None, subscription_id=None,
        base_url=base, key=key,
    )  # fmt: skip
    headers = links.list_unsubscribe(
        call=call, email=email, business_unit_id=0, language=None, base_url=base, key=key,
        mailto=rt.settings.list_unsubscribe_mailto,
    )  # fmt: skip
    users = {str(u.id): u.email for u in await rt.store.list_users()}
    return v.render(
        "contact.html",
        email=email,
        bounce=await feedback.bounce_of(store=rt.store, portal_id=ctx.portal.id, email=email),
        rows=rows,
        wide=wide,
        events=list(reversed(events))[:TIMELINE],
        capped=len(events) >= TIMELINE,
        link=link,
        headers=headers,
        users=users,
        portal_definitions=ctx.by_id,
        legal_bases=[b.value for b in LegalBasis],
        done=done,
        action_url=_contact_url(v, email),
    )


@view(Role.EDITOR, form=True)
async def change_contact(v: Visit) -> Reply:
    email = _address(v)
    store = v.rq.runtime.store
    call = v.call()
    action = v.value("action")
    if action == "status":
        raw_id, raw_status = v.value("subscription"), v.value("status")
        if not raw_id.isdigit() or raw_status not in Status.__members__:
            raise ValidationError("Choose a subscription type and a status")
        write = StatusWrite(
            email, int(raw_id[:19]), Status(raw_status),
            v.value("legal_basis") or None, v.value("legal_basis_explanation") or None,
        )  # fmt: skip
        await statuses.set_status(store=store, call=call, write=write)
        done = "status"
    elif action == "unsubscribe_all":
        await statuses.unsubscribe_all(
            store=store, call=call, inputs=[email], business_unit_id=None, verbose=False
        )
        done = "unsubscribe_all"
    elif action == "erase":
        if emails.normalise(v.value("confirm")) != email:
            raise ValidationError("Type the address exactly to confirm the erasure")
        await erasure.erase(store=store, call=call, email=email)
        return v.redirect(v.url("/contacts", erased=email))
    else:
        raise ValidationError("Unknown action")
    return v.redirect(v.url(f"/contacts/{quote(email, safe='@')}", done=done))
