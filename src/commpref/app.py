"""Composition root: `create_app(settings)` builds the ASGI app; nothing happens at import.

The store is opened (and migrations applied) in the lifespan and closed on shutdown, after
uvicorn has finished the in-flight requests.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import Mount

from commpref.http.asgi import Api
from commpref.http.request import Runtime
from commpref.services import links
from commpref.settings import Settings
from commpref.storage import open_store


def base_url(settings: Settings) -> str:
    """Base of preference links: `public_base_url`, else where `serve` listens (§5.14)."""
    if settings.public_base_url:
        return settings.public_base_url.rstrip("/")
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"http://{host}:{settings.port}"


def create_app(settings: Settings) -> Starlette:
    runtime = Runtime(settings=settings, base_url=base_url(settings))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = open_store(settings)
        await store.open()
        try:
            runtime.link_keys = await links.signing_keys(
                store=store, configured=settings.link_signing_keys
            )
            runtime.store_ = store
            yield
        finally:
            runtime.store_ = None
            await store.close()

    # Starlette supplies the lifespan and the outer error guard; `Api` routes on the raw
    # path itself, which Starlette's router cannot (it matches the decoded path).
    return Starlette(routes=[Mount("", app=Api(runtime))], lifespan=lifespan)


def app_from_env() -> Starlette:
    """Factory for `uvicorn --factory` (multi-worker `serve`): settings from COMMPREF_*."""
    return create_app(Settings.from_env())
