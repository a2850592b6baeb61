"""Composition root: `create_app(settings)` builds the ASGI app; nothing happens at import.

The store is opened (and migrations applied) in the lifespan and closed on shutdown, after
uvicorn has finished the in-flight requests.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from commpref.http import metrics
from commpref.http.front import JsonApis
from commpref.http.metrics import Metrics
from commpref.http.ratelimit import RateLimiter
from commpref.http.runtime import Runtime
from commpref.jobs.runner import Workers
from commpref.services import links
from commpref.settings import Settings
from commpref.storage import open_store
from commpref.storage.store import Store
from commpref.web import PREFIX, PreferencePages


def base_url(settings: Settings) -> str:
    """Base of preference links: `public_base_url`, else where `serve` listens (§5.14)."""
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{settings.port}"


def create_app(settings: Settings) -> ASGIApp:
    runtime = Runtime(settings=settings, base_url=base_url(settings), metrics=Metrics())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = open_store(settings)
        await store.open()
        observing = asyncio.create_task(_observe(store, runtime.metrics))
        workers: Workers | None = None
        try:
            runtime.link_keys = await links.signing_keys(
                store=store, configured=settings.link_signing_keys
            )
            runtime.rate_limiter = RateLimiter(store)
            runtime.store_ = store
            # Import jobs and webhook deliveries (jobs/): started once the store is open.
            workers = _workers(store, settings, runtime.metrics)
            yield
        finally:
            observing.cancel()
            if workers is not None:
                await workers.stop()
            runtime.store_ = None
            await store.close()
            metrics.process_exited(os.getpid())

    # Starlette supplies the lifespan and serves the preference pages (web/) under PREFIX.
    # `JsonApis` routes on the raw path itself, which Starlette's router cannot (it matches the
    # decoded path), and renders every error of its own, so API requests skip Starlette's
    # middleware and router (`_Front`). Whatever reaches Starlette and is not a page also
    # goes to `JsonApis`, as the router's default: a `Mount("")` matches the decoded path with a
    # regex that stops at a newline, so `%0A` in a path got Starlette's plain-text 404
    # instead of HubSpot's JSON one (found by the fuzzer).
    api = JsonApis(runtime)
    pages = Starlette(routes=[Mount(PREFIX, app=PreferencePages(runtime))], lifespan=lifespan)
    pages.router.default = api
    return _Front(api, pages)


_PAGES = PREFIX + "/"


class _Front:
    """The ASGI application: API requests straight to `JsonApis` (the layers they skip would
    add work to every single GET), the lifespan and the pages to Starlette."""

    def __init__(self, api: ASGIApp, pages: Starlette) -> None:
        self.api, self.pages = api, pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and not (path == PREFIX or path.startswith(_PAGES)):
            await self.api(scope, receive, send)
        else:
            await self.pages(scope, receive, send)


def _workers(store: Store, settings: Settings, m: Metrics | None) -> Workers | None:
    if not settings.jobs_enabled:
        return None
    workers = Workers(store, settings, on_backlog=None if m is None else m.set_webhook_backlog)
    workers.start()
    return workers


async def _observe(store: Store, m: Metrics | None) -> None:
    """Feed /metrics from the store: commits as they happen, pool use every second (each
    worker refreshes its own gauges, so a scrape of any worker sees all of them)."""
    if m is None:
        return
    store.add_commit_listener(m.committed)
    m.pool_source = store.pool_stats
    while True:
        m.sample()
        await asyncio.sleep(1.0)
