"""The preference pages as a surface of the one request pipeline: their table (a page per
path, shown by GET and HEAD, posted by POST; the stylesheet) and the error page answered
before a page could be opened (no such page, a method it does not take)."""

from __future__ import annotations

from starlette.requests import Request as Page
from starlette.types import Scope

from commpref.errors import CommprefError
from commpref.http.operation import ErrorAnswer, Handler, Operation, Surface
from commpref.http.routing import Paths
from commpref.web import i18n, render
from commpref.web.pages import signup, views


def render_error(
    exc: Exception, correlation_id: str, request_id: bool, scope: Scope
) -> ErrorAnswer:
    """An error before any page could be opened (no such page, a method it does not take):
    an unbranded page in the language the URL or the browser asks for."""
    status, kind = views.problem(exc)
    request = Page(scope)
    query = request.query_params.get("languagePreference")
    language = i18n.choose([query, *i18n.accept_language(request.headers.get("accept-language"))])
    body = render.page("error.html", language, kind=kind, brand="", branding=None, again_url=None)
    headers = views.headers(render.PAGE_HEADERS)
    if isinstance(exc, CommprefError):
        headers += views.headers(tuple(exc.headers.items()))
    return status, views.HTML, body.encode(), headers


def _operation(method: str, path: str, handler: Handler, label: str) -> Operation:
    return Operation(
        name=f"{label}_{method.lower()}",
        label=label,
        method=method,
        path=views.PREFIX + path,
        versions=("",),
        handler=handler,
        summary=label,
        responses={},
        authorize=None,  # the link token in the URL is the credential (`services.links`)
        errors=frozenset({400, 403, 404, 405, 413, 500, 503}),
        gated=False,
    )


def surface() -> Surface:
    show, post = views.show, views.post
    operations = [
        _operation(method, views.STYLESHEET_PATH, views.stylesheet, "page_stylesheet")
        for method in ("GET", "HEAD")
    ]
    for path, page in views.PAGES.items():
        operations += [
            _operation("GET", path, show, f"page_{page}"),
            _operation("HEAD", path, show, f"page_{page}"),
            _operation("POST", path, post, f"page_{page}"),
        ]
    operations += [  # a sign-up's confirmation: the token in `t` is the credential
        _operation("GET", signup.PATH, signup.show, "page_signup_confirm"),
        _operation("HEAD", signup.PATH, signup.show, "page_signup_confirm"),
        _operation("POST", signup.PATH, signup.post, "page_signup_confirm"),
    ]
    return Surface(
        name="pages",
        operations=tuple(operations),
        router=Paths((o.method, o.path, o) for o in operations),
        unmatched_label="page_unmatched",
        render_error=render_error,
        correlation_headers=(b"x-request-id",),
        url=lambda version, o: o.path,
        operation_id=lambda o, version: o.name,
        tag=lambda version: "pages",
        error_texts={},
    )
