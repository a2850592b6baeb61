"""The pages a person reads first: `/` (what this server is, and where to go) and `/docs`
(the API reference, rendered on the server from the OpenAPI document: no script, no file
from another site)."""

from __future__ import annotations

from html import escape
from typing import Any

# No script and nothing from another site; the only style is the page's own.
HEADERS = (
    (b"content-security-policy", b"default-src 'none'; style-src 'unsafe-inline'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
)
_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "color:#1a1a1a}code{background:#f2f2f2;padding:0 .2em}table{border-collapse:collapse}"
    "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}"
    "h3{margin-bottom:.2em}.m{font-weight:bold}"
)


def _page(title: str, body: str) -> bytes:
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>"
    ).encode()


def home(version: str) -> bytes:
    return _page(
        "commpref",
        f"<h1>commpref {escape(version)}</h1>"
        "<p>A self-hosted communication-preferences server that answers HubSpot's "
        "Communication Preferences API. Point a HubSpot client at this server's URL.</p>"
        "<ul>"
        '<li><a href="/docs">API reference</a> (every operation, its parameters and '
        "answers)</li>"
        '<li><a href="/openapi.json">/openapi.json</a>: the same as an OpenAPI 3.1 '
        "document</li>"
        '<li><a href="/healthz">/healthz</a> and <a href="/readyz">/readyz</a>: health</li>'
        "</ul>"
        "<p>The preference pages live under <code>/hs/manage-preferences/</code>; their "
        "links come from <code>links/generate</code>.</p>",
    )


def _schema(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    if ref:
        return escape(ref.rsplit("/", 1)[1])
    if "enum" in schema:
        return " | ".join(escape(str(v)) for v in schema["enum"])
    if "oneOf" in schema:
        return " or ".join(_schema(s) for s in schema["oneOf"])
    kind = schema.get("format") if schema.get("format") == "date-time" else schema.get("type")
    return escape(str(kind or ""))


def _operation(path: str, method: str, op: dict[str, Any]) -> str:
    out = [
        f"<h3><span class=m>{escape(method.upper())}</span> <code>{escape(path)}</code></h3>",
        f"<p>{escape(op.get('summary', ''))}"
        + (f" — {escape(op['description'])}" if op.get("description") else "")
        + "</p>",
    ]
    parameters = op.get("parameters", [])
    if parameters:
        rows = "".join(
            f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
            f"<td>{'yes' if p.get('required') else 'no'}</td>"
            f"<td>{_schema(p.get('schema', {}))}</td>"
            f"<td>{escape(p.get('description', ''))}</td></tr>"
            for p in parameters
        )
        out.append(
            "<table><tr><th>parameter</th><th>in</th><th>required</th><th>type</th>"
            f"<th>meaning</th></tr>{rows}</table>"
        )
    body = op.get("requestBody", {}).get("content", {})
    if body:
        kinds = ", ".join(
            f"{escape(media)} ({_schema(c.get('schema', {}))})" for media, c in body.items()
        )
        out.append(f"<p>Body: {kinds}</p>")
    answers = ", ".join(
        f"{escape(code)} {escape(r.get('description', ''))}"
        for code, r in op.get("responses", {}).items()
    )
    out.append(f"<p>Answers: {answers}</p>")
    return "".join(out)


def reference(document: dict[str, Any]) -> bytes:
    """The API reference: every operation of `document`, grouped by tag."""
    by_tag: dict[str, list[str]] = {}
    for path, item in document["paths"].items():
        for method, op in item.items():
            tag = (op.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append(_operation(path, method, op))
    info = document["info"]
    sections = "".join(
        f'<h2 id="{escape(tag)}">{escape(tag)}</h2>' + "".join(ops) for tag, ops in by_tag.items()
    )
    contents = " · ".join(f'<a href="#{escape(t)}">{escape(t)}</a>' for t in by_tag)
    return _page(
        f"{info['title']} — API reference",
        f"<h1>{escape(info['title'])}</h1><p>{escape(info.get('description', ''))} "
        'As a document: <a href="/openapi.json">/openapi.json</a>.</p>'
        f"<p>{contents}</p>{sections}",
    )
