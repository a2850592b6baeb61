"""The JSON surfaces of one server, behind one ASGI callable: the path picks the surface
(commpref's own API, a service endpoint, else HubSpot's API), and the surface's pipeline
answers. Routing works on the raw, undecoded path (`http.routing`)."""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from commpref.http import api, hubspot, service
from commpref.http.overload import Gate
from commpref.http.pipeline import Pipeline
from commpref.http.runtime import Runtime


class JsonApis:
    """HubSpot's paths, `/commpref/`, `/healthz`, `/readyz`, `/metrics`, `/openapi.json`."""

    def __init__(self, runtime: Runtime) -> None:
        settings = runtime.settings
        self.gate = Gate(
            limit=settings.max_concurrent_requests,
            queue=settings.max_queued_requests,
            wait_s=settings.queue_wait_ms / 1000,
        )
        if runtime.metrics is not None:
            self.gate.on_refuse = runtime.metrics.refused.inc
            runtime.metrics.gate = self.gate
        hubspot_api, commpref_api = hubspot.surface(), api.surface()
        endpoints = service.surface([hubspot_api, commpref_api])
        self.hubspot = Pipeline(runtime, hubspot_api, self.gate)
        self.api = Pipeline(runtime, commpref_api, self.gate)
        self.service = Pipeline(runtime, endpoints, self.gate)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        raw_path: bytes | None = scope.get("raw_path")
        path = raw_path.decode("utf-8", "replace") if raw_path else scope["path"]
        if path.startswith(api.PATHS):
            await self.api(scope, receive, send, path)
        elif path in service.PATHS:
            await self.service(scope, receive, send, path)
        else:
            await self.hubspot(scope, receive, send, path)
