"""Mailbox feedback under `/commpref/v1` (docs/feedback.md).

- `POST feedback/{provider}?portal=`: a mail provider's complaints and bounces. No bearer
  token: the provider's signature (or, for Postmark, the basic credentials in the URL) is
  the credential, checked by `services.feedback` over the body's exact bytes.
- `feedback-providers`: which providers a portal takes feedback from, and their keys. A
  secret (Postmark's credentials, Mailgun's signing key) is never shown back.
"""

from __future__ import annotations

import msgspec

from commpref.domain import feedback_providers as fp
from commpref.domain.feedback_providers import ProviderConfig
from commpref.errors import Unavailable
from commpref.http.api import wire
from commpref.http.operation import Reply, Request
from commpref.http.values import DateTime, iso
from commpref.services import feedback, feedback_providers


class FeedbackResult(msgspec.Struct, kw_only=True, gc=False):
    applied: int  # events applied now
    duplicates: int  # events whose id was applied before
    ignored: int  # events commpref does not act on (deliveries, opens, …)


class ProviderSettings(msgspec.Struct, kw_only=True, gc=False, forbid_unknown_fields=True):
    """A provider's keys: only its own fields (ses: topicArn; sendgrid: publicKey;
    postmark: username and password; mailgun: signingKey)."""

    topicArn: str | None = None
    publicKey: str | None = None
    username: str | None = None
    password: str | None = None
    signingKey: str | None = None


class ProviderView(msgspec.Struct, kw_only=True, gc=False, omit_defaults=True):
    provider: str
    configured: bool
    endpoint: str  # the URL to paste into the provider's webhook settings
    updatedAt: DateTime
    topicArn: str | None = None
    publicKey: str | None = None  # SendGrid's verification key is public


class ProviderList(msgspec.Struct, kw_only=True, gc=False):
    results: list[ProviderView]


def _header(rq: Request, name: bytes) -> str | None:
    for key, value in rq.scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _cert_hosts(text: str) -> tuple[str, ...]:
    return tuple(h.strip() for h in text.split(",") if h.strip())


async def receive(rq: Request) -> Reply:
    rt = rq.runtime
    client = rt.http_client
    if client is None:
        raise Unavailable("The server is starting or stopping")
    settings = rt.settings
    assert rq.param is not None  # the path names the provider
    got = await feedback.receive(
        store=rt.store,
        client=client,
        provider_name=rq.param,
        portal_id=rq.query["portal"],
        delivery=feedback.Delivery(
            body=rq.body,
            authorization=_header(rq, b"authorization"),
            sendgrid_signature=_header(rq, b"x-twilio-email-event-webhook-signature"),
            sendgrid_timestamp=_header(rq, b"x-twilio-email-event-webhook-timestamp"),
        ),
        cert_hosts=_cert_hosts(settings.sns_cert_hosts),
        max_age_hours=settings.feedback_max_age_hours,
        now=rq.now,
        correlation_id=rq.correlation_id,
    )
    return 200, FeedbackResult(applied=got.applied, duplicates=got.duplicates, ignored=got.ignored)


def _view(rq: Request, c: ProviderConfig) -> ProviderView:
    shown = fp.public_view(c.config)
    return ProviderView(
        provider=c.provider.value,
        configured=True,
        endpoint=feedback_providers.endpoint(rq.runtime.base_url, c.provider.value, c.portal_id),
        updatedAt=iso(c.updated_at),
        topicArn=shown.get("topicArn"),
        publicKey=shown.get("publicKey"),
    )


async def list_providers(rq: Request) -> Reply:
    found = await feedback_providers.list_providers(
        store=rq.runtime.store, portal_id=rq.call.ctx.portal.id
    )
    return 200, ProviderList(results=[_view(rq, c) for c in found])


async def set_provider(rq: Request) -> Reply:
    body: ProviderSettings = rq.body
    given = {k: v for k, v in msgspec.structs.asdict(body).items() if v is not None}
    assert rq.param is not None
    made = await feedback_providers.set_provider(
        store=rq.runtime.store,
        portal_id=rq.call.ctx.portal.id,
        provider=rq.param,
        config=given,
        now=rq.call.now,
    )
    return 200, _view(rq, made)


async def remove_provider(rq: Request) -> Reply:
    assert rq.param is not None
    await feedback_providers.remove_provider(
        store=rq.runtime.store, portal_id=rq.call.ctx.portal.id, provider=rq.param
    )
    return 200, wire.Done(status="COMPLETE")
