"""HubSpot's HTTP surface: routing on raw paths, validation, wire shapes and the error envelope.

`asgi` dispatches, `ops` describes every operation once, `handlers_v4`/`handlers_v3` call the
services, `wire` holds the Structs, `errors` is the one error mapping, `openapi` documents it.
"""
