"""The storage interface. Two implementations, `sqlite.store.SqliteStore` and
`postgres.store.PostgresStore`, pass the same contract suite (tests/integration).

`Store` is the whole interface: one small interface per concept, each with its contract in
its own module — subscribers and their statuses (`subscribers`), the ledger and erasure
(`ledger`), portals, definitions and tokens (`admin`), rate limits (`ratelimits`), import
jobs (`imports`), webhooks and their outbox (`webhooks`), standing counts and daily totals
(`tallies`), console users and sessions (`console`), preference-link keys (`linkkeys`),
sign-ups and the mail outbox (`mail`), mail providers and their applied feedback
(`feedback`) — plus the lifecycle and the observation hooks below.

Contract:
- Every method is a coroutine and is safe to call concurrently.
- Times are epoch milliseconds (UTC).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from commpref.storage.admin import AdminStore
from commpref.storage.console import ConsoleStore
from commpref.storage.feedback import FeedbackStore
from commpref.storage.imports import ImportStore
from commpref.storage.ledger import LedgerStore
from commpref.storage.linkkeys import LinkKeyStore
from commpref.storage.mail import MailStore
from commpref.storage.ratelimits import RateLimitStore
from commpref.storage.subscribers import CommitListener, Outcome, SubscriberStore
from commpref.storage.tallies import TallyStore
from commpref.storage.webhooks import WebhookStore


class Store(
    SubscriberStore,
    LedgerStore,
    AdminStore,
    RateLimitStore,
    ImportStore,
    WebhookStore,
    TallyStore,
    ConsoleStore,
    LinkKeyStore,
    FeedbackStore,
    MailStore,
):
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
