"""The confirmation page of a double opt-in sign-up: `/hs/manage-preferences/confirm?t=`.

GET shows what would be confirmed (the brand and the asked types, in the sign-up's
language) and one button; it changes nothing, so mail scanners and link previews that
open the link confirm nothing. The button POSTs the page's form token (`forms`, bound to
the confirmation token) and confirms: `services.signups.confirm`. Confirming again shows
that it is confirmed already and writes nothing; an expired link is a 400 page, an
unknown one a 404 page; nothing here answers a 500 for bad input.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request as Page

from commpref.domain.model import Definition
from commpref.domain.signups import SignupState
from commpref.errors import CommprefError, NotFound, PayloadTooLarge
from commpref.http import logs
from commpref.http.operation import Raw, Reply, Request
from commpref.http.transport import ClientDisconnected, read_body
from commpref.services import signups
from commpref.services.signups import Pending
from commpref.web import forms, i18n, render
from commpref.web.pages import views

PATH = "/confirm"
PURPOSE = "signup-confirm"
MAX_BODY_BYTES = 4 * 1024  # one hidden field


def _localised(d: Definition, language: str) -> tuple[str, str]:
    for t in d.translations:
        if t.language_code.lower().replace("_", "-").split("-")[0] == language:
            return t.name, t.description
    return d.name, d.description


class _Confirm:
    def __init__(self, rq: Request) -> None:
        self.rq = rq
        self.page = Page(rq.scope, rq.receive)
        self.token = self.page.query_params.get("t", "")
        self.pending: Pending | None = None

    @property
    def language(self) -> str:
        if self.pending is not None:
            s, portal = self.pending.signup, self.pending.ctx.portal
            return i18n.choose([s.language, portal.default_language])
        query = self.page.query_params.get("languagePreference")
        header = self.page.headers.get("accept-language")
        return i18n.choose([query, *i18n.accept_language(header)])

    async def open(self) -> Pending:
        self.pending = await signups.open_token(store=self.rq.runtime.store, token=self.token)
        return self.pending

    def render(self, state: str, status: int = 200, **values: object) -> Reply:
        pending = self.pending
        assert pending is not None
        branding = render.Branding.of(pending.ctx.portal)
        language = self.language
        body = render.page(
            "signup.html",
            language,
            state=state,
            brand=branding.name,
            branding=branding,
            email=pending.signup.email,
            types=[_localised(d, language) for d in pending.definitions()],
            **values,
        )
        self.rq.headers.extend(views.headers(branding.headers()))
        return status, Raw(views.HTML, body.encode())

    def state_page(self) -> Reply | None:
        """The page of a sign-up that can no longer be confirmed, if it is one."""
        assert self.pending is not None
        state = self.pending.signup.state(self.rq.now)
        if state is SignupState.CONFIRMED:
            return self.render("already")
        if state is SignupState.EXPIRED:
            return self.render("expired", 400)
        return None

    async def show(self) -> Reply:
        await self.open()
        done = self.state_page()
        if done is not None:
            return done
        key = self.rq.runtime.link_keys[0]
        action = f"confirm?{urlencode({'t': self.token})}"
        return self.render("ask", action=action, csrf=forms.form_token(key, PURPOSE, self.token))

    async def post(self) -> Reply:
        pending = await self.open()
        body, too_large = await read_body(self.page.receive, MAX_BODY_BYTES)
        if too_large:
            raise PayloadTooLarge("Form too large")
        form = await forms.parse(body, self.page.headers.get("content-type"))
        site = self.page.headers.get("sec-fetch-site")
        if site not in (None, "same-origin", "none"):
            raise views.FormRejected("Cross-site form")
        values = [v for k, v in form if k == "csrf"]
        csrf = values[0] if len(values) == 1 else None
        if not forms.form_token_ok(csrf, self.rq.runtime.link_keys, PURPOSE, self.token):
            raise views.FormRejected("Missing or invalid form token")
        done = self.state_page()
        if done is not None:
            return done
        confirmed = await signups.confirm(
            store=self.rq.runtime.store,
            pending=pending,
            page_language=self.language,
            correlation_id=self.rq.correlation_id,
            now=self.rq.now,
        )
        if confirmed:
            return self.render("confirmed")
        # Confirmed (or expired) by a request that ran meanwhile: show what it left.
        await self.open()
        return self.state_page() or self.render("already")

    def error(self, exc: Exception) -> Reply:
        status, kind = views.problem(exc)
        if isinstance(exc, NotFound):
            kind = "invalid"  # "this link does not work": the page's own wording
        pending = self.pending
        branding = render.Branding.of(pending.ctx.portal) if pending is not None else None
        again = f"confirm?{urlencode({'t': self.token})}" if status == 403 else None
        body = render.page(
            "error.html",
            self.language,
            kind=kind,
            brand=branding.name if branding else "",
            branding=branding,
            again_url=again,
        )
        pairs = branding.headers() if branding else render.PAGE_HEADERS
        self.rq.headers.extend(views.headers(pairs))
        return status, Raw(views.HTML, body.encode())


async def _run(rq: Request, post: bool) -> Reply:
    page = _Confirm(rq)
    try:
        return await (page.post() if post else page.show())
    except ClientDisconnected:
        raise
    except CommprefError as exc:
        return page.error(exc)
    except Exception as exc:
        logs.error("unhandled error", rq.correlation_id, exc)
        return page.error(exc)


async def show(rq: Request) -> Reply:
    return await _run(rq, post=False)


async def post(rq: Request) -> Reply:
    return await _run(rq, post=True)
