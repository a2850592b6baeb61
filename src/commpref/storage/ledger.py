"""The consent ledger and erasure: the part of the storage interface (`store.Store`) that reads
the ledger (one address's history, or the portal's as a feed), erases an address and pages
through the suppressions an erasure leaves.

Entries are appended by `subscribers.SubscriberStore.mutate` (and by `erase` and import
chunks), in the transaction of the change.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from commpref.domain.model import Event


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
    already_erased: bool = False  # nothing stored and suppressed already: nothing was done


class LedgerStore(ABC):
    """The ledger and erasure (see the module docstring)."""

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
        to `domain.erasure.label`, and append one ERASURE entry under that label. An
        address with nothing stored whose hash is suppressed already is left as it is
        (`already_erased`: no new entry, the first erasure's time kept)."""

    @abstractmethod
    async def subject_label(self, portal_id: int, email: str) -> str:
        """The label an erasure of `email` writes into the ledger."""

    @abstractmethod
    async def erasure_key(self, portal_id: int) -> str:
        """The portal's erasure key (`domain.erasure.subject_key`'s secret). Raises NotFound
        for an unknown portal."""

    # --- export ----------------------------------------------------------------------------
    @abstractmethod
    async def suppressions_page(
        self, portal_id: int, *, after_key: bytes = b"", limit: int = 1000
    ) -> list[tuple[bytes, int]]:
        """Suppressions (erasure hash, erasure time) with hash > `after_key`, in hash order."""
