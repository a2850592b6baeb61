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

import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from commpref.errors import (
    CommprefError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    Unavailable,
)
from commpref.http import logs
from commpref.http.runtime import Runtime
from commpref.http.transport import ClientDisconnected, read_body
from commpref.services import links, preferences
from commpref.services.context import now_ms
from commpref.services.preferences import Link
from commpref.web import forms, i18n, render

PREFIX = "/hs/manage-preferences"
MAX_BODY_BYTES = 64 * 1024  # a form of 200 types is a few kilobytes
PAGES = {"/unsubscribe": "manage", "/unsubscribe-all": "all", "/unsubscribe-single": "single"}
STYLESHEET_PATH = f"/static/{render.STYLESHEET}"
ALLOW = "GET, HEAD, POST"
ONE_CLICK_FIELD, ONE_CLICK_VALUE = links.ONE_CLICK.split("=")


class FormRejected(CommprefError):
    """A form POST without a valid form token, or sent from another site."""

    http_status = 403


@dataclass(slots=True)
class _Visit:
    """One request to a page."""

    request: Request
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


def _html(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        body,
        status,
        headers={**dict(render.PAGE_HEADERS), **(headers or {})},
        media_type="text/html; charset=utf-8",
    )


class PreferencePages:
    """The ASGI app mounted at `PREFIX`."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        t0 = time.perf_counter()
        request = Request(scope, receive)
        root = scope.get("root_path", "")
        path = scope["path"][len(root) :] if scope["path"].startswith(root) else scope["path"]
        cid = str(uuid.uuid4())
        try:
            response = await self._dispatch(request, path, cid)
        except ClientDisconnected:
            return
        response.headers["x-request-id"] = cid
        if self.runtime.settings.access_log:
            duration = (time.perf_counter() - t0) * 1000
            logs.access(request.method, PREFIX + path, response.status_code, duration, cid)
        await response(scope, receive, send)

    async def _dispatch(self, request: Request, path: str, cid: str) -> Response:
        method = request.method
        if path == STYLESHEET_PATH and method in ("GET", "HEAD"):
            css, _ = render.stylesheet()
            headers = {**dict(render.SECURITY_HEADERS), "Cache-Control": "public, max-age=86400"}
            return Response(css, headers=headers, media_type="text/css; charset=utf-8")
        visit = _Visit(request, PAGES.get(path, ""), cid, now_ms())
        try:
            if not visit.page:
                raise NotFound(f"No page at {path}")
            if method in ("GET", "HEAD"):
                return await self._show(visit)
            if method == "POST":
                return await self._post(visit)
            raise MethodNotAllowed(f"Method {method} not allowed")
        except ClientDisconnected:
            raise
        except CommprefError as exc:
            return self._error(visit, exc)
        except Exception as exc:
            logs.error("unhandled error", cid, exc)
            return self._error(visit, exc)

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

    def _render(self, visit: _Visit, template: str, **values: object) -> Response:
        link = visit.link
        assert link is not None
        body = render.page(
            template,
            _language(visit),
            brand=link.ctx.portal.name,
            email=link.email,
            manage_url=_url("unsubscribe", link),
            **values,
        )
        return _html(body)

    def _form_token(self, visit: _Visit, purpose: str) -> str:
        assert visit.link is not None
        return forms.form_token(self.runtime.link_keys[0], purpose, visit.link.token)

    async def _show(self, visit: _Visit) -> Response:
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

    async def _post(self, visit: _Visit) -> Response:
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

    async def _one_click(self, visit: _Visit, link: Link) -> Response:
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
        headers = {**dict(render.PAGE_HEADERS)}
        return Response(b"Unsubscribed\n", headers=headers, media_type="text/plain; charset=utf-8")

    # --- errors ------------------------------------------------------------------------

    def _error(self, visit: _Visit, exc: Exception) -> Response:
        status, kind = _problem(exc)
        link = visit.link
        headers = {"Allow": ALLOW} if status == 405 else None
        body = render.page(
            "error.html",
            _language(visit),
            kind=kind,
            brand=link.ctx.portal.name if link is not None else "",
            again_url=_again_url(visit) if status == 403 else None,
        )
        return _html(body, status, headers)


def _again_url(visit: _Visit) -> str | None:
    """The page a refused form came from, to start over."""
    if visit.link is None:
        return None
    name = next(path for path, page in PAGES.items() if page == visit.page).lstrip("/")
    if visit.page != "single":
        return _url(name, visit.link)
    return _url(name, visit.link, visit.subscription_id())


def _problem(exc: Exception) -> tuple[int, str]:
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
