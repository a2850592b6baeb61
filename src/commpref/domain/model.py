"""Values of the domain: portals, definitions, subscribers and their statuses, ledger events.

Times are integers: milliseconds since the Unix epoch, UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

import msgspec


class Status(StrEnum):
    NOT_SPECIFIED = "NOT_SPECIFIED"
    SUBSCRIBED = "SUBSCRIBED"
    UNSUBSCRIBED = "UNSUBSCRIBED"


class Reason(StrEnum):
    """HubSpot's `setStatusSuccessReason`."""

    NO_STATUS_CHANGE = "NO_STATUS_CHANGE"
    REQUESTED_CHANGE_OCCURRED = "REQUESTED_CHANGE_OCCURRED"
    RESUBSCRIBE_OCCURRED = "RESUBSCRIBE_OCCURRED"
    UNSUBSCRIBE_FROM_ALL_OCCURRED = "UNSUBSCRIBE_FROM_ALL_OCCURRED"


class LegalBasis(StrEnum):
    CONSENT_WITH_NOTICE = "CONSENT_WITH_NOTICE"
    LEGITIMATE_INTEREST_CLIENT = "LEGITIMATE_INTEREST_CLIENT"
    LEGITIMATE_INTEREST_OTHER = "LEGITIMATE_INTEREST_OTHER"
    LEGITIMATE_INTEREST_PQL = "LEGITIMATE_INTEREST_PQL"
    NON_GDPR = "NON_GDPR"
    PERFORMANCE_OF_CONTRACT = "PERFORMANCE_OF_CONTRACT"
    PROCESS_AND_STORE = "PROCESS_AND_STORE"


class V3Status(StrEnum):
    SUBSCRIBED = "SUBSCRIBED"
    NOT_SUBSCRIBED = "NOT_SUBSCRIBED"


class SourceOfStatus(StrEnum):
    PORTAL_WIDE_STATUS = "PORTAL_WIDE_STATUS"
    BRAND_WIDE_STATUS = "BRAND_WIDE_STATUS"
    SUBSCRIPTION_STATUS = "SUBSCRIPTION_STATUS"


class ChangeKind(StrEnum):
    TYPE = "SUBSCRIPTION"  # one definition's status
    WIDE = "WIDE"  # the opt-out-of-all switch of one business unit (0 = portal-wide)
    ERASURE = "ERASURE"  # the address was erased: statuses removed, suppressed (target 0)
    # Entries that change no status (old == new), kept as proof (target: see each):
    CONFIRMATION = "CONFIRMATION_REQUESTED"  # a sign-up asked to confirm this type (its id)
    BOUNCE = "BOUNCE"  # a hard bounce marked the address bounced (target 0)
    SOFT_BOUNCE = "SOFT_BOUNCE"  # a soft bounce, counted only (target 0)


RATE_LIMIT_TIERS = ("starter", "professional", "enterprise")
DEFAULT_SOURCE = "Not specified"


@dataclass(frozen=True, slots=True)
class Portal:
    id: int
    name: str
    gdpr: bool = False
    brands: bool = False
    default_language: str = "en"
    strict_v3_unknown_404: bool = False
    rate_limit_tier: str | None = None
    batch_scopes_enabled: bool = True
    created_at: int = 0
    # The preference pages' branding: a name, an https logo URL, a `#rrggbb` colour.
    brand_name: str | None = None
    brand_logo_url: str | None = None
    brand_colour: str | None = None
    # The key that seals the portal's preference links (None: the server's keys), and
    # whether the server's keys still verify the portal's links.
    link_key: LinkKey | None = None
    server_link_keys: bool = True
    # Sign-ups are confirmed by email first (a business unit may differ), sent from here.
    double_opt_in: bool = False
    mail_from: str | None = None


@dataclass(frozen=True, slots=True)
class LinkKey:
    """One of a portal's preference-link keys. The secret never leaves the server."""

    id: int
    portal_id: int
    secret: str = field(repr=False)
    created_at: int = 0
    retired_at: int | None = None


@dataclass(frozen=True, slots=True)
class BusinessUnit:
    portal_id: int
    id: int
    name: str
    double_opt_in: bool | None = None  # None: the portal's setting


