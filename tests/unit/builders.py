"""Domain values built directly for the unit tests (docs/wire-contract.md §10's setting by default).

Definitions 101, 102 and 103 in business unit 0, created 2026-01-01; a portal without
brands or GDPR. Times are epoch milliseconds.
"""

from __future__ import annotations

from collections.abc import Iterable

from commpref.domain.model import (
    Definition,
    Portal,
    PortalContext,
    Status,
    Subscriber,
    TypeStatus,
    WideStatus,
)

T_DEFS = 1_767_225_600_000  # 2026-01-01T00:00:00.000Z: the definitions' creation
T_SUB = 1_775_116_800_000  # 2026-04-02T08:00:00.000Z: the subscriber's creation, old writes
NOW = 1_777_629_600_000  # 2026-05-01T10:00:00.000Z: the request under test
LATER = NOW + 300_000  # a second request, five minutes on
SOURCE = "Public status API"
OLD_SOURCE = "Public status API, App ID:5848098"
EMAIL = "jane@example.com"


def definition(
    definition_id: int,
    *,
    unit: int = 0,
    active: bool = True,
    created_at: int = T_DEFS,
    portal_id: int = 1,
) -> Definition:
    return Definition(
        id=definition_id,
        portal_id=portal_id,
        name=f"Type {definition_id}",
        description=f"About {definition_id}",
        business_unit_id=unit,
        is_active=active,
        created_at=created_at,
        updated_at=created_at,
    )


def context(
    *,
    gdpr: bool = False,
    brands: bool = False,
    strict_v3_unknown_404: bool = False,
    definitions: Iterable[Definition] | None = None,
    units: Iterable[int] = (0,),
) -> PortalContext:
    portal = Portal(
        id=1,
        name="Test portal",
        gdpr=gdpr,
        brands=brands,
        strict_v3_unknown_404=strict_v3_unknown_404,
    )
    defs = (
        (definition(101), definition(102), definition(103)) if definitions is None else definitions
    )
    return PortalContext(portal, frozenset(units), tuple(sorted(defs, key=lambda d: d.id)))


def brands_context(**kwargs: bool) -> PortalContext:
    """A brands portal: 101 and 102 in business unit 0, 201 and 202 in business unit 7."""
    return context(
        brands=True,
        units=(0, 7),
        definitions=(
            definition(101),
            definition(102),
            definition(201, unit=7),
            definition(202, unit=7),
        ),
        **kwargs,
    )


def subscriber(
    email: str = EMAIL,
    *,
    types: dict[int, Status] | None = None,
    wide: dict[int, Status] | None = None,
    created_at: int | None = T_SUB,
    at: int = T_SUB,
    legal_basis: str | None = None,
    explanation: str | None = None,
) -> Subscriber:
    """A stored subscriber (`created_at=None`: an unknown address) with statuses set at `at`."""
    return Subscriber(
        email,
        created_at=created_at,
        types={
            d: TypeStatus(s, OLD_SOURCE, at, legal_basis, explanation)
            for d, s in (types or {}).items()
        },
        wide={u: WideStatus(s, at, OLD_SOURCE) for u, s in (wide or {}).items()},
    )
