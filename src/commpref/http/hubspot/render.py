"""Domain values → wire Structs (docs/wire-contract.md §4):
times, ids and the per-portal shape rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from msgspec import UNSET

from commpref.domain.model import Definition, Portal
from commpref.domain.rules import StatusRow, V3Row, WideRow
from commpref.http.hubspot import wire
from commpref.http.values import iso
from commpref.services.statuses import InputError


def public_status(email: str, row: StatusRow) -> wire.PublicStatus:
    return public_statuses(email, (row,))[0]


def public_statuses(email: str, rows: Sequence[StatusRow]) -> list[wire.PublicStatus]:
    """The hot path of every status read, one comprehension without a call per row (a batch
    read renders 1,000)."""
    # Seen as Any: StrEnum members are strings and encode as their value, so they go in as
    # they are (no `.value`, a slow enum property; no `cast`, a call per field).
    any_rows: Sequence[Any] = rows
    make = wire.PublicStatus
    return [
        make(
            subscriberIdString=email,
            subscriptionId=(d := r.definition).id,
            subscriptionName=d.name,
            channel="EMAIL",
            status=r.status,
            source=r.source,
            legalBasis=r.legal_basis,
            legalBasisExplanation=r.legal_basis_explanation,
            setStatusSuccessReason=r.reason,
            businessUnitId=d.business_unit_id,
            timestamp=iso(r.timestamp),
        )
        for r in any_rows
    ]


def wide_status(portal: Portal, email: str, row: WideRow) -> wire.PublicWideStatus:
    """§5.10: no brands → PORTAL_WIDE without the id; brands → BUSINESS_UNIT_WIDE with it."""
    return wire.PublicWideStatus(
        subscriberIdString=email,
        wideStatusType="BUSINESS_UNIT_WIDE" if portal.brands else "PORTAL_WIDE",
        status=cast(Any, row.status.value),
        channel="EMAIL",
        businessUnitId=row.business_unit_id if portal.brands else UNSET,
        timestamp=iso(row.timestamp),
    )


def wide_statuses(
    portal: Portal, email: str, rows: Sequence[WideRow]
) -> list[wire.PublicWideStatus]:
    return [wide_status(portal, email, r) for r in rows]


def definition(d: Definition, *, translations: bool) -> wire.SubscriptionDefinition:
    return wire.SubscriptionDefinition(
        id=str(d.id),
        name=d.name,
        description=d.description,
        purpose=d.purpose,
        communicationMethod=d.communication_method,
        isActive=d.is_active,
        isDefault=d.is_default,
        isInternal=d.is_internal,
        businessUnitId=d.business_unit_id,
        createdAt=iso(d.created_at),
        updatedAt=iso(d.updated_at),
        subscriptionTranslations=(
            [
                wire.PublicSubscriptionTranslation(
                    subscriptionId=d.id,
                    languageCode=t.language_code,
                    name=t.name,
                    description=t.description,
                    createdAt=t.created_at,
                    updatedAt=t.updated_at,
                )
                for t in d.translations
            ]
            if translations
            else UNSET
        ),
    )


def v3_status(portal: Portal, row: V3Row) -> wire.PublicSubscriptionStatus:
    d = row.definition
    return wire.PublicSubscriptionStatus(
        id=str(d.id),
        name=d.name,
        description=d.description,
        status=cast(Any, row.status.value),
        sourceOfStatus=cast(Any, row.source_of_status.value),
        brandId=d.business_unit_id if portal.brands else UNSET,
        legalBasis=cast(Any, row.legal_basis),
        legalBasisExplanation=row.legal_basis_explanation,
    )


def standard_errors(errors: Sequence[InputError]) -> list[wire.StandardError]:
    """Per-input batch failures as HubSpot's `StandardError` elements (§6.6)."""
    return [
        wire.StandardError(
            status="error",
            category="VALIDATION_ERROR",
            message=e.message,
            context=e.context,
            errors=[],
            links={},
        )
        for e in errors
    ]
