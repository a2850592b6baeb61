"""Wire shapes of HubSpot's Communication Preferences API (docs/wire-contract.md §4)
as msgspec Structs.

One description serves three purposes: responses are encoded from these Structs (field order
= key order on the wire), request bodies are validated against the request Structs
(`http.body`), and `/openapi.json` is generated from both (`http.openapi`).

Conventions: a field typed `X | None` without a default is always sent, `null` when unset; a
field typed `X | UnsetType = UNSET` is omitted when unset.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import UNSET, UnsetType

from commpref.http.values import DateTime, Int64, V4Status

# v3 ids are strings on the wire; commpref also accepts JSON integers for them (§4).
V3Id = Annotated[str, msgspec.Meta(extra={"accepts_int": True})]

Channel = Literal["EMAIL"]
V3StatusValue = Literal["SUBSCRIBED", "NOT_SUBSCRIBED"]
SourceOfStatus = Literal["PORTAL_WIDE_STATUS", "BRAND_WIDE_STATUS", "SUBSCRIPTION_STATUS"]
LegalBasis = Literal[
    "CONSENT_WITH_NOTICE",
    "LEGITIMATE_INTEREST_CLIENT",
    "LEGITIMATE_INTEREST_OTHER",
    "LEGITIMATE_INTEREST_PQL",
    "NON_GDPR",
    "PERFORMANCE_OF_CONTRACT",
    "PROCESS_AND_STORE",
]
Reason = Literal[
    "NO_STATUS_CHANGE",
    "REQUESTED_CHANGE_OCCURRED",
    "RESUBSCRIBE_OCCURRED",
    "UNSUBSCRIBE_FROM_ALL_OCCURRED",
]
WideStatusType = Literal["BUSINESS_UNIT_WIDE", "PORTAL_WIDE"]
EnvelopeStatus = Literal["CANCELED", "COMPLETE", "PENDING", "PROCESSING"]


class _Wire(msgspec.Struct, gc=False):
    """Base of every wire Struct: no cycles, so no GC tracking. Subclasses are keyword-only
    (msgspec applies that per class) so optional fields can sit where the wire order wants."""


# --- requests (§4.2) ---------------------------------------------------------------------


class PartialPublicStatusRequest(_Wire, kw_only=True):
    channel: Channel
    statusState: V4Status
    subscriptionId: Int64
    legalBasis: LegalBasis | None = None
    legalBasisExplanation: str | None = None


class PublicStatusRequest(_Wire, kw_only=True):
    subscriberIdString: str
    channel: Channel
    statusState: V4Status
    subscriptionId: Int64
    legalBasis: LegalBasis | None = None
    legalBasisExplanation: str | None = None


class BatchInputPublicStatusRequest(_Wire, kw_only=True):
    inputs: list[PublicStatusRequest]


class BatchInputString(_Wire, kw_only=True):
    inputs: list[str]


class LinkGenerationRequest(_Wire, kw_only=True):
    subscriberIdString: str
    language: str | None = None
    subscriptionId: Int64 | None = None


class PublicUpdateSubscriptionStatusRequest(_Wire, kw_only=True):
    emailAddress: str
    subscriptionId: V3Id
    legalBasis: LegalBasis | None = None
    legalBasisExplanation: str | None = None


# --- v4 family responses (§4.3) ----------------------------------------------------------


class ErrorDetail(_Wire, kw_only=True):
    message: str
    code: str | UnsetType = UNSET
    in_: str | UnsetType = msgspec.field(default=UNSET, name="in")
    subCategory: str | UnsetType = UNSET
    context: dict[str, list[str]] | UnsetType = UNSET


class StandardError(_Wire, kw_only=True):
    status: str
    category: str
    message: str
    context: dict[str, list[str]]
    errors: list[ErrorDetail]
    links: dict[str, str]


class PublicStatus(_Wire, kw_only=True):
    subscriberIdString: str
    subscriptionId: Int64
    subscriptionName: str
    channel: Channel
    status: V4Status
    source: str
    legalBasis: LegalBasis | None
    legalBasisExplanation: str | None
    setStatusSuccessReason: Reason | None
    businessUnitId: Int64
    timestamp: DateTime


class PublicWideStatus(_Wire, kw_only=True):
    subscriberIdString: str
    wideStatusType: WideStatusType
    status: V4Status
    channel: Channel
    businessUnitId: Int64 | UnsetType = UNSET  # only on BUSINESS_UNIT_WIDE rows (§5.10)
    timestamp: DateTime


class PublicSubscriptionTranslation(_Wire, kw_only=True):
    subscriptionId: Int64
    languageCode: str
    name: str
    description: str
    createdAt: Int64  # epoch milliseconds, as HubSpot sends them
    updatedAt: Int64


class SubscriptionDefinition(_Wire, kw_only=True):
    id: str
    name: str
    description: str
    purpose: str
    communicationMethod: str
    isActive: bool
    isDefault: bool
    isInternal: bool
    businessUnitId: Int64
    createdAt: DateTime
    updatedAt: DateTime
    subscriptionTranslations: list[PublicSubscriptionTranslation] | UnsetType = UNSET


class PublicStatusBulkResponse(_Wire, kw_only=True):
    subscriberIdString: str
    statuses: list[PublicStatus]


class PublicWideStatusBulkResponse(_Wire, kw_only=True):
    subscriberIdString: str
    wideStatuses: list[PublicWideStatus]


class PublicBulkOptOutFromAllResponse(_Wire, kw_only=True):
    subscriberIdString: str
    statuses: list[PublicStatus] | UnsetType = UNSET


class LinkGenerationResponse(_Wire, kw_only=True):
    subscriberIdString: str
    managePreferencesUrl: str
    unsubscribeAllUrl: str
    unsubscribeSingleUrl: str | UnsetType = UNSET


class ActionResponseWithResultsPublicStatus(_Wire, kw_only=True):
    status: EnvelopeStatus
    results: list[PublicStatus]
    startedAt: DateTime
    completedAt: DateTime


class ActionResponseWithResultsPublicWideStatus(_Wire, kw_only=True):
    status: EnvelopeStatus
    results: list[PublicWideStatus]
    startedAt: DateTime
    completedAt: DateTime


class ActionResponseWithResultsSubscriptionDefinition(_Wire, kw_only=True):
    status: EnvelopeStatus
    results: list[SubscriptionDefinition]
    startedAt: DateTime
    completedAt: DateTime


# Batch envelopes: `errors`/`numErrors` are sent only when an input failed (§4.3).


class BatchResponsePublicStatus(_Wire, kw_only=True):
    status: EnvelopeStatus
    results: list[PublicStatus]
    errors: list[StandardError] | UnsetType = UNSET
    numErrors: int | UnsetType = UNSET
    startedAt: DateTime
    completedAt: DateTime


class BatchResponsePublicBulkOptOutFromAllResponse(_Wire, kw_only=True):
    status: EnvelopeStatus
    results: list[PublicBulkOptOutFromAllResponse]
    errors: list[StandardError] | UnsetType = UNSET
    numErrors: int | UnsetType = UNSET
    startedAt: DateTime
    completedAt: DateTime


class BatchResponsePublicStatusBulkResponse(_Wire, kw_only=True):
    status: EnvelopeStatus
    results: list[PublicStatusBulkResponse]
    errors: list[StandardError] | UnsetType = UNSET
    numErrors: int | UnsetType = UNSET
    startedAt: DateTime
    completedAt: DateTime


class BatchResponsePublicWideStatusBulkResponse(_Wire, kw_only=True):
    status: EnvelopeStatus
    results: list[PublicWideStatusBulkResponse]
    errors: list[StandardError] | UnsetType = UNSET
    numErrors: int | UnsetType = UNSET
    startedAt: DateTime
    completedAt: DateTime


# The 207 answers of F and I (v4, 2026-03) always carry the errors; documented separately.
class BatchResponsePublicStatusBulkResponseWithErrors(
    BatchResponsePublicStatusBulkResponse, kw_only=True
):
    errors: list[StandardError]
    numErrors: int


class BatchResponsePublicWideStatusBulkResponseWithErrors(
    BatchResponsePublicWideStatusBulkResponse, kw_only=True
):
    errors: list[StandardError]
    numErrors: int


# --- v3 family responses (§4.4) ----------------------------------------------------------


class SubscriptionDefinitionsResponse(_Wire, kw_only=True):
    subscriptionDefinitions: list[SubscriptionDefinition]


class PublicSubscriptionStatus(_Wire, kw_only=True):
    id: str
    name: str
    description: str
    status: V3StatusValue
    sourceOfStatus: SourceOfStatus
    brandId: Int64 | UnsetType = UNSET  # only in portals with brands
    legalBasis: LegalBasis | None
    legalBasisExplanation: str | None


class PublicSubscriptionStatusesResponse(_Wire, kw_only=True):
    recipient: str
    subscriptionStatuses: list[PublicSubscriptionStatus]


class PublicBulkSubscriptionStatusesResponse(_Wire, kw_only=True):
    recipientToSubscriptionStatuses: dict[str, list[PublicSubscriptionStatus]]


# --- errors (§4.5, §6.2); bodies are built as dicts by http.errors, described here ----


class Error(_Wire, kw_only=True):
    status: str
    message: str
    correlationId: str
    category: str
    subCategory: str | UnsetType = UNSET
    context: dict[str, list[str]] | UnsetType = UNSET
    errors: list[ErrorDetail] | UnsetType = UNSET
    links: dict[str, str] | UnsetType = UNSET
    requestId: str | UnsetType = UNSET
    errorType: str | UnsetType = UNSET
    policyName: str | UnsetType = UNSET


RESPONSE_STRUCTS: tuple[type[msgspec.Struct], ...] = (
    ActionResponseWithResultsPublicStatus,
    ActionResponseWithResultsPublicWideStatus,
    ActionResponseWithResultsSubscriptionDefinition,
    BatchResponsePublicStatus,
    BatchResponsePublicBulkOptOutFromAllResponse,
    BatchResponsePublicStatusBulkResponse,
    BatchResponsePublicWideStatusBulkResponse,
    BatchResponsePublicStatusBulkResponseWithErrors,
    BatchResponsePublicWideStatusBulkResponseWithErrors,
    LinkGenerationResponse,
    SubscriptionDefinitionsResponse,
    PublicSubscriptionStatus,
    PublicSubscriptionStatusesResponse,
    PublicBulkSubscriptionStatusesResponse,
    Error,
)
