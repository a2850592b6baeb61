"""Mailbox feedback: the part of the storage interface (`store.Store`) that keeps which
mail providers each portal takes feedback from, with their keys, and the ids of the
provider events already applied (`services.feedback`).

Contract:
- A provider's configuration is a flat mapping of strings, stored as given (the service
  validated it); putting it again replaces it whole.
- Applied event ids are kept per (portal, provider) and forgotten by `prune_feedback_events`
  once older than any delivery that may still come (`feedback_max_age_hours`).
- `record_feedback_events` inserts what is not there yet and leaves the rest (two
  processes recording the same id at once both succeed), and tells which ids were new.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping

from commpref.domain.feedback import Provider
from commpref.domain.feedback_providers import ProviderConfig


class FeedbackStore(ABC):
    # --- provider configurations ---------------------------------------------------------
    @abstractmethod
    async def get_feedback_provider(
        self, portal_id: int, provider: Provider
    ) -> ProviderConfig | None: ...

    @abstractmethod
    async def list_feedback_providers(self, portal_id: int) -> list[ProviderConfig]:
        """The portal's configured providers, by name."""

    @abstractmethod
    async def put_feedback_provider(
        self, *, portal_id: int, provider: Provider, config: Mapping[str, str], now: int
    ) -> ProviderConfig:
        """Create or replace; raises NotFound for an unknown portal."""

    @abstractmethod
    async def delete_feedback_provider(self, portal_id: int, provider: Provider) -> bool:
        """Forget the configuration (its applied event ids age out); False if there was none."""

    # --- applied events ----------------------------------------------------------------------
    @abstractmethod
    async def seen_feedback_events(
        self, portal_id: int, provider: Provider, event_ids: Collection[str]
    ) -> set[str]:
        """Those of `event_ids` already recorded."""

    @abstractmethod
    async def record_feedback_events(
        self, portal_id: int, provider: Provider, event_ids: Collection[str], now: int
    ) -> set[str]:
        """Record the ids as applied at `now`; the ones that were not recorded before."""

    @abstractmethod
    async def prune_feedback_events(self, *, before: int) -> int:
        """Forget ids recorded before `before` (every portal); how many were forgotten."""
