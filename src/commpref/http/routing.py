"""Routing on the raw, undecoded path (docs/wire-contract.md §5.2, §6.1).

Starlette's router decodes the path before matching, so `%2F` would split a segment and a
decoded `+` could not be told apart; this matcher splits the raw path on `/` and decodes only
the one parameter segment, exactly once, never turning `+` into a space.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import unquote

from commpref.errors import MethodNotAllowed, NotFound

T = TypeVar("T")

PREFIX = "communication-preferences"


def decode_segment(raw: str) -> str:
    """Percent-decode one path segment once; `+` stays `+` (§5.2)."""
    return unquote(raw, encoding="utf-8", errors="replace")


def not_found(method: str, path: str) -> NotFound:
    return NotFound(f"No route found for {method} {path}")


@dataclass(frozen=True, slots=True)
class _Template(Generic[T]):
    parts: tuple[str | None, ...]  # a literal segment, or None for the one parameter
    ops: dict[str, dict[str, T]]  # version → method → route target

    def match(self, segments: list[str]) -> tuple[bool, str | None]:
        """(matched, the raw parameter segment or None)."""
        if len(segments) != len(self.parts):
            return False, None
        param: str | None = None
        for want, got in zip(self.parts, segments, strict=True):
            if want is None:
                if not got:
                    return False, None
                param = got
            elif want != got:
                return False, None
        return True, param

    @property
    def specificity(self) -> tuple[bool, ...]:
        return tuple(p is not None for p in self.parts)


class Router(Generic[T]):
    """Templates like `statuses/{subscriberIdString}` under `/communication-preferences/{v}/`
    (or `/{prefix}/{v}/`: the extensions use `/commpref/v1/`).

    The most specific matching template decides (literal segments beat the parameter), so
    `POST …/statuses/batch/read` is F, never C for a subscriber called "batch". When that
    template has no operation in the requested version the answer is 404; when it has the
    operation under other methods, 405 with `Allow`.
    """

    def __init__(
        self, routes: Iterable[tuple[str, str, tuple[str, ...], T]], *, prefix: str = PREFIX
    ) -> None:
        self.prefix = prefix  # first path segment: HubSpot's, or `commpref` for extensions
        by_parts: dict[tuple[str | None, ...], dict[str, dict[str, T]]] = {}
        versions: set[str] = set()
        for method, path, route_versions, target in routes:
            parts = tuple(None if s.startswith("{") else s for s in path.split("/"))
            for version in route_versions:
                versions.add(version)
                by_version = by_parts.setdefault(parts, {}).setdefault(version, {})
                if method in by_version:
                    raise ValueError(f"duplicate route {method} {version}/{path}")
                by_version[method] = target
        templates = [_Template(parts, ops) for parts, ops in by_parts.items()]
        self.templates = sorted(templates, key=lambda t: t.specificity, reverse=True)
        self.versions = frozenset(versions)

    def resolve(self, method: str, raw_path: str) -> tuple[T, str, str | None]:
        """(target, version, decoded parameter) for a raw path; raises 404 or 405."""
        segments = raw_path.split("/")
        if len(segments) < 4 or segments[0] or segments[1] != self.prefix:
            raise not_found(method, raw_path)
        version = segments[2]
        if version not in self.versions:
            raise not_found(method, raw_path)
        rest = segments[3:]
        for template in self.templates:
            matched, param = template.match(rest)
            if not matched:
                continue
            methods = template.ops.get(version)
            if not methods:
                raise not_found(method, raw_path)
            target = methods.get(method)
            if target is None:
                raise method_not_allowed(method, raw_path, methods)
            return target, version, None if param is None else decode_segment(param)
        raise not_found(method, raw_path)


class Paths(Generic[T]):
    """Routes whole paths, each answering some methods: the service endpoints, the
    preference pages and the console, whose paths carry no version; a path may have one
    `{parameter}` segment (literal paths win over templated ones)."""

    def __init__(self, routes: Iterable[tuple[str, str, T]]) -> None:
        self.by_path: dict[str, dict[str, T]] = {}
        templated: dict[tuple[str | None, ...], dict[str, dict[str, T]]] = {}
        for method, path, target in routes:
            if "{" in path:
                parts = tuple(None if s.startswith("{") else s for s in path.split("/"))
                templated.setdefault(parts, {}).setdefault("", {})[method] = target
            else:
                self.by_path.setdefault(path, {})[method] = target
        self.templates = [_Template(parts, ops) for parts, ops in templated.items()]

    def resolve(self, method: str, raw_path: str) -> tuple[T, str, str | None]:
        methods = self.by_path.get(raw_path)
        param: str | None = None
        if methods is None:
            segments = raw_path.split("/")
            for template in self.templates:
                matched, param = template.match(segments)
                if matched:
                    methods = template.ops[""]
                    break
            else:
                raise not_found(method, raw_path)
        target = methods.get(method)
        if target is None:
            raise method_not_allowed(method, raw_path, methods)
        return target, "", None if param is None else decode_segment(param)


def method_not_allowed(method: str, path: str, allowed: Iterable[str]) -> MethodNotAllowed:
    return MethodNotAllowed(
        f"Method {method} is not allowed for {path}",
        headers={"Allow": ", ".join(sorted(allowed))},
    )
