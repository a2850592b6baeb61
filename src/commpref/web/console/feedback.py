"""The console's mail-feedback page: which providers' complaints and bounces the portal
takes, the URL to paste into each provider, and their keys. Read by every role, changed
by admins, through the service `/commpref/v1/feedback-providers` and the CLI use
(`services.feedback_providers`). Secrets are never shown back: a blank secret field keeps
the one stored."""

from __future__ import annotations

from typing import Any

from commpref.domain import feedback_providers as fp
from commpref.domain.console import Role
from commpref.domain.feedback import Provider
from commpref.errors import ValidationError
from commpref.http.operation import Reply
from commpref.services import feedback_providers
from commpref.web.console.visit import REFUSED, Visit, view

FIELDS = ("topicArn", "publicKey", "username", "password", "signingKey")


async def _page(
    v: Visit, status: int = 200, problem: str = "", typed: dict[str, Any] | None = None
) -> Reply:
    portal_id = v.portal.portal.id
    found = {
        c.provider: c
        for c in await feedback_providers.list_providers(
            store=v.rq.runtime.store, portal_id=portal_id
        )
    }
    providers = [
        {
            "name": p.value,
            "configured": p in found,
            "updated_at": found[p].updated_at if p in found else None,
            "shown": fp.public_view(found[p].config) if p in found else {},
            "fields": fp.FIELDS[p],
            "endpoint": feedback_providers.endpoint(v.rq.runtime.base_url, p.value, portal_id),
        }
        for p in Provider
    ]
    return v.render(
        "feedback.html",
        status,
        providers=providers,
        secret_fields=fp.SECRET_FIELDS,
        min_password=fp.MIN_PASSWORD,
        problem=problem,
        typed=typed or {},
        done=v.query("done") if status == 200 else "",
        section="/feedback",
    )


@view(Role.VIEWER)
async def feedback_page(v: Visit) -> Reply:
    return await _page(v)


@view(Role.ADMIN, form=True)
async def feedback_change(v: Visit) -> Reply:
    """Save a provider's keys, or (action `remove`) stop taking its feedback."""
    store, portal_id = v.rq.runtime.store, v.portal.portal.id
    provider = v.value("provider")
    typed = {"provider": provider, **{k: v.value(k) for k in FIELDS if k != "password"}}
    try:
        if v.value("action") == "remove":
            await feedback_providers.remove_provider(
                store=store, portal_id=portal_id, provider=provider
            )
            return v.redirect(v.url("/feedback", done="removed"))
        if v.value("action") != "save":
            raise ValidationError("Unknown action")
        given: dict[str, object] = {k: v.value(k) for k in FIELDS}
        if provider in (Provider.POSTMARK, Provider.MAILGUN):
            # A blank secret keeps the stored one: the page never shows it to refill.
            stored = await store.get_feedback_provider(portal_id, fp.provider(provider))
            for name in fp.SECRET_FIELDS & set(FIELDS):
                if not given.get(name) and stored is not None and stored.get(name):
                    given[name] = stored.get(name)
        await feedback_providers.set_provider(
            store=store,
            portal_id=portal_id,
            provider=provider,
            config={k: val for k, val in given.items() if val},
            now=v.rq.now,
        )
    except REFUSED as exc:
        return await _page(v, exc.http_status, exc.message, typed)
    return v.redirect(v.url("/feedback", done="saved"))
