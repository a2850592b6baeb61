"""Request bodies (docs/wire-contract.md §4.2, §6.4):
decode once, validate against the request Structs.

The hot path decodes with msgspec into plain Python values and checks them against a field
table derived from the Structs of `http.wire` (required fields, types, enums). Only when a
check fails is the body text scanned again, to find the line and column the message names.

Rules: `null` counts as missing; unknown keys are ignored; integer fields also take numeric
strings; v3 string ids also take JSON integers; enums are case-sensitive.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Any

import msgspec
import msgspec.inspect as mi

from commpref.domain.formats import INT64_MAX, INT64_MIN, parse_int64
from commpref.errors import ValidationError

# At most 19 digits: int64 needs no more, and int() refuses very long digit strings.
_BYTE_OFFSET = re.compile(r"\s*\(byte (\d+)\)$")
_WHERE = re.compile(r" - at `[^`]*`$")
_decoder = msgspec.json.Decoder()

Path = tuple[str | int, ...]


# --- field tables ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    kind: str  # "str" | "id" | "int" | "enum" | "strings" | "objects"
    required: bool
    allowed: tuple[str, ...] = ()
    item: ObjectSpec | None = None


@dataclass(frozen=True, slots=True)
class ObjectSpec:
    name: str  # the schema name of "Cannot build {name}"
    fields: tuple[FieldSpec, ...]
    required: tuple[str, ...]


def _kind(t: mi.Type) -> tuple[str, tuple[str, ...], ObjectSpec | None]:
    if isinstance(t, mi.UnionType):
        (t,) = [u for u in t.types if not isinstance(u, mi.NoneType)]
    if isinstance(t, mi.Metadata):
        accepts_int = bool(t.extra and t.extra.get("accepts_int"))
        t = t.type
        if accepts_int and isinstance(t, mi.StrType):
            return "id", (), None
    if isinstance(t, mi.StrType):
        return "str", (), None
    if isinstance(t, mi.IntType):
        return "int", (), None
    if isinstance(t, mi.LiteralType):
        return "enum", tuple(str(v) for v in t.values), None
    if isinstance(t, mi.ListType):
        if isinstance(t.item_type, mi.StrType):
            return "strings", (), None
        if isinstance(t.item_type, mi.StructType):
            return "objects", (), _spec(t.item_type)
    raise TypeError(f"no request validation for {t!r}")


def _spec(info: mi.StructType) -> ObjectSpec:
    fields = []
    for f in info.fields:
        kind, allowed, item = _kind(f.type)
        fields.append(FieldSpec(f.encode_name, kind, f.required, allowed, item))
    required = tuple(f.name for f in fields if f.required)
    return ObjectSpec(info.cls.__name__, tuple(fields), required)


@cache
def spec_of(struct: type[msgspec.Struct]) -> ObjectSpec:
    info = mi.type_info(struct)
    assert isinstance(info, mi.StructType)
    return _spec(info)


# --- validation --------------------------------------------------------------------------


class BodyError(Exception):
    """A failed check at `path`; turned into the §6.4 message once the position is known."""

    def __init__(
        self, path: Path, message: str, *, missing: bool = False, plain: bool = False
    ) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.missing = missing  # position: the closing `}` of the object at `path`
        self.plain = plain  # a message of its own, without the "Invalid input JSON" prefix


def field_name(path: Path) -> str:
    """`inputs[2].statusState` style name of a body location."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _show(value: Any) -> str:
    text = msgspec.json.encode(value).decode()
    return text if len(text) <= 100 else text[:97] + "..."


def _invalid(path: Path, value: Any, expected: str) -> BodyError:
    return BodyError(path, f"invalid value {_show(value)} for {field_name(path)}; {expected}")


def _coerce(f: FieldSpec, value: Any, path: Path) -> Any:
    kind = f.kind
    if kind == "str":
        if isinstance(value, str):
            return value
        raise _invalid(path, value, "expected string")
    if kind == "enum":
        if isinstance(value, str) and value in f.allowed:
            return value
        if f.name == "channel":
            shown = value if isinstance(value, str) else _show(value)
            message = f"Invalid value for channel: {shown}. Allowed values: EMAIL"
            raise BodyError(path, message, plain=True)
        raise _invalid(path, value, "allowed values: " + ", ".join(f.allowed))
    if kind == "int":
        number = _integer(value)
        if number is None:
            raise _invalid(path, value, "expected integer")
        return number
    if kind == "id":
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise _invalid(path, value, "expected string")
    if kind == "strings":
        return strings(value, path)
    if kind == "objects":
        if not isinstance(value, list):
            raise _invalid(path, value, "expected array")
        assert f.item is not None
        return [validate_object(v, f.item, (*path, i)) for i, v in enumerate(value)]
    raise AssertionError(kind)


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if INT64_MIN <= value <= INT64_MAX else None
    return parse_int64(value) if isinstance(value, str) else None


def strings(value: Any, path: Path) -> list[str]:
    if not isinstance(value, list):
        raise _invalid(path, value, "expected array")
    for i, v in enumerate(value):
        if not isinstance(v, str):
            raise _invalid((*path, i), v, "expected string")
    return value


def validate_object(value: Any, spec: ObjectSpec, path: Path = ()) -> dict[str, Any]:
    """The object's declared fields, coerced; required fields first, then types and enums."""
    if not isinstance(value, dict):
        raise _invalid(path, value, "expected object")
    missing = [name for name in spec.required if value.get(name) is None]
    if missing:
        raise BodyError(
            path,
            f"Cannot build {spec.name}, some of required attributes are not set "
            f"[{', '.join(sorted(missing))}]",
            missing=True,
        )
    out: dict[str, Any] = {}
    for f in spec.fields:
        v = value.get(f.name)
        out[f.name] = None if v is None else _coerce(f, v, (*path, f.name))
    return out


