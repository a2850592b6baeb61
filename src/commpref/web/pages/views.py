"""The preference pages under `/hs/manage-preferences/` (docs/wire-contract.md §5.14, §11).

| path                                  | GET (changes nothing)       | POST                      |
|---------------------------------------|-----------------------------|---------------------------|
| `unsubscribe`                         | manage page: a box per type | save the boxes            |
| `unsubscribe-all`                     | confirmation, one button    | opt out of all            |
| `unsubscribe-single?subscriptionId=N` | confirmation, one button    | unsubscribe from the type |

Every URL carries the link token in `d`. Form POSTs also need the page's form token
(`forms`). A POST whose body is `List-Unsubscribe=One-Click` (URL-encoded or multipart) to
either unsubscribe URL is an RFC 8058 one-click request: it needs no cookie and no form
token, unsubscribes at once and answers 200 with a tiny text body — never a redirect. It
is honoured even when the link has expired: an unsubscribe request must work from any
email ever sent; expiry only hides the pages.

Problems never reach a 500: a bad token is a 400 page, an unknown portal or type a 404,
a refused form a 403, an unreadable one a 400, all in the page's language and with the
security headers of `render`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request as Page

from commpref.errors import (
    CommprefError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unavailable,
)
from commpref.http import logs
from commpref.http.operation import Handler, Raw, Reply, Request
from commpref.http.runtime import Runtime
from commpref.http.transport import ClientDisconnected, read_body
from commpref.services import links, preferences
from commpref.services.preferences import Link
from commpref.web import forms, i18n, render

PREFIX = "/hs/manage-preferences"
MAX_BODY_BYTES = 64 * 1024  # a form of 200 types is a few kilobytes
PAGES = {"/unsubscribe": "manage", "/unsubscribe-all": "all", "/unsubscribe-single": "single"}
STYLESHEET_PATH = f"/static/{render.STYLESHEET}"
ONE_CLICK_FIELD, ONE_CLICK_VALUE = links.ONE_CLICK.split("=")
HTML = "text/html; charset=utf-8"


class FormRejected(CommprefError):
    """A form POST without a valid form token, or sent from another site."""

    http_status = 403


@dataclass(slots=True)
class _Visit:
    """One request to a page."""

    request: Page
    page: str  # "manage" | "all" | "single"
    correlation_id: str
    now: int
    link: Link | None = None

    @property
    def token(self) -> str:
        return self.request.query_params.get("d", "")

    def subscription_id(self) -> int:
        raw = self.request.query_params.get("subscriptionId", "")
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
            raise NotFound("Unknown subscriptionId")
        return int(raw)


def _language(visit: _Visit) -> str:
    """The link's language, then the portal's, then English; without a valid link, the
    URL's `languagePreference`, then the browser's languages."""
    if visit.link is not None:
        return i18n.choose(visit.link.languages)
    query = visit.request.query_params.get("languagePreference")
    return i18n.choose([query, *i18n.accept_language(visit.request.headers.get("accept-language"))])


def _url(name: str, link: Link, subscription_id: int | None = None) -> str:
    """A page URL relative to the current one (works behind any path prefix)."""
    query = {"languagePreference": link.claims.language, "d": link.token, "v": "3"}
    if subscription_id is not None:
        query["subscriptionId"] = str(subscription_id)
    return f"{name}?{urlencode(query)}"


def headers(pairs: tuple[tuple[str, str], ...]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in pairs]


def _html(
    rq: Request, body: str, status: int = 200, pairs: tuple[tuple[str, str], ...] = ()
) -> Reply:
    rq.headers.extend(headers(pairs or render.PAGE_HEADERS))
    return status, Raw(HTML, body.encode())


async def stylesheet(rq: Request) -> Reply:
    css, _ = render.stylesheet()
    rq.headers.extend(
        headers((*render.SECURITY_HEADERS, ("Cache-Control", "public, max-age=86400")))
    )
    return 200, Raw("text/css; charset=utf-8", css)


def _page(step: Callable[[_Pages, _Visit], Awaitable[Reply]]) -> Handler:
    """A page's handler: the page's errors are answered by a page branded with the link
    when the link could be read (the surface's own error page covers what comes before)."""

    async def handler(rq: Request) -> Reply:
        page = PAGES[rq.operation.path.removeprefix(PREFIX)]
        pages = _Pages(rq)
        visit = _Visit(Page(rq.scope, rq.receive), page, rq.correlation_id, rq.now)
        try:
            return await step(pages, visit)
        except ClientDisconnected:
            raise
        except CommprefError as exc:
            return pages.error(visit, exc)
        except Exception as exc:
            logs.error("unhandled error", rq.correlation_id, exc)
            return pages.error(visit, exc)

    return handler


class _Pages:
    """One request to a page: the steps of showing or posting it."""

    def __init__(self, rq: Request) -> None:
        self.rq = rq
        self.runtime: Runtime = rq.runtime

    # --- the pages ---------------------------------------------------------------------

    async def _open(self, visit: _Visit, *, allow_expired: bool = False) -> Link:
        """The visit's verified link; ExpiredLink (after it is known, so that the error page
        is branded) unless `allow_expired`."""
        rt = self.runtime
        visit.link = await preferences.open_link(
            store=rt.store, keys=rt.link_keys, token=visit.token, now=visit.now, max_age_days=0
        )
        max_age = rt.settings.link_max_age_days
        if not allow_expired and links.expired(
            visit.link.claims, now=visit.now, max_age_days=max_age
        ):
            raise links.ExpiredLink()
        return visit.link

    def _render(self, visit: _Visit, template: str, **values: object) -> Reply:
        link = visit.link
        assert link is not None
        branding = render.Branding.of(link.ctx.portal)
        body = render.page(
            template,
            _language(visit),
            brand=branding.name,
            branding=branding,
            email=link.email,
            manage_url=_url("unsubscribe", link),
            **values,
        )
        return _html(self.rq, body, pairs=branding.headers())

    def _form_token(self, visit: _Visit, purpose: str) -> str:
        assert visit.link is not None
        return forms.form_token(self.runtime.link_keys[0], purpose, visit.link.token)

    async def show(self, visit: _Visit) -> Reply:
        link = await self._open(visit)
        store = self.runtime.store
        if visit.page == "single":
            definition = preferences.find_definition(link, visit.subscription_id())
            choice = await preferences.choice(store=store, link=link, definition=definition)
            return self._render(
                visit,
                "confirm.html",
                choice=choice,
                opted_out=False,
                action=_url("unsubscribe-single", link, definition.id),
                csrf=self._form_token(visit, f"single:{definition.id}"),
            )
        prefs = await preferences.preferences(store=store, link=link)
        if visit.page == "all":
            return self._render(
                visit,
                "confirm.html",
                choice=None,
                opted_out=prefs.opted_out,
                action=_url("unsubscribe-all", link),
                csrf=self._form_token(visit, "all"),
            )
        return self._render(
            visit,
            "manage.html",
            opted_out=prefs.opted_out,
            choices=prefs.choices,
            action=_url("unsubscribe", link),
            csrf=self._form_token(visit, "manage"),
        )

    async def post(self, visit: _Visit) -> Reply:
        # The link first (expired ones too: one-click honours them), so that even a form
        # refused below gets a branded page; then the body decides what the POST is.
        link = await self._open(visit, allow_expired=True)
        request = visit.request
        body, too_large = await read_body(request.receive, MAX_BODY_BYTES)
        if too_large:
            raise PayloadTooLarge("Form too large")
        form = await forms.parse(body, request.headers.get("content-type"))
        one_click = visit.page != "manage" and any(
            k == ONE_CLICK_FIELD and v.strip().lower() == ONE_CLICK_VALUE.lower() for k, v in form
        )
        if one_click:
            return await self._one_click(visit, link)
        await self._open(visit)  # forms need a link that has not expired
        store = self.runtime.store
        subscription_id = visit.subscription_id() if visit.page == "single" else None
        purpose = {"manage": "manage", "all": "all"}.get(visit.page, f"single:{subscription_id}")
        self._check_form(visit, form, purpose)
        cid, now = visit.correlation_id, visit.now
        if subscription_id is not None:
            definition = preferences.find_definition(link, subscription_id)
            choice = await preferences.unsubscribe_one(
                store=store,
                link=link,
                definition=definition,
                actor=preferences.PAGE,
                correlation_id=cid,
                now=now,
            )
            return self._render(visit, "done.html", choice=choice)
        if visit.page == "all":
            await preferences.unsubscribe_everything(
                store=store, link=link, actor=preferences.PAGE, correlation_id=cid, now=now
            )
            return self._render(visit, "done.html", choice=None)
        wanted = {
            int(v)
            for k, v in form
            if k == "subscription" and v.isascii() and v.isdigit() and len(v) < 20
        }
        everything = any(k == "unsubscribe_all" for k, _ in form)
        prefs = await preferences.save(
            store=store,
            link=link,
            wanted=wanted,
            unsubscribe_all=everything,
            correlation_id=cid,
            now=now,
        )
        return self._render(visit, "saved.html", opted_out=prefs.opted_out, choices=prefs.choices)

    def _check_form(self, visit: _Visit, form: forms.Form, purpose: str) -> None:
        # Browsers say where a POST comes from; a form sent from another site is refused
        # even before its token is looked at. (Origin is useless here: with
        # `Referrer-Policy: no-referrer` browsers send `Origin: null`.)
        site = visit.request.headers.get("sec-fetch-site")
        if site not in (None, "same-origin", "none"):
            raise FormRejected("Cross-site form")
        values = [v for k, v in form if k == "csrf"]
        token = values[0] if len(values) == 1 else None
        if not forms.form_token_ok(token, self.runtime.link_keys, purpose, visit.token):
            raise FormRejected("Missing or invalid form token")

    async def _one_click(self, visit: _Visit, link: Link) -> Reply:
        """RFC 8058: unsubscribe now; no cookie, no form token, 200, no redirect."""
        store = self.runtime.store
        if visit.page == "single":
            definition = preferences.find_definition(link, visit.subscription_id())
            await preferences.unsubscribe_one(
                store=store,
                link=link,
                definition=definition,
                actor=preferences.ONE_CLICK,
                correlation_id=visit.correlation_id,
                now=visit.now,
            )
        else:
            await preferences.unsubscribe_everything(
                store=store,
                link=link,
                actor=preferences.ONE_CLICK,
                correlation_id=visit.correlation_id,
                now=visit.now,
            )
        self.rq.headers.extend(headers(render.PAGE_HEADERS))
        return 200, Raw("text/plain; charset=utf-8", b"Unsubscribed\n")

    # --- errors ------------------------------------------------------------------------

    def error(self, visit: _Visit, exc: Exception) -> Reply:
        status, kind = problem(exc)
        link = visit.link
        branding = render.Branding.of(link.ctx.portal) if link is not None else None
        body = render.page(
            "error.html",
            _language(visit),
            kind=kind,
            brand=branding.name if branding else "",
            branding=branding,
            again_url=_again_url(visit) if status == 403 else None,
        )
        return _html(self.rq, body, status, branding.headers() if branding else ())


def _again_url(visit: _Visit) -> str | None:
    """The page a refused form came from, to start over."""
    if visit.link is None:
        return None
    name = next(path for path, page in PAGES.items() if page == visit.page).lstrip("/")
    if visit.page != "single":
        return _url(name, visit.link)
    return _url(name, visit.link, visit.subscription_id())


def problem(exc: Exception) -> tuple[int, str]:
    """HTTP status and error-page kind of an exception."""
    if isinstance(exc, links.ExpiredLink):
        return 400, "expired"
    if isinstance(exc, links.InvalidLink):
        return 400, "invalid"
    if isinstance(exc, NotFound):
        return 404, "not_found"
    if isinstance(exc, FormRejected):
        return 403, "form"
    if isinstance(exc, forms.BadForm):
        return 400, "bad_form"
    if isinstance(exc, PayloadTooLarge):
        return 413, "bad_form"
    if isinstance(exc, MethodNotAllowed):
        return 405, "method"
    if isinstance(exc, Unavailable):
        return 503, "unavailable"
    if isinstance(exc, CommprefError) and 400 <= exc.http_status < 500:
        return 400, "invalid"
    return 500, "internal"


show = _page(_Pages.show)
post = _page(_Pages.post)
