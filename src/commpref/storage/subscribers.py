"""Subscribers and their statuses: the part of the storage interface (`store.Store`) that
reads them, changes them (`mutate`) and pages through them for an export.

Contract:
- `mutate` is the only way statuses change. It opens one transaction, loads the stored
  subscribers for the given addresses *locked against concurrent mutation* (SQLite: the single
  writer; PostgreSQL: row or advisory locks taken in a fixed order), hands them to a pure
  `plan` function, persists what the plan touched plus its ledger events, and commits before
  returning. If anything fails nothing is written. A plan may be called more than once (a
  retried serialisation failure), so it must not have side effects beyond the subscribers
  it is given.
- Reads never create subscribers.
- An erased address (see `ledger.LedgerStore.erase`) without a stored record is presented by
  `read_subscribers` and to `mutate`'s plan as `domain.erasure.suppressed_subscriber`: opted
  out of everything.
- `mutate` (and every other ledger append) queues, in the same transaction, one webhook
  outbox row per new ledger entry and active webhook of the portal; a portal without
  webhooks pays nothing for it.
- Acknowledged writes are durable: the commit is fsync'd (SQLite synchronous=FULL,
  PostgreSQL synchronous_commit=on) before `mutate` returns.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from commpref.domain.model import Event, Subscriber

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

CommitListener = Callable[[Outcome[Any]], None]


class SubscriberStore(ABC):
    """Subscribers and their statuses (see the module docstring)."""

    @abstractmethod
    async def read_subscribers(
        self, portal_id: int, emails: Sequence[str]
    ) -> dict[str, Subscriber]:
        """The stored subscribers among `emails` (normalised); unknown ones are absent.
        Read-only: concurrent callers may be handed the same objects (`postgres.coalesce`)."""

    @abstractmethod
    async def mutate(self, portal_id: int, emails: Sequence[str], plan: Plan[T]) -> T:
        """Run `plan` over the subscribers of `emails` in one locked transaction (see module
        docstring). The plan receives a dict holding every address of `emails`: stored ones
        as loaded, the others as fresh `Subscriber(email)` with `created_at=None`."""

    # --- export ----------------------------------------------------------------------------
    @abstractmethod
    async def subscribers_page(
        self, portal_id: int, *, after_email: str = "", limit: int = 1000
    ) -> list[Subscriber]:
        """Stored subscribers with email > `after_email`, in email order (keyset paging)."""
