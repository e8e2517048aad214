"""JSON a client sends, parsed within bounds: every door's body goes through `parse_json`.

Python's `json` has no bounds of its own, and each gap was a 500:
- nesting: it recurses until the interpreter's limit and raises RecursionError, and a value
  just under that limit is too deep for what runs on it next (validation, `json.dumps` when
  stored). The depth is checked on the bytes before parsing, at C speed;
- numbers: an integer of more than 4,300 digits makes `int()` raise a plain ValueError inside
  the parser, and `1e999` becomes infinity;
- NaN and Infinity are accepted though they are not JSON, and a JSON column refuses them;
- a `\\ud800` escape with no partner decodes to a string no database can store.

Each becomes a 400 (413 for size) with the error envelope, saying what is wrong and the limit.
"""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest

from smarter.lib.errors import FieldError, PayloadTooLarge, ValidationFailed

# A JSON body that is not a chat turn (plugin test arguments, console forms) is small; a door
# may say less. Manifests have their own 1 MiB (`smarter.lib.manifests`).
MAX_JSON_BYTES = 1024 * 1024
# Deep enough for any manifest, tool schema or chat body seen in practice; shallow enough that
# validating, storing and rendering a value never nears the interpreter's recursion limit.
MAX_DEPTH = 64

_KEEP = b'"[]{}'
_DROP = bytes(byte for byte in range(256) if byte not in _KEEP)
_OPENERS_TO_BRACKET = bytes.maketrans(b"{}", b"[]")
# The escape of a UTF-16 surrogate: valid only as half of a pair, which the check decides.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class _NotJson(ValueError):
    """A constant or number the parser reads but JSON (or our storage) cannot hold."""


def too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether the objects and arrays of a JSON text nest more than `limit` levels deep.

    Linear and in C for everything a request holds: a text with no more brackets than the limit
    cannot nest deeper (the common case, two `count`s). Otherwise what is inside strings is cut
    out (escaped backslashes and quotes first, so that every remaining quote opens or closes a
    string), brackets are kept, and innermost pairs removed one level per pass.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    structure = raw.translate(None, _DROP)
    brackets = b"".join(structure.split(b'"')[::2]).translate(_OPENERS_TO_BRACKET)
    if b"[" * (limit + 1) in brackets:
        return True  # the usual attack, found in one search instead of `limit` passes
    for _ in range(limit):
        if not brackets:
            return False
        reduced = brackets.replace(b"[]", b"")
        if reduced == brackets:
            return False  # unbalanced: not JSON, and the parser will say so
        brackets = reduced
    return bool(brackets) and brackets.replace(b"[]", b"") != brackets


def parse_json(raw: bytes, *, max_bytes: int, what: str = "body", max_depth: int = MAX_DEPTH) -> Any:
    """One JSON value from a client, or a SmarterError (413 past `max_bytes`, else 400)."""
    if len(raw) > max_bytes:
        raise PayloadTooLarge(
            f"The {what} may be at most {max_bytes} bytes; this one is {len(raw)}.",
            context={"limit": max_bytes, "size": len(raw)},
        )
    if too_deep(raw, max_depth):
        raise nested_too_deeply(what, max_depth)
    try:
        value = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:  # not reached after the check above; kept so that it can never escape
        raise nested_too_deeply(what, max_depth) from None
    except json.JSONDecodeError as error:
        raise ValidationFailed(
            f"The {what} is not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}.",
            errors=[FieldError("(root)", "invalid JSON")],
        ) from None
    except UnicodeDecodeError:
        raise ValidationFailed(
            f"The {what} is not valid JSON: it is not UTF-8 text.",
            errors=[FieldError("(root)", "invalid JSON: not UTF-8")],
        ) from None
    except _NotJson as error:
        raise ValidationFailed(
            f"The {what} is not valid JSON: {error}.", errors=[FieldError("(root)", f"invalid JSON: {error}")]
        ) from None
    except ValueError:
        # The one plain ValueError json raises: int() refusing a number of too many digits.
        limit = sys.get_int_max_str_digits()
        raise ValidationFailed(
            f"A number in the {what} has more than {limit} digits; send it as a string.",
            context={"limit": limit},
            errors=[FieldError("(root)", f"a number may have at most {limit} digits")],
        ) from None
    if _SURROGATE_ESCAPE.search(raw) and not _encodable(value):
        raise ValidationFailed(
            f"The {what} holds a \\uD800-\\uDFFF escape that is not half of a surrogate pair.",
            errors=[FieldError("(root)", "invalid JSON: lone surrogate")],
        )
    return value


def parse_json_object(raw: bytes, *, max_bytes: int, what: str = "body") -> dict[str, Any]:
    """A JSON object (an empty body is `{}`), bounded as `parse_json`."""
    if not raw:
        return {}
    value = parse_json(raw, max_bytes=max_bytes, what=what)
    if not isinstance(value, dict):
        raise ValidationFailed(
            f"The {what} must be a JSON object.", errors=[FieldError("(root)", "expected an object")]
        )
    return value


def request_body(request: HttpRequest, *, max_bytes: int, what: str = "body") -> bytes:
    """The raw body of a Django request, refused with 413 past `max_bytes` (or past Django's own
    DATA_UPLOAD_MAX_MEMORY_SIZE, which `request.body` raises as RequestDataTooBig)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    too_large = PayloadTooLarge(
        f"The {what} may be at most {max_bytes} bytes; this one is {declared}.",
        context={"limit": max_bytes, "size": declared},
    )
    if declared > max_bytes:
        raise too_large
    try:
        raw = request.body
    except RequestDataTooBig:
        raise too_large from None
    if len(raw) > max_bytes:
        raise PayloadTooLarge(
            f"The {what} may be at most {max_bytes} bytes; this one is {len(raw)}.",
            context={"limit": max_bytes, "size": len(raw)},
        )
    return raw


def nested_too_deeply(what: str, limit: int = MAX_DEPTH) -> ValidationFailed:
    return ValidationFailed(
        f"The {what} is nested too deeply: objects and arrays may nest at most {limit} levels.",
        context={"limit": limit},
        errors=[FieldError("(root)", f"nested too deeply (more than {limit} levels)")],
    )


def _refuse_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON value")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _NotJson(f"the number {text[:20]} is too large")
    return number


def _encodable(value: Any) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
