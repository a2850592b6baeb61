"""Mailbox feedback: the part of the storage interface (`store.Store`) that keeps which
mail providers each portal takes feedback from, with their keys, and the ids of the
provider events already applied (`services.feedback`).

Contract:
- A provider's configuration is a flat mapping of strings, stored as given (the service
  validated it); putting it again replaces it whole.
- Applied event ids are kept per (portal, provider) and forgotten by `prune_feedback_events`
  once older than any delivery that may still come (`feedback_max_age_hours`).
- `apply_feedback` is one transaction: it records the ids not recorded yet and runs the
  plan, as `mutate` runs one, with exactly those ids, so an event is applied once, never
  twice and never lost: a crash undoes both, and of two deliveries of one id at once, the
  second waits for the first and finds the id recorded.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TypeVar

from commpref.domain.feedback import Provider
from commpref.domain.feedback_providers import ProviderConfig
from commpref.domain.model import Subscriber
from commpref.storage.subscribers import Outcome

T = TypeVar("T")

# The plan gets the locked subscribers (as `mutate`'s) and the ids recorded just now.
FeedbackPlan = Callable[[dict[str, Subscriber], frozenset[str]], Outcome[T]]


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
    async def apply_feedback(
        self,
        portal_id: int,
        provider: Provider,
        event_ids: Collection[str],
        emails: Sequence[str],
        plan: FeedbackPlan[T],
        *,
        now: int,
    ) -> T:
        """In one transaction, record `event_ids` as applied at `now` and run `plan` over
        `emails` with the ids that were not recorded before (see the module docstring)."""

    @abstractmethod
    async def prune_feedback_events(self, *, before: int) -> int:
        """Forget ids recorded before `before` (every portal); how many were forgotten."""
