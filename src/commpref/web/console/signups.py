"""The console's sign-ups page: the portal's recent sign-ups, whether each was confirmed,
and where its confirmation email is (queued, sent, failed and why). Read by every role;
nothing here changes anything (docs/signups.md)."""

from __future__ import annotations

from commpref.domain.console import Role
from commpref.http.operation import Reply
from commpref.services import signups
from commpref.web.console.visit import Visit, view

SHOWN = 200


@view(Role.VIEWER)
async def signups_page(v: Visit) -> Reply:
    ctx = v.portal
    found = await signups.recent(store=v.rq.runtime.store, portal_id=ctx.portal.id, limit=SHOWN)
    names = {d.id: d.name for d in ctx.definitions}
    rows = [
        {
            "signup": s,
            "state": s.state(v.rq.now).value,
            "delivery": d,
            "types": [(i, names.get(i, str(i))) for i in s.subscription_ids],
        }
        for s, d in found
    ]
    return v.render("signups.html", 200, rows=rows, shown=SHOWN, section="/signups")
