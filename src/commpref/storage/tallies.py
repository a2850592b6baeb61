"""Standing counts and daily totals (`domain.tallies`): the part of the storage interface
(`store.Store`) that the console's overview reads instead of scanning subscribers or the
ledger.

They are kept as changes commit: every transaction that saves subscribers, appends ledger
entries or erases an address adds its `domain.tallies.Delta` in the same transaction, so
the figures are exactly those of the committed state. `recount_tallies` rebuilds them from
the stored state and the ledger (after the migration that adds them, and as a repair).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from commpref.domain.tallies import Tallies

# The migrations after which every portal is recounted: 8 made the tables; 12 came with
# the chart's sources for mail feedback and sign-up confirmations, once counted as other.
RECOUNTED_AFTER = frozenset({8, 12})


class TallyStore(ABC):
    @abstractmethod
    async def tallies(self, portal_id: int, *, since_day: int) -> Tallies:
        """The portal's standing counts and its daily totals of days >= `since_day` (days
        since the epoch, UTC)."""

    @abstractmethod
    async def recount_tallies(self, portal_id: int) -> Tallies:
        """Rebuild the portal's tallies from its stored statuses, suppressions and ledger, in
        one transaction that writers wait for; return them (all days)."""

    @abstractmethod
    async def fold_tallies(self) -> int:
        """Move pending deltas into the totals; return how many were moved (the job workers
        fold every few seconds; reads add what is still pending)."""
