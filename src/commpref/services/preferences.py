"""Preference-page use cases: what a link shows, and the changes a recipient makes.

Every change goes through `services.statuses` (the same rules, transactions and ledger as
the API) with the page's actor and a self-service `source`:

| change                                   | source                        |
|------------------------------------------|-------------------------------|
| a type or everything → UNSUBSCRIBED      | `Self Service Unsubscription` |
| a type unsubscribed or opted out → back  | `Self Service Resubscription` |
| a type nobody chose (GDPR portal) → in   | `Self Service Subscription`   |

Actors: `preference_page` for forms, `one_click` for RFC 8058 POSTs. In a GDPR portal an
opt-in made on the page records the legal basis `CONSENT_WITH_NOTICE` ("Preference page").
"""

from __future__ import annotations

from dataclasses import dataclass

from commpref.domain import rules
from commpref.domain.model import (
    Actor,
    Definition,
    LegalBasis,
    PortalContext,
    Status,
    Subscriber,
    V3Status,
)
from commpref.errors import NotFound
from commpref.services import links, statuses
from commpref.services.context import Call
from commpref.services.statuses import StatusWrite
from commpref.storage.store import Store

PAGE = Actor("preference_page")
ONE_CLICK = Actor("one_click")
UNSUBSCRIPTION = "Self Service Unsubscription"
RESUBSCRIPTION = "Self Service Resubscription"
SUBSCRIPTION = "Self Service Subscription"
PAGE_LEGAL_BASIS = LegalBasis.CONSENT_WITH_NOTICE.value
PAGE_EXPLANATION = "Preference page"


@dataclass(frozen=True, slots=True)
class Link:
    """A verified link: its token, claims and portal."""

    token: str
    claims: links.LinkClaims
    ctx: PortalContext

    @property
    def email(self) -> str:
        return self.claims.email

    @property
    def unit(self) -> int:
        """The business unit the page acts on; 0 (portal-wide) once brands are turned off."""
        return self.claims.business_unit_id if self.ctx.portal.brands else 0

    @property
    def languages(self) -> tuple[str, ...]:
        """Language preference: the token's, then the portal's default (then the original)."""
        return (self.claims.language, self.ctx.portal.default_language)


@dataclass(frozen=True, slots=True)
class Text:
    """A string and the language it is written in."""

    value: str
    lang: str


@dataclass(frozen=True, slots=True)
class Choice:
    """One subscription type as the page shows it."""

    id: int
    name: Text
    description: Text
    receiving: bool  # may be emailed (§5.1): the box is ticked


@dataclass(frozen=True, slots=True)
class Preferences:
    opted_out: bool  # the brand's (or portal's) opt-out-of-all is in force
    choices: list[Choice]


async def open_link(
    *, store: Store, keys: tuple[bytes, ...], token: str, now: int, max_age_days: int
) -> Link:
    """Verify a link token and load its portal; InvalidLink, ExpiredLink or NotFound.
    `keys` are the server's; a token sealed by a portal's key is opened by that key alone,
    while it is not retired, and only for that portal."""
    key_id = links.sealing_key_id(token)
    own = None if key_id is None else await store.link_key(key_id)
    if key_id is not None:
        if own is None or own.retired_at is not None:
            raise links.InvalidLink()
        keys = (own.secret.encode(),)
    claims = links.check(token, keys, now=now, max_age_days=max_age_days)
    if own is not None and own.portal_id != claims.portal_id:
        raise links.InvalidLink()
    try:
        ctx = await store.portal_context(claims.portal_id)
    except NotFound:
        raise NotFound("This portal does not exist") from None
    if own is None and not ctx.portal.server_link_keys:
        raise links.InvalidLink()
    link = Link(token, claims, ctx)
    if link.unit not in ctx.business_units:
        raise NotFound("This business unit does not exist")
    return link


def page_definitions(link: Link) -> list[Definition]:
    """The active types of the link's brand (every brand's in a portal without brands, as
    unsubscribe-all covers them all there)."""
    ctx = link.ctx
    return [
        d
        for d in ctx.definitions
        if d.is_active and (not ctx.portal.brands or d.business_unit_id == link.unit)
    ]


def find_definition(link: Link, subscription_id: int) -> Definition:
    """A type the link may unsubscribe from (archived included); NotFound otherwise."""
    d = link.ctx.definition(subscription_id)
    if d is None or (link.ctx.portal.brands and d.business_unit_id != link.unit):
        raise NotFound(f"Subscription definition {subscription_id} is not on this page")
    return d


