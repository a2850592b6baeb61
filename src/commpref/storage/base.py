"""The storage interface. Two implementations, `sqlite.SqliteStore` and
`postgres.PostgresStore`, pass the same contract suite (tests/integration).

Contract:
- Every method is a coroutine and is safe to call concurrently.
- `mutate` is the only way statuses change. It opens one transaction, loads the stored
  subscribers for the given addresses *locked against concurrent mutation* (SQLite: the single
  writer; PostgreSQL: row or advisory locks taken in a fixed order), hands them to a pure
  `plan` function, persists what the plan touched plus its ledger events, and commits before
  returning. If anything fails nothing is written. A plan may be called more than once (a
  retried serialisation failure), so it must not have side effects beyond the subscribers
  it is given.
- Reads never create subscribers.
- An erased address (see `erase`) without a stored record is presented by `read_subscribers`
  and to `mutate`'s plan as `domain.erasure.suppressed_subscriber`: opted out of everything.
- `mutate` (and every other ledger append) queues, in the same transaction, one webhook
  outbox row per new ledger entry and active webhook of the portal; a portal without
  webhooks pays nothing for it.
- Acknowledged writes are durable: the commit is fsync'd (SQLite synchronous=FULL,
  PostgreSQL synchronous_commit=on) before `mutate` returns.
- Times are epoch milliseconds (UTC).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from commpref.domain.model import (
    BusinessUnit,
    Definition,
    Event,
    Portal,
    PortalContext,
    Subscriber,
    Token,
)
from commpref.storage.base_jobs import JobStore

T = TypeVar("T")


@dataclass(slots=True)
class Outcome(Generic[T]):
    """What a plan returns to `Store.mutate`.

    `touched`: addresses whose state must be saved (created when not yet stored; a new
    subscriber's `created_at` is set by the plan). `events`: ledger entries to append, in order.
    `suppressions`: erasure hashes to keep, with their erasure time (import chunks only).
    """

    value: T
    touched: set[str] = field(default_factory=set)
    events: list[Event] = field(default_factory=list)
    suppressions: dict[bytes, int] = field(default_factory=dict)


Plan = Callable[[dict[str, Subscriber]], Outcome[T]]


@dataclass(frozen=True, slots=True)
class RateCount:
    """A token's rate-limit counters after `Store.count_request` (docs/wire-contract.md §7)."""

    counted: bool  # False: a window was full, and this request was not counted
    hits: tuple[int, ...]  # times (ms) of the requests in the rolling window, oldest first
    day_count: int  # requests counted on the current UTC day


CommitListener = Callable[[Outcome[Any]], None]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """A ledger entry as stored, with its sequence number."""

    id: int
    portal_id: int
    event: Event


@dataclass(frozen=True, slots=True)
class Erasure:
    """What `Store.erase` did."""

    label: str  # what the ledger now shows instead of the address
    existed: bool  # the address had stored statuses
    events_rewritten: int  # ledger entries relabelled (the erasure's own entry excluded)


class Store(JobStore, ABC):
    kind: str  # "sqlite" or "postgresql"

    # --- lifecycle ---------------------------------------------------------------------
    @abstractmethod
    async def open(self) -> None:
        """Connect and apply pending migrations (under a lock: several processes may start)."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def ping(self) -> None:
        """Raise `errors.Unavailable` when the database cannot answer."""

    @abstractmethod
    async def schema_version(self) -> tuple[int, int]:
        """(applied migration version, latest known version)."""

    # --- portals, business units, definitions, tokens ------------------------------------
    @abstractmethod
    async def create_portal(
        self,
        *,
        name: str,
        gdpr: bool = False,
        brands: bool = False,
        default_language: str = "en",
        erasure_key: str | None = None,
        now: int,
    ) -> Portal:
        """Create a portal with business unit 0 and HubSpot's three default definitions.
        `erasure_key` (64 hex digits; random when None) never changes afterwards: a portal
        restored from another's export is created with that portal's key."""

    @abstractmethod
    async def update_portal(self, portal_id: int, **flags: object) -> Portal:
        """Change portal flags (gdpr, brands, default_language, strict_v3_unknown_404,
        rate_limit_tier, batch_scopes_enabled, name). Raises NotFound for an unknown portal."""

    @abstractmethod
    async def get_portal(self, portal_id: int) -> Portal | None: ...

    @abstractmethod
    async def list_portals(self) -> list[Portal]: ...

    @abstractmethod
    async def create_business_unit(
        self, *, portal_id: int, business_unit_id: int, name: str
    ) -> BusinessUnit: ...

    @abstractmethod
    async def create_definition(
        self,
        *,
        portal_id: int,
        name: str,
        description: str,
        business_unit_id: int = 0,
        purpose: str = "",
        communication_method: str = "",
        is_active: bool = True,
        is_default: bool = False,
        is_internal: bool = False,
        now: int,
    ) -> Definition:
        """Ids are unique across portals. Raises ValidationError for an unknown business unit."""

    @abstractmethod
    async def update_definition(
        self, definition_id: int, *, now: int, **fields: object
    ) -> Definition:
        """Change name, description, purpose, communication_method or is_active."""

    @abstractmethod
    async def set_translation(
        self,
        *,
        definition_id: int,
        language_code: str,
        name: str,
        description: str,
        now: int,
    ) -> None: ...

    @abstractmethod
    async def create_token(
        self,
        *,
        portal_id: int,
        name: str,
        secret_hash: str,
        scopes: frozenset[str],
        app_id: int | None = None,
        expires_at: int | None = None,
        now: int,
    ) -> Token: ...

    @abstractmethod
    async def revoke_token(self, *, portal_id: int, token_id: int, now: int) -> bool: ...

    @abstractmethod
    async def list_tokens(self, portal_id: int) -> list[Token]: ...

    @abstractmethod
    async def authenticate(self, secret_hash: str) -> tuple[Token, PortalContext] | None:
        """The token with this hash (revoked or expired ones included: the caller decides)
        and its portal's context, in one round trip where the engine allows."""

    @abstractmethod
    async def portal_context(self, portal_id: int) -> PortalContext:
        """Portal, its business units and its definitions (ordered by id, translations
        included). Raises NotFound for an unknown portal."""

    # --- subscribers and the ledger -----------------------------------------------------
    @abstractmethod
    async def read_subscribers(
        self, portal_id: int, emails: Sequence[str]
    ) -> dict[str, Subscriber]:
        """The stored subscribers among `emails` (normalised); unknown ones are absent.
        Read-only: concurrent callers may be handed the same objects (`coalesce`)."""

    @abstractmethod
    async def mutate(self, portal_id: int, emails: Sequence[str], plan: Plan[T]) -> T:
        """Run `plan` over the subscribers of `emails` in one locked transaction (see module
        docstring). The plan receives a dict holding every address of `emails`: stored ones
        as loaded, the others as fresh `Subscriber(email)` with `created_at=None`."""

    @abstractmethod
    async def events(
        self,
        portal_id: int,
        *,
        email: str | None = None,
        after_id: int = 0,
        limit: int = 1000,
    ) -> list[StoredEvent]:
        """Ledger entries of a portal (optionally of one address) with id > after_id, in
        id order."""

    @abstractmethod
    async def get_secret(self, name: str) -> str | None:
        """A server-wide secret kept in the database (e.g. the generated link key)."""

    @abstractmethod
    async def set_secret_if_absent(self, name: str, value: str) -> str:
        """Store `value` under `name` unless one exists; return the stored value."""

    # --- rate limits (docs/wire-contract.md §7) -----------------------------------------
    @abstractmethod
    async def count_request(
        self, *, token_id: int, now: int, window_ms: int, window_max: int, daily_max: int
    ) -> RateCount:
        """Count one request of a token, atomically across processes: drop the window's
        entries older than `now - window_ms`, start a new count when the UTC day of `now`
        differs from the stored one, then count the request only if fewer than `window_max`
        requests are in the window and fewer than `daily_max` were counted today."""

    # --- observation ---------------------------------------------------------------------
    def pool_stats(self) -> dict[str, int]:
        """Connections: `size` open, `in_use`, `max` (for `/metrics`)."""
        return {}

    def add_commit_listener(self, listener: CommitListener) -> None:
        """Call `listener` with every `mutate` outcome once its transaction has committed."""
        self.__dict__.setdefault("_commit_listeners", []).append(listener)

    def _committed(self, outcome: Outcome[Any]) -> None:
        for listener in self.__dict__.get("_commit_listeners", ()):
            listener(outcome)

    # --- consent history (the ledger as a feed) ------------------------------------------
    @abstractmethod
    async def ledger(
        self,
        portal_id: int,
        *,
        subjects: Sequence[str] | None = None,
        after_id: int = 0,
        limit: int = 1000,
        actor: str | None = None,
        at_from: int | None = None,
        at_to: int | None = None,
    ) -> list[StoredEvent]:
        """Ledger entries with id > after_id in id order, optionally only those of the
        addresses (or erasure labels) in `subjects`, whose actor is `actor` or starts with
        `actor + ":"`, and whose time is in [at_from, at_to). A reader paging by id never
        misses an entry: ids become visible in order (see `events`)."""

    @abstractmethod
    async def ledger_entries(self, portal_id: int, ids: Sequence[int]) -> list[StoredEvent]:
        """The portal's ledger entries with these ids, in id order."""

    # --- erasure ---------------------------------------------------------------------------
    @abstractmethod
    async def erase(
        self, portal_id: int, email: str, *, actor: str, correlation_id: str, source: str, now: int
    ) -> Erasure:
        """Erase an address in one transaction, locked like `mutate`: delete its statuses,
        keep its keyed hash (`domain.erasure.subject_key` under the portal's secret) as a
        suppression dated `now`, rewrite its ledger entries, outbox rows and import reports
        to `domain.erasure.label`, and append one ERASURE entry under that label."""

    @abstractmethod
    async def subject_label(self, portal_id: int, email: str) -> str:
        """The label an erasure of `email` writes into the ledger."""

    @abstractmethod
    async def erasure_key(self, portal_id: int) -> str:
        """The portal's erasure key (`domain.erasure.subject_key`'s secret). Raises NotFound
        for an unknown portal."""

    # --- export ----------------------------------------------------------------------------
    @abstractmethod
    async def subscribers_page(
        self, portal_id: int, *, after_email: str = "", limit: int = 1000
    ) -> list[Subscriber]:
        """Stored subscribers with email > `after_email`, in email order (keyset paging)."""

    @abstractmethod
    async def suppressions_page(
        self, portal_id: int, *, after_key: bytes = b"", limit: int = 1000
    ) -> list[tuple[bytes, int]]:
        """Suppressions (erasure hash, erasure time) with hash > `after_key`, in hash order."""
