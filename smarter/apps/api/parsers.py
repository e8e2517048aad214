"""The JSON parser of every REST view: DRF's reads a body of any size and depth (a 100,000-deep
array was a RecursionError, a 500); this one reads what `smarter.lib.json_input` allows."""

from __future__ import annotations

from typing import Any

from rest_framework.parsers import JSONParser

from smarter.lib.errors import PayloadTooLarge
from smarter.lib.json_input import MAX_JSON_BYTES, parse_json


class BoundedJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict[str, Any] | None = None) -> Any:
        view = (parser_context or {}).get("view")
        # A view may allow less (`max_body_bytes`); the apply view reads its manifests itself.
        limit = int(getattr(view, "max_body_bytes", MAX_JSON_BYTES))
        # Read one byte past the limit, never the whole of an oversized body.
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"The body may be at most {limit} bytes.", context={"limit": limit})
        return parse_json(raw, max_bytes=limit)