@dataclass(frozen=True, slots=True)
class Translation:
    language_code: str
    name: str
    description: str
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class Definition:
    id: int
    portal_id: int
    name: str
    description: str
    business_unit_id: int = 0
    purpose: str = ""
    communication_method: str = ""
    is_active: bool = True
    is_default: bool = False
    is_internal: bool = False
    created_at: int = 0
    updated_at: int = 0
    translations: tuple[Translation, ...] = ()


@dataclass(frozen=True, slots=True)
class Token:
    id: int
    portal_id: int
    name: str
    scopes: frozenset[str]
    app_id: int | None = None
    created_at: int = 0
    expires_at: int | None = None
    revoked_at: int | None = None


class TypeStatus(msgspec.Struct, frozen=True, gc=False):
    """The stored status of one subscriber for one definition (replaced, never mutated).
    A struct built in C: every stored row a read decodes makes a few of them."""

    status: Status
    source: str
    timestamp: int
    legal_basis: str | None = None
    legal_basis_explanation: str | None = None


class WideStatus(msgspec.Struct, frozen=True, gc=False):
    """The stored opt-out-of-all switch of one subscriber for one business unit."""

    status: Status
    timestamp: int
    source: str = ""


class Bounce(msgspec.Struct, frozen=True, gc=False, array_like=True):
    """A hard bounce: the mailbox does not exist or refuses mail for good. The address is
    marked, not unsubscribed: senders suppress it; HubSpot's shapes do not show it."""

    at: int
    source: str  # e.g. "Hard bounce (ses)"


@dataclass(slots=True)
class Subscriber:
    """One email address of one portal and everything stored for it.

    `created_at` is None while the address has no stored record.
    """

    email: str
    created_at: int | None = None
    types: dict[int, TypeStatus] = field(default_factory=dict)
    wide: dict[int, WideStatus] = field(default_factory=dict)
    id: int | None = None
    bounce: Bounce | None = None


class Change(NamedTuple):
    """One actual change: a definition's status or a wide status, old → new.

    A tuple rather than a dataclass: an opt-out makes one per definition per address, so
    construction cost is on the hot path.
    """

    kind: ChangeKind
    target: int  # definition id, or business unit id for WIDE
    old: Status
    new: Status
    legal_basis: str | None = None
    legal_basis_explanation: str | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asked for a change: a token, the preference page, one-click, an import job."""

    kind: str  # "token" | "preference_page" | "one_click" | "import" | "cli"
    id: str | None = None

    def label(self) -> str:
        return f"{self.kind}:{self.id}" if self.id is not None else self.kind


class Event(msgspec.Struct, frozen=True, gc=False):
    """One ledger entry: every change one request made to one subscriber.

    The ledger stores one entry per (request, subscriber); each element of `changes` is
    one consent event in the sense of the history API. A struct built in C, far cheaper to
    build than a dataclass: an opt-out batch makes one per address.
    """

    email: str
    changes: tuple[Change, ...]
    source: str
    actor: str
    correlation_id: str
    at: int


@dataclass(frozen=True, slots=True)
class PortalContext:
    """What a request needs to know about its portal: flags, business units, definitions."""

    portal: Portal
    business_units: frozenset[int]
    definitions: tuple[Definition, ...]  # ordered by id
    by_id: dict[int, Definition] = field(init=False, repr=False, compare=False)
    has_archived: bool = field(init=False, repr=False, compare=False)
    _active: dict[int | None, tuple[Definition, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        active: dict[int | None, tuple[Definition, ...]] = {
            None: tuple(d for d in self.definitions if d.is_active)
        }
        for unit in self.business_units:
            active[unit] = tuple(d for d in active[None] if d.business_unit_id == unit)
        object.__setattr__(self, "by_id", {d.id: d for d in self.definitions})
        object.__setattr__(self, "has_archived", len(active[None]) < len(self.definitions))
        object.__setattr__(self, "_active", active)

    def definition(self, definition_id: int) -> Definition | None:
        return self.by_id.get(definition_id)

    def active(self, business_unit_id: int | None) -> tuple[Definition, ...]:
        """Active definitions, of one business unit or (None) of all, ordered by id."""
        return self._active.get(business_unit_id, ())