# --- decoding and positions --------------------------------------------------------------


def invalid_json(line: int, column: int, detail: str, **kwargs: Any) -> ValidationError:
    return ValidationError(
        f"Invalid input JSON on line {line}, column {column}: {detail}", **kwargs
    )


def line_col(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of character `index` of `text`."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def _byte_position(body: bytes, offset: int) -> tuple[int, int]:
    text = body[:offset].decode("utf-8", "replace")
    return line_col(text, len(text))


def decode_json(body: bytes) -> Any:
    """Parse the body; 400 with the §6.4 texts when it is empty or not JSON."""
    if not body.strip():
        raise invalid_json(1, 1, "empty body")
    try:
        return _decoder.decode(body)
    except UnicodeDecodeError:
        try:
            body.decode("utf-8")
            offset = len(body)
        except UnicodeDecodeError as exc:
            offset = exc.start
        raise invalid_json(*_byte_position(body, offset), "invalid UTF-8") from None
    except RecursionError:
        raise invalid_json(*_byte_position(body, _too_deep(body)), "nesting too deep") from None
    except msgspec.DecodeError as exc:
        detail = _WHERE.sub("", str(exc))
        found = _BYTE_OFFSET.search(detail)
        offset = int(found.group(1)) if found else len(body.rstrip())
        raise invalid_json(*_byte_position(body, offset), _BYTE_OFFSET.sub("", detail)) from None


def _too_deep(body: bytes, limit: int = 256) -> int:
    """Byte offset of the first bracket nested deeper than `limit` (outside strings)."""
    depth, in_string, escaped = 0, False, False
    for i, b in enumerate(body):
        if in_string:
            if escaped:
                escaped = False
            elif b == 0x5C:  # backslash
                escaped = True
            elif b == 0x22:  # quote
                in_string = False
        elif b == 0x22:
            in_string = True
        elif b in b"[{":
            depth += 1
            if depth > limit:
                return i
        elif b in b"]}":
            depth -= 1
    return len(body)


def parse(body: bytes, schema: type[msgspec.Struct] | None) -> Any:
    """Decode and validate a body: an object of `schema`, or a bare string array (None)."""
    value = decode_json(body)
    try:
        if schema is None:
            if not isinstance(value, list):
                raise invalid_json(1, 1, "expected a JSON array")
            return strings(value, ())
        if not isinstance(value, dict):
            raise invalid_json(1, 1, "expected a JSON object")
        return validate_object(value, spec_of(schema))
    except BodyError as exc:
        raise _located(body, exc) from None


def _located(body: bytes, exc: BodyError) -> ValidationError:
    text = body.decode("utf-8")
    start, end = locate(text, exc.path)
    line, column = line_col(text, end - 1 if exc.missing else start)
    if exc.missing:
        return invalid_json(line, column, exc.message)
    if exc.plain:
        detail = [{"message": exc.message, "in": field_name(exc.path)}]
        return ValidationError(exc.message, errors=detail)
    message = f"Invalid input JSON on line {line}, column {column}: {exc.message}"
    return ValidationError(message, errors=[{"message": message, "in": field_name(exc.path)}])


# A small scanner over text msgspec already accepted, so it can trust the syntax.


def _ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _string_end(text: str, i: int) -> int:
    j = i + 1
    while text[j] != '"':
        j += 2 if text[j] == "\\" else 1
    return j + 1


def _value_end(text: str, i: int) -> int:
    c = text[i]
    if c == '"':
        return _string_end(text, i)
    if c in "{[":
        depth, j = 0, i
        while True:
            c = text[j]
            if c == '"':
                j = _string_end(text, j)
                continue
            if c in "{[":
                depth += 1
            elif c in "}]":
                depth -= 1
                if depth == 0:
                    return j + 1
            j += 1
    j = i
    while j < len(text) and text[j] not in ",]} \t\r\n":
        j += 1
    return j


def _children(text: str, i: int) -> list[tuple[str | int, int, int]]:
    """(key or index, start, end) of each member of the object or array starting at `i`."""
    out: list[tuple[str | int, int, int]] = []
    is_object = text[i] == "{"
    j = _ws(text, i + 1)
    if text[j] in "}]":
        return out
    while True:
        key: str | int = len(out)
        if is_object:
            key_end = _string_end(text, j)
            key = msgspec.json.decode(text[j:key_end])
            j = _ws(text, _ws(text, key_end) + 1)  # past the colon
        end = _value_end(text, j)
        out.append((key, j, end))
        j = _ws(text, end)
        if text[j] != ",":
            return out
        j = _ws(text, j + 1)


def locate(text: str, path: Path) -> tuple[int, int]:
    """Start and end index of the value at `path` in valid JSON `text`."""
    start = _ws(text, 0)
    end = _value_end(text, start)
    for part in path:
        # Later duplicate keys win, as they do when decoding.
        matches = [(s, e) for key, s, e in _children(text, start) if key == part]
        if not matches:
            break
        start, end = matches[-1]
    return start, end


def decode_struct(raw: bytes, schema: type[msgspec.Struct]) -> Any:
    """A JSON body as `schema`, as commpref's own API reads them: a 400 in the
    `Invalid input JSON` style otherwise."""
    if not raw.strip():
        raise ValidationError("Invalid input JSON on line 1, column 1: empty body")
    try:
        return msgspec.json.decode(raw, type=schema)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ValidationError(f"Invalid input JSON: {exc}") from exc
    except UnicodeDecodeError as exc:  # a string that is not UTF-8
        raise ValidationError("Invalid input JSON: the body is not UTF-8") from exc
