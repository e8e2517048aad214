"""Turns a request body into one manifest dict, refusing what could hurt the server.

YAML is parsed with the safe loader and *aliases are refused*: the "billion laughs" bomb
expands a few hundred bytes of anchors into gigabytes once anything walks the tree.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from smarter.lib.errors import FieldError, PayloadTooLarge, UnsupportedMediaType, ValidationFailed

MAX_MANIFEST_BYTES = 1024 * 1024
ACCEPTED_CONTENT_TYPES = {
    "",
    "application/json",
    "application/yaml",
    "application/x-yaml",
    "text/yaml",
    "text/x-yaml",
    "text/plain",
    "application/octet-stream",
}


class _NoAliasSafeLoader(yaml.SafeLoader):
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ValidationFailed(
                "YAML aliases (*name) are not accepted in manifests; write the values out in full.",
                errors=[FieldError(loc="(root)", msg=f"alias at line {event.start_mark.line + 1}")],
            )
        return super().compose_node(parent, index)


def check_content_type(content_type: str) -> None:
    media_type = content_type.split(";")[0].strip().lower()
    if media_type not in ACCEPTED_CONTENT_TYPES:
        raise UnsupportedMediaType(
            f"Content type {media_type!r} is not accepted; send the manifest as YAML or JSON "
            "(with curl: -H 'Content-Type: application/yaml' --data-binary @manifest.yaml).",
            context={"contentType": media_type},
        )


def load_manifest(body: bytes) -> dict[str, Any]:
    """Parse one manifest (YAML or JSON) into a dict, or raise a 400/413 naming the problem."""
    if len(body) > MAX_MANIFEST_BYTES:
        raise PayloadTooLarge(
            f"A manifest may be at most {MAX_MANIFEST_BYTES} bytes; this one is {len(body)}.",
            context={"limit": MAX_MANIFEST_BYTES, "size": len(body)},
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ValidationFailed("The manifest is not UTF-8 text.") from None
    if not text.strip():
        raise ValidationFailed(
            "The request body is empty; send one manifest as YAML or JSON.",
            errors=[FieldError(loc="(root)", msg="empty body")],
        )
    document = _parse(text)
    if not isinstance(document, dict):
        raise ValidationFailed(
            f"A manifest must be a mapping with apiVersion, kind, metadata and spec, not a {_type_name(document)}.",
            errors=[FieldError(loc="(root)", msg=f"expected a mapping, got {_type_name(document)}")],
        )
    return document


def _parse(text: str) -> Any:
    stripped = text.lstrip()
    if stripped.startswith("{"):
        try:
            return json.loads(text)
        except ValueError:
            pass  # not JSON after all: YAML flow mappings start with "{" too
    try:
        documents = list(yaml.load_all(text, Loader=_NoAliasSafeLoader))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid syntax"
        raise ValidationFailed(
            f"The body is neither valid YAML nor JSON: {problem}{where}.",
            errors=[FieldError(loc="(root)", msg=f"{problem}{where}")],
        ) from None
    except RecursionError:
        raise ValidationFailed("The manifest is nested too deeply.") from None
    documents = [document for document in documents if document is not None]
    if len(documents) != 1:
        raise ValidationFailed(
            f"Send exactly one manifest per request; this body holds {len(documents)} documents.",
            errors=[FieldError(loc="(root)", msg=f"{len(documents)} YAML documents")],
        )
    return documents[0]


def _type_name(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__
    )
