"""The console as a surface of the one request pipeline: its table (a view per method and
path, the stylesheet) and the error page answered before a view could run (no such page,
a method it does not take)."""

from __future__ import annotations

from starlette.requests import Request as Page
from starlette.types import Scope

from commpref.errors import CommprefError
from commpref.http.operation import ErrorAnswer, Handler, Operation, Raw, Reply, Request, Surface
from commpref.http.routing import Paths
from commpref.web import render
from commpref.web.console import admin, data, settings, signups, users, views
from commpref.web.console import feedback as feedback_pages
from commpref.web.console.visit import (
    HEADERS,
    HTML,
    PREFIX,
    STYLESHEET,
    header_pairs,
    language,
    problem,
)


async def stylesheet(rq: Request) -> Reply:
    css, _ = render.stylesheet(STYLESHEET)
    cache = ("Cache-Control", "public, max-age=86400")
    rq.headers.extend(header_pairs((*HEADERS[:-1], cache)))
    return 200, Raw("text/css; charset=utf-8", css)


async def root(rq: Request) -> Reply:
    """`/console` → `/console/`."""
    rq.headers.extend(header_pairs((*HEADERS, ("Location", PREFIX + "/"))))
    return 308, Raw(HTML, b"")


def render_error(
    exc: Exception, correlation_id: str, request_id: bool, scope: Scope
) -> ErrorAnswer:
    status, kind = problem(exc)
    _, version = render.stylesheet(STYLESHEET)
    body = render.html(
        "console/error.html",
        language(Page(scope)),
        css=f"{PREFIX}/static/{STYLESHEET}?v={version}",
        url=lambda path="/", **query: PREFIX + path,
        me=None,
        portal=None,
        portals=[],
        csrf="",
        kind=kind,
        message="",
    )
    headers = header_pairs(HEADERS)
    if isinstance(exc, CommprefError):
        headers += header_pairs(tuple(exc.headers.items()))
    return status, HTML, body.encode(), headers


# (method, path under /console, handler, metrics label)
ROUTES: tuple[tuple[str, str, Handler, str], ...] = (
    ("GET", f"/static/{STYLESHEET}", stylesheet, "console_stylesheet"),
    ("GET", "", root, "console_root"),
    ("GET", "/sign-in", views.sign_in_page, "console_sign_in"),
    ("POST", "/sign-in", views.sign_in, "console_sign_in"),
    ("POST", "/sign-out", views.sign_out, "console_sign_out"),
    ("GET", "/", views.overview, "console_overview"),
    ("GET", "/contacts", views.contacts, "console_contacts"),
    ("GET", "/contacts/{email}", views.contact, "console_contact"),
    ("POST", "/contacts/{email}", views.change_contact, "console_contact"),
    ("GET", "/imports", data.import_list, "console_imports"),
    ("POST", "/imports", data.import_upload, "console_imports"),
    ("GET", "/imports/{id}", data.import_page, "console_import"),
    ("POST", "/imports/{id}", data.import_cancel, "console_import"),
    ("GET", "/imports/{id}/report", data.import_report, "console_import_report"),
    ("GET", "/export", data.export, "console_export"),
    ("GET", "/webhooks", data.webhook_list, "console_webhooks"),
    ("POST", "/webhooks", data.webhook_create, "console_webhooks"),
    ("GET", "/webhooks/{id}", data.webhook_page, "console_webhook"),
    ("POST", "/webhooks/{id}", data.webhook_change, "console_webhook"),
    ("GET", "/types", admin.type_list, "console_types"),
    ("POST", "/types", admin.type_create, "console_types"),
    ("GET", "/types/{id}", admin.type_page, "console_type"),
    ("POST", "/types/{id}", admin.type_change, "console_type"),
    ("GET", "/business-units", admin.unit_list, "console_business_units"),
    ("POST", "/business-units", admin.unit_change, "console_business_units"),
    ("GET", "/tokens", admin.token_list, "console_tokens"),
    ("POST", "/tokens", admin.token_create, "console_tokens"),
    ("POST", "/tokens/{id}", admin.token_change, "console_token"),
    ("GET", "/settings", settings.settings_page, "console_settings"),
    ("POST", "/settings", settings.settings_change, "console_settings"),
    ("POST", "/settings/link-keys", settings.link_keys_change, "console_link_keys"),
    ("GET", "/signups", signups.signups_page, "console_signups"),
    ("GET", "/feedback", feedback_pages.feedback_page, "console_feedback"),
    ("POST", "/feedback", feedback_pages.feedback_change, "console_feedback"),
    ("GET", "/users", users.user_list, "console_users"),
    ("POST", "/users", users.user_create, "console_users"),
    ("POST", "/users/{id}", users.user_change, "console_user"),
)


def _operation(method: str, path: str, handler: Handler, label: str) -> Operation:
    return Operation(
        name=f"{label}_{method.lower()}",
        label=label,
        method=method,
        path=PREFIX + path,
        versions=("",),
        handler=handler,
        summary=label,
        responses={},
        authorize=None,  # the session cookie is the credential (`visit.view`)
        errors=frozenset({400, 401, 403, 404, 405, 409, 413, 429, 500, 503}),
        gated=False,
    )


def surface() -> Surface:
    operations = [_operation(*route) for route in ROUTES]
    # HEAD wherever GET is: the same handler, the pipeline sends no body.
    operations += [_operation("HEAD", p, h, label) for m, p, h, label in ROUTES if m == "GET"]
    return Surface(
        name="console",
        operations=tuple(operations),
        router=Paths((o.method, o.path, o) for o in operations),
        unmatched_label="console_unmatched",
        render_error=render_error,
        correlation_headers=(b"x-request-id",),
        url=lambda version, o: o.path,
        operation_id=lambda o, version: o.name,
        tag=lambda version: "console",
        error_texts={},
    )
