"""Everything HTTP: the surfaces (`hubspot/`, `api/`, `service`; the pages live in `web/`)
and what they share — the one request pipeline (`pipeline`), what a surface declares
(`operation`), parsing (`params`, `body`), routing, the error envelope (`errors`), OpenAPI."""
