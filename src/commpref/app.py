"""Composition root: `create_app(settings)` builds the ASGI app; nothing happens at import.

The store is opened (and migrations applied) in the lifespan and closed on shutdown, after
uvicorn has finished the in-flight requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from commpref.http import api, hubspot, logs, metrics, service
from commpref.http.metrics import Metrics
from commpref.http.overload import Gate
from commpref.http.pipeline import Pipeline
from commpref.http.ratelimit import RateLimiter
from commpref.http.runtime import Runtime
from commpref.jobs.runner import Workers
from commpref.services import links
from commpref.services.auth import TokenUses
from commpref.settings import Settings
from commpref.storage import open_store
from commpref.storage.store import Store
from commpref.web import console, pages


def create_app(settings: Settings) -> ASGIApp:
    runtime = Runtime(settings=settings, base_url=links.base_url(settings), metrics=Metrics())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = open_store(settings)
        await store.open()
        observing = asyncio.create_task(_observe(store, runtime.metrics))
        runtime.token_uses = uses = TokenUses()
        recording = asyncio.create_task(_record_token_uses(store, uses))
        workers: Workers | None = None
        runtime.http_client = client = httpx.AsyncClient(follow_redirects=False, trust_env=False)
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
            recording.cancel()
            if workers is not None:
                await workers.stop()
            runtime.store_ = None
            runtime.http_client = None
            await client.aclose()
            with contextlib.suppress(Exception):  # a closing database loses only a time
                await uses.flush(store)
            await store.close()
            metrics.process_exited(os.getpid())

    # Starlette supplies the lifespan only: every HTTP request goes to `Front`.
    return Front(runtime, Starlette(lifespan=lifespan))


class Front:
    """The ASGI application: the path picks the surface (the preference pages, the console,
    commpref's own API, a service endpoint, else HubSpot's API) and its pipeline answers.
    Routing works on the raw, undecoded path (`http.routing`); the lifespan goes to
    `lifespan_app`."""

    def __init__(self, runtime: Runtime, lifespan_app: ASGIApp | None = None) -> None:
        settings = runtime.settings
        self.lifespan_app = lifespan_app
        gate = Gate(
            limit=settings.max_concurrent_requests,
            queue=settings.max_queued_requests,
            wait_s=settings.queue_wait_ms / 1000,
        )
        if runtime.metrics is not None:
            gate.on_refuse = runtime.metrics.refused.inc
            runtime.metrics.gate = gate
        hubspot_api, commpref_api = hubspot.surface(), api.surface()
        endpoints = service.surface([hubspot_api, commpref_api])
        self.hubspot = Pipeline(runtime, hubspot_api, gate)
        self.api = Pipeline(runtime, commpref_api, gate)
        self.service = Pipeline(runtime, endpoints, gate)
        self.pages = Pipeline(runtime, pages.surface(), gate)
        self.console = Pipeline(runtime, console.surface(), gate)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if self.lifespan_app is not None:
                await self.lifespan_app(scope, receive, send)
            return
        raw_path: bytes | None = scope.get("raw_path")
        path = raw_path.decode("utf-8", "replace") if raw_path else scope["path"]
        if path == pages.PREFIX or path.startswith(_PAGES):
            await self.pages(scope, receive, send, path)
        elif path == console.PREFIX or path.startswith(_CONSOLE):
            await self.console(scope, receive, send, path)
        elif path.startswith(api.PATHS):
            await self.api(scope, receive, send, path)
        elif path in service.PATHS:
            await self.service(scope, receive, send, path)
        else:
            await self.hubspot(scope, receive, send, path)


_PAGES = pages.PREFIX + "/"
_CONSOLE = console.PREFIX + "/"


def _workers(store: Store, settings: Settings, m: Metrics | None) -> Workers | None:
    if not settings.jobs_enabled:
        return None
    workers = Workers(
        store,
        settings,
        on_webhook_backlog=None if m is None else m.set_webhook_backlog,
        on_mail_backlog=None if m is None else m.set_mail_backlog,
    )
    workers.start()
    return workers


async def _record_token_uses(store: Store, uses: TokenUses) -> None:
    """Write when tokens were last used, every `TokenUses.FLUSH_S` seconds."""
    while True:
        await asyncio.sleep(TokenUses.FLUSH_S)
        try:
            await uses.flush(store)
        except Exception as exc:  # the database is away: the next flush tries again
            logs.error("recording token use failed", "", exc)


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
