"""The console's settings page: the portal's flags, default language, rate-limit tier, the
preference pages' branding, double opt-in of sign-ups and the From of their emails, and the
keys that seal its preference links (rotate, retire the old ones). Read by every role,
changed by admins, through the services `/commpref/v1` and the CLI use (`services.admin`,
`services.links`).
"""

from __future__ import annotations

from typing import Any

from commpref.domain.console import Role
from commpref.domain.model import RATE_LIMIT_TIERS
from commpref.errors import ValidationError
from commpref.http.operation import Reply
from commpref.services import admin, links
from commpref.web.console.visit import REFUSED, Visit, view

PORTAL_FLAGS = ("gdpr", "brands", "strict_v3_unknown_404", "batch_scopes_enabled",
                "double_opt_in")  # fmt: skip
PORTAL_TEXTS = ("name", "default_language", "rate_limit_tier", "brand_name", "brand_logo_url",
                "brand_colour", "mail_from")  # fmt: skip


async def _settings_page(
    v: Visit, status: int = 200, problem: str = "", typed: dict[str, Any] | None = None
) -> Reply:
    store = v.rq.runtime.store
    # Read afresh: a rotation on this page changed the portal after the visit began.
    p = await admin.get_portal(store=store, portal_id=v.portal.portal.id)
    values: dict[str, Any] = typed or {
        **{k: getattr(p, k) for k in PORTAL_FLAGS},
        **{k: getattr(p, k) or "" for k in PORTAL_TEXTS},
    }
    return v.render(
        "settings.html",
        status,
        values=values,
        tiers=RATE_LIMIT_TIERS,
        languages=sorted(links.PAGE_LANGUAGES),
        keys=await links.list_keys(store=store, portal_id=p.id),
        sealing=p.link_key.id if p.link_key else None,
        server_keys=p.server_link_keys,
        problem=problem,
        done=v.query("done") if status == 200 else "",
        section="/settings",
    )


@view(Role.VIEWER)
async def settings_page(v: Visit) -> Reply:
    return await _settings_page(v)


@view(Role.ADMIN, form=True)
async def settings_change(v: Visit) -> Reply:
    typed: dict[str, Any] = {
        **v.typed(PORTAL_TEXTS),
        **{k: v.value(k) == "on" for k in PORTAL_FLAGS},
    }
    tier = typed["rate_limit_tier"]
    try:
        await admin.update_portal(
            store=v.rq.runtime.store, portal_id=v.portal.portal.id,
            **{**typed, "rate_limit_tier": tier or None},
        )  # fmt: skip
    except REFUSED as exc:
        return await _settings_page(v, exc.http_status, exc.message, typed)
    return v.redirect(v.url("/settings", done="saved"))


@view(Role.ADMIN, form=True)
async def link_keys_change(v: Visit) -> Reply:
    """Rotate: a new key seals new links. Retire (confirmed by a tick): every link not
    sealed by the newest key stops working."""
    action, store = v.value("action"), v.rq.runtime.store
    try:
        if action == "rotate":
            await links.rotate_keys(store=store, portal_id=v.portal.portal.id, now=v.rq.now)
        elif action == "retire":
            if v.value("confirm") != "on":
                raise ValidationError("Tick the box to confirm that older links stop working")
            await links.retire_keys(store=store, ctx=v.portal, now=v.rq.now)
        else:
            raise ValidationError("Unknown action")
    except REFUSED as exc:
        return await _settings_page(v, exc.http_status, exc.message)
    return v.redirect(v.url("/settings", done="rotated" if action == "rotate" else "retired"))
