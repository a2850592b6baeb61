"""One request to the console: its session, its user's role, its portal, its form, and how
it answers (a page, a redirect, a download, an error page).

Every console page is a `view`: the pipeline routes it as a public operation (no API
token), and `view` does the console's own checks, in this order:

1. the session cookie → a live session and an enabled user (none: a GET is sent to the
   sign-in page, a POST is refused);
2. a POST's form: sent from this site (`Sec-Fetch-Site`) and carrying the session's form
   token (CSRF), else 403;
3. the user's role is at least the view's (a viewer's POST is refused with 403);
4. the portal (`?portal=`): one the user may see, else 404, as if it did not exist.

Problems are answered with the console's error page in the user's language, never a 500
page without it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException
from starlette.requests import Request as Page

from commpref.domain.console import ConsoleSession, ConsoleUser, Role
from commpref.domain.model import Actor, Portal, PortalContext
from commpref.errors import (
    CommprefError,
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    ValidationError,
)
from commpref.http import logs
from commpref.http.operation import Handler, Raw, Reply, Request
from commpref.http.transport import ClientDisconnected, read_body
from commpref.services import console
from commpref.services.context import Call
from commpref.web import forms, i18n, render

PREFIX = "/console"
COOKIE = "commpref_console"
SECURE_COOKIE = "__Host-commpref_console"  # behind HTTPS: bound to this host, Secure
SIGNIN_COOKIE = "commpref_console_signin"  # the sign-in form's double-submit token
STYLESHEET = "console.css"
HTML = "text/html; charset=utf-8"
MAX_FORM_BYTES = 256 * 1024
SOURCE = "Console"
REFUSED = (ValidationError, Conflict)  # re-render the form with the message; others: error page
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS: tuple[tuple[str, str], ...] = (
    ("Content-Security-Policy", CSP),
    ("Referrer-Policy", "same-origin"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Cache-Control", "no-store"),
)


class SignInRequired(Forbidden):
    pass


def header_pairs(pairs: tuple[tuple[str, str], ...]) -> list[tuple[bytes, bytes]]:
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in pairs]


def cookies(page: Page) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(page.headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is no cookie at all
        return {}
    return {k: m.value for k, m in jar.items()}


def language(page: Page) -> str:
    return i18n.choose(i18n.accept_language(page.headers.get("accept-language")))


@dataclass(slots=True)
class Visit:
    rq: Request
    page: Page
    language: str
    session: ConsoleSession | None = None
    user: ConsoleUser | None = None
    portals: list[Portal] = field(default_factory=list)
    ctx: PortalContext | None = None
    form: forms.Form = field(default_factory=list)
    upload: UploadFile | None = None

    # --- what the request carries ------------------------------------------------------
    @property
    def secure(self) -> bool:
        base = self.rq.runtime.settings.public_base_url or ""
        return self.rq.scope.get("scheme") == "https" or base.startswith("https:")

    @property
    def cookie_name(self) -> str:
        return SECURE_COOKIE if self.secure else COOKIE

    def cookie(self) -> str | None:
        return cookies(self.page).get(self.cookie_name)

    def value(self, name: str, default: str = "") -> str:
        """A form field (the first of its name), stripped of surrounding space."""
        for k, v in self.form:
            if k == name:
                return v.strip()
        return default

    def raw(self, name: str) -> str:
        """A form field exactly as typed (a password's spaces are part of it)."""
        return next((v for k, v in self.form if k == name), "")

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.form if k == name]

    def typed(self, names: Sequence[str]) -> dict[str, str]:
        """The fields `names` as typed ("" when not sent), to refill a refused form."""
        return {name: self.value(name) for name in names}

    def path_id(self, what: str) -> int:
        """The id in the path; anything but a number is no such thing (404)."""
        raw = self.rq.param or ""
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            raise NotFound(f"No such {what}")
        return int(raw)

    def query(self, name: str, default: str = "") -> str:
        return self.page.query_params.get(name, default)

    @property
    def portal(self) -> PortalContext:
        assert self.ctx is not None, "a view of a portal"
        return self.ctx

    @property
    def me(self) -> ConsoleUser:
        assert self.user is not None, "a signed-in view"
        return self.user

    def call(self) -> Call:
        """Who changes what: the console user, recorded in the ledger as `console:<id>`."""
        return Call(
            self.portal, Actor("console", str(self.me.id)), SOURCE, self.rq.correlation_id,
            self.rq.now,
        )  # fmt: skip

    # --- answers ---------------------------------------------------------------------
    def url(self, path: str = "/", **query: Any) -> str:
        """A console URL, on the current portal unless `portal` is given."""
        if self.ctx is not None:
            query.setdefault("portal", self.ctx.portal.id)
        pairs = {k: v for k, v in query.items() if v is not None and v != ""}
        suffix = f"?{urlencode(pairs)}" if pairs else ""
        return f"{PREFIX}{path}{suffix}"

    def render(self, template: str, status: int = 200, **values: Any) -> Reply:
        _, version = render.stylesheet(STYLESHEET)
        body = render.html(
            f"console/{template}",
            self.language,
            css=f"{PREFIX}/static/{STYLESHEET}?v={version}",
            url=self.url,
            me=self.user,
            portal=self.ctx.portal if self.ctx else None,
            portals=self.portals,
            csrf=console.form_token(self.session) if self.session else "",
            Role=Role,
            **values,
        )
        self.rq.headers.extend(header_pairs(HEADERS))
        return status, Raw(HTML, body.encode())

    def add_headers(self) -> None:
        """The console's headers on an answer not made by `render` (a download)."""
        self.rq.headers.extend(header_pairs(HEADERS))

    def redirect(self, location: str) -> Reply:
        self.rq.headers.extend(header_pairs((*HEADERS, ("Location", location))))
        return 303, Raw(HTML, b"")

    def download(self, media_type: str, filename: str, body: bytes) -> Reply:
        disposition = f'attachment; filename="{filename}"'
        self.rq.headers.extend(header_pairs((*HEADERS, ("Content-Disposition", disposition))))
        return 200, Raw(media_type, body)

    def set_cookie(self, name: str, value: str, *, max_age: int | None = None) -> None:
        parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
        if self.secure:
            parts.append("Secure")
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        self.rq.headers.append((b"set-cookie", "; ".join(parts).encode("latin-1")))

    def error(self, exc: Exception) -> Reply:
        status, kind = problem(exc)
        if isinstance(exc, CommprefError):
            self.rq.headers.extend(header_pairs(tuple(exc.headers.items())))
        message = exc.message if isinstance(exc, CommprefError) and status < 500 else ""
        return self.render("error.html", status, kind=kind, message=message)

    # --- the checks ------------------------------------------------------------------
    async def read_form(self) -> None:
        body, too_large = await read_body(self.rq.receive, MAX_FORM_BYTES)
        if too_large:
            raise PayloadTooLarge("Form too large")
        self.form = await forms.parse(body, self.page.headers.get("content-type"))

    async def read_upload(self) -> None:
        """A multipart form with at most one file (kept on disk past 1 MB by Starlette)."""
        if not self.page.headers.get("content-type", "").startswith("multipart/form-data"):
            raise forms.BadForm()
        try:
            parsed = await self.page.form(max_files=1, max_fields=20)
        except MultiPartException as exc:
            raise forms.BadForm() from exc
        for key, value in parsed.multi_items():
            if isinstance(value, str):
                self.form.append((key, value))
            else:
                self.upload = value

    def check_origin(self) -> None:
        """A form sent from another site is refused before anything else is read."""
        site = self.page.headers.get("sec-fetch-site")
        if site not in (None, "same-origin", "none"):
            raise Forbidden("Cross-site form")

    def check_form_token(self) -> None:
        values = self.values("csrf")
        given = values[0] if len(values) == 1 else None
        if self.session is None or not console.form_token_ok(self.session, given):
            raise Forbidden("Missing or invalid form token: reload the page and try again")

    async def open_session(self) -> bool:
        rt = self.rq.runtime
        found = await console.session(
            store=rt.store, settings=rt.settings, cookie=self.cookie(), now=self.rq.now
        )
        if found is None:
            return False
        self.session, self.user = found
        return True

    async def open_portal(self) -> None:
        store = self.rq.runtime.store
        self.portals = [p for p in await store.list_portals() if self.me.sees(p.id)]
        raw = self.query("portal")
        if not raw:
            if not self.portals:
                raise NotFound("You may see no portal yet: ask an owner to give you one")
            portal_id = self.portals[0].id
        elif raw.isascii() and raw.isdigit() and len(raw) < 19:
            portal_id = int(raw)
        else:
            raise NotFound("No such portal")
        if not any(p.id == portal_id for p in self.portals):
            raise NotFound("No such portal")
        self.ctx = await store.portal_context(portal_id)