def _localised(definition: Definition, languages: tuple[str, ...]) -> tuple[Text, Text]:
    by_code = {t.language_code.lower(): t for t in definition.translations}
    for language in languages:
        code = language.lower()
        t = by_code.get(code) or by_code.get(code.split("-")[0])
        if t is not None:
            return Text(t.name, t.language_code), Text(t.description, t.language_code)
    own = languages[-1]  # a definition's own wording is in the portal's default language
    return Text(definition.name, own), Text(definition.description, own)


def _receiving(ctx: PortalContext, sub: Subscriber, definition: Definition) -> bool:
    # The sending rule (§5.1) is exactly the v3 mapping: opt-outs first, then the type's
    # status, NOT_SPECIFIED counting as "yes" only outside GDPR portals.
    return rules.v3_row(ctx, sub, definition).status is V3Status.SUBSCRIBED


def _choice(link: Link, sub: Subscriber, definition: Definition) -> Choice:
    name, description = _localised(definition, link.languages)
    return Choice(definition.id, name, description, _receiving(link.ctx, sub, definition))


async def _subscriber(store: Store, link: Link) -> Subscriber:
    stored = await store.read_subscribers(link.ctx.portal.id, [link.email])
    return stored.get(link.email) or Subscriber(link.email)


def _opted_out(link: Link, sub: Subscriber) -> bool:
    wide = sub.wide.get(link.unit)
    return wide is not None and wide.status is Status.UNSUBSCRIBED


async def preferences(*, store: Store, link: Link) -> Preferences:
    """What the manage page shows: every active type of the brand and whether it is sent."""
    sub = await _subscriber(store, link)
    return Preferences(
        _opted_out(link, sub),
        [_choice(link, sub, d) for d in page_definitions(link)],
    )


async def choice(*, store: Store, link: Link, definition: Definition) -> Choice:
    return _choice(link, await _subscriber(store, link), definition)


def _call(link: Link, actor: Actor, source: str, correlation_id: str, now: int) -> Call:
    return Call(link.ctx, actor, source, correlation_id, now)


async def save(
    *,
    store: Store,
    link: Link,
    wanted: set[int],
    unsubscribe_all: bool,
    correlation_id: str,
    now: int,
) -> Preferences:
    """Apply the manage form: ticked types are sent, unticked ones are not; only what
    differs from the current state is written. `unsubscribe_all` overrides the boxes.

    Unsubscriptions are written first, then opt-ins (one transaction per `source`), so a
    failure half-way never leaves the address receiving more than it asked for.
    """
    if unsubscribe_all:
        await unsubscribe_everything(
            store=store, link=link, actor=PAGE, correlation_id=correlation_id, now=now
        )
        return await preferences(store=store, link=link)
    sub = await _subscriber(store, link)
    ctx = link.ctx
    off: list[StatusWrite] = []
    on: dict[str, list[StatusWrite]] = {RESUBSCRIPTION: [], SUBSCRIPTION: []}
    gdpr = ctx.portal.gdpr
    for d in page_definitions(link):
        receiving = _receiving(ctx, sub, d)
        if receiving and d.id not in wanted:
            off.append(StatusWrite(link.email, d.id, Status.UNSUBSCRIBED))
        elif not receiving and d.id in wanted:
            returning = rules.current(sub, d) is Status.UNSUBSCRIBED or rules.is_opted_out(
                ctx.portal, sub, d
            )
            on[RESUBSCRIPTION if returning else SUBSCRIPTION].append(
                StatusWrite(
                    link.email,
                    d.id,
                    Status.SUBSCRIBED,
                    PAGE_LEGAL_BASIS if gdpr else None,
                    PAGE_EXPLANATION if gdpr else None,
                )
            )
    for source, writes in [(UNSUBSCRIPTION, off), *on.items()]:
        if writes:
            call = _call(link, PAGE, source, correlation_id, now)
            await statuses.write_statuses(store=store, call=call, writes=writes)
    return await preferences(store=store, link=link)


async def unsubscribe_everything(
    *, store: Store, link: Link, actor: Actor, correlation_id: str, now: int
) -> None:
    """Opt the address out of all email of the link's brand (idempotent)."""
    call = _call(link, actor, UNSUBSCRIPTION, correlation_id, now)
    await statuses.unsubscribe_all(
        store=store, call=call, inputs=[link.email], business_unit_id=link.unit
    )


async def unsubscribe_one(
    *, store: Store, link: Link, definition: Definition, actor: Actor, correlation_id: str, now: int
) -> Choice:
    """Unsubscribe the address from one type (idempotent)."""
    call = _call(link, actor, UNSUBSCRIPTION, correlation_id, now)
    write = StatusWrite(link.email, definition.id, Status.UNSUBSCRIBED)
    await statuses.write_statuses(store=store, call=call, writes=[write])
    return await choice(store=store, link=link, definition=definition)
