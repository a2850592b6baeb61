"""Portals and what configures them: the part of the storage interface (`store.Store`) for
portals, business units, definitions and their translations, tokens and authentication,
and the server-wide secrets kept in the database.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

from commpref.domain.model import BusinessUnit, Definition, Portal, PortalContext, Token


class AdminStore(ABC):
    """Portals, business units, definitions, tokens, server secrets."""

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
        rate_limit_tier, batch_scopes_enabled, name) and the pages' branding (brand_name,
        brand_logo_url, brand_colour; None clears). Raises NotFound for an unknown portal."""

    @abstractmethod
    async def get_portal(self, portal_id: int) -> Portal | None: ...

    @abstractmethod
    async def list_portals(self) -> list[Portal]: ...

    @abstractmethod
    async def create_business_unit(
        self, *, portal_id: int, business_unit_id: int, name: str
    ) -> BusinessUnit:
        """Raises ValidationError when the id is taken, NotFound for an unknown portal."""

    @abstractmethod
    async def rename_business_unit(
        self, *, portal_id: int, business_unit_id: int, name: str
    ) -> BusinessUnit:
        """Raises NotFound for a business unit the portal does not have."""

    @abstractmethod
    async def list_business_units(self, portal_id: int) -> list[BusinessUnit]:
        """The portal's business units, ordered by id (none for an unknown portal)."""

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
    ) -> None:
        """Add or replace the definition's text in one language. Raises NotFound for an
        unknown definition."""

    @abstractmethod
    async def delete_translation(self, *, definition_id: int, language_code: str) -> bool:
        """Remove the definition's text in one language; False when it had none."""

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
    async def note_token_uses(self, uses: Mapping[int, int]) -> None:
        """Record when tokens were last used (token id → epoch ms); an older time never
        replaces a newer one."""

    @abstractmethod
    async def token_uses(self, portal_id: int) -> dict[int, int]:
        """When each of the portal's tokens was last used, for those ever recorded."""

    @abstractmethod
    async def authenticate(self, secret_hash: str) -> tuple[Token, PortalContext] | None:
        """The token with this hash (revoked or expired ones included: the caller decides)
        and its portal's context, in one round trip where the engine allows."""

    @abstractmethod
    async def portal_context(self, portal_id: int) -> PortalContext:
        """Portal, its business units and its definitions (ordered by id, translations
        included). Raises NotFound for an unknown portal."""

    # --- server secrets ------------------------------------------------------------------
    @abstractmethod
    async def get_secret(self, name: str) -> str | None:
        """A server-wide secret kept in the database (e.g. the generated link key)."""

    @abstractmethod
    async def set_secret_if_absent(self, name: str, value: str) -> str:
        """Store `value` under `name` unless one exists; return the stored value."""