def problem(exc: Exception) -> tuple[int, str]:
    """HTTP status and error-page kind of an exception."""
    if isinstance(exc, CommprefError) and 400 <= exc.http_status < 600:
        status = exc.http_status
    else:
        status = 500
    kinds = {403: "forbidden", 404: "not_found", 409: "conflict", 429: "throttled",
             503: "unavailable"}  # fmt: skip
    return status, kinds.get(status, "invalid" if status < 500 else "internal")


View = Callable[[Visit], Awaitable[Reply]]


def view(
    role: Role | None, *, portal: bool = True, form: bool = False, upload: bool = False
) -> Callable[[View], Handler]:
    """A console page: `role` None for the signed-out pages (sign-in); `form` for a POST,
    whose form is read and checked before the view runs (`upload`: a multipart form with a
    file)."""

    def wrap(fn: View) -> Handler:
        async def handler(rq: Request) -> Reply:
            page = Page(rq.scope, rq.receive)
            visit = Visit(rq, page, language(page))
            try:
                if form:
                    visit.check_origin()
                if role is not None:
                    if not await visit.open_session():
                        raise SignInRequired("Sign in first")
                    if form:
                        await (visit.read_upload() if upload else visit.read_form())
                        visit.check_form_token()
                    if not visit.me.may(role):
                        raise Forbidden(f"This needs the {role.label} role or higher")
                    if portal:
                        await visit.open_portal()
                elif form:
                    await visit.read_form()
                return await fn(visit)
            except ClientDisconnected:
                raise
            except SignInRequired as exc:
                if rq.operation.method in ("GET", "HEAD"):
                    target = rq.scope.get("raw_path", b"").decode("latin-1")
                    query = rq.scope.get("query_string", b"").decode("latin-1")
                    back = f"{target}?{query}" if query else target
                    return visit.redirect(f"{PREFIX}/sign-in?{urlencode({'next': back})}")
                return visit.error(exc)
            except CommprefError as exc:
                return visit.error(exc)
            except Exception as exc:
                logs.error("unhandled error", rq.correlation_id, exc)
                return visit.error(exc)
            finally:
                if visit.upload is not None:
                    await visit.upload.close()

        return handler

    return wrap
