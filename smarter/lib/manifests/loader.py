"""Turns a request body into one manifest dict, refusing what could hurt the server.

YAML is parsed with the safe loader and *aliases are refused*: the "billion laughs" bomb
expands a few hundred bytes of anchors into gigabytes once anything walks the tree. Objects and
arrays nest at most `MAX_DEPTH` levels, in JSON (`smarter.lib.json_input`) as in YAML (counted
while composing, before anything recurses further). A value the YAML constructor cannot build
(an integer of more than 4,300 digits, a date such as 2024-13-45, `.inf`) is a 400 naming its
field path, never an exception out of the parser.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import yaml

from smarter.lib.errors import FieldError, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from smarter.lib.json_input import MAX_DEPTH, nested_too_deeply, parse_json, too_deep
from smarter.lib.manifests.envelope import format_loc

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


class _UnreadableValue(Exception):
    """A node the constructor could not turn into a value, and why."""

    def __init__(self, node: yaml.Node, reason: str) -> None:
        super().__init__(reason)
        self.node = node
        self.reason = reason


class BoundedSafeLoader(yaml.SafeLoader):
    """The safe loader with no aliases, a nesting bound, and values that fail by node."""

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise ValidationFailed(
                "YAML aliases (*name) are not accepted in manifests; write the values out in full.",
                errors=[FieldError(loc="(root)", msg=f"alias at line {event.start_mark.line + 1}")],
            )
        if not self.check_event(yaml.SequenceStartEvent, yaml.MappingStartEvent):
            return super().compose_node(parent, index)
        # The composer recurses once per level: counting here stops a deep document (flow
        # brackets, or "- - - -" on one line) long before the interpreter's recursion limit.
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise nested_too_deeply("manifest")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            value = super().construct_object(node, deep=deep)
        except (_UnreadableValue, yaml.YAMLError, ValidationFailed, RecursionError):
            raise
        except Exception as error:
            # A tagged scalar the constructor trips on (`!!int ''` is an IndexError, a
            # `!!timestamp` that is no date an AttributeError): the client's value, not a bug.
            raise _UnreadableValue(node, _reason(node, error)) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise _UnreadableValue(node, "must be a finite number")
        return value


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
    document = _parse(text, body)
    if not isinstance(document, dict):
        raise ValidationFailed(
            f"A manifest must be a mapping with apiVersion, kind, metadata and spec, not a {_type_name(document)}.",
            errors=[FieldError(loc="(root)", msg=f"expected a mapping, got {_type_name(document)}")],
        )
    return document


def _parse(text: str, body: bytes) -> Any:
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")) and too_deep(body):
        raise nested_too_deeply("manifest")
    if stripped.startswith("{"):
        try:
            return parse_json(body, max_bytes=MAX_MANIFEST_BYTES, what="manifest")
        except ValidationFailed:
            pass  # not JSON after all (YAML flow mappings start with "{" too): YAML says what is wrong
    try:
        documents = _yaml_documents(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or "invalid syntax"
        raise ValidationFailed(
            f"The body is neither valid YAML nor JSON: {problem}{where}.",
            errors=[FieldError(loc="(root)", msg=f"{problem}{where}")],
        ) from None
    except RecursionError:  # not reached within MAX_DEPTH; kept so that it can never escape
        raise nested_too_deeply("manifest") from None
    documents = [document for document in documents if document is not None]
    if len(documents) != 1:
        raise ValidationFailed(
            f"Send exactly one manifest per request; this body holds {len(documents)} documents.",
            errors=[FieldError(loc="(root)", msg=f"{len(documents)} YAML documents")],
        )
    return documents[0]


def _yaml_documents(text: str) -> list[Any]:
    """What `yaml.load_all` returns, with a value that cannot be built reported at its path."""
    loader = BoundedSafeLoader(text)
    documents = []
    try:
        while loader.check_node():
            root = loader.get_node()
            if root is None:
                continue
            try:
                documents.append(loader.construct_document(root))
            except _UnreadableValue as bad:
                loc = _path_to(root, bad.node)
                mark = bad.node.start_mark
                raise ValidationFailed(
                    f"The value of {loc} (line {mark.line + 1}, column {mark.column + 1}) {bad.reason}.",
                    errors=[FieldError(loc=loc, msg=bad.reason)],
                ) from None
    finally:
        loader.dispose()
    return documents


def _reason(node: yaml.Node, error: Exception) -> str:
    tag = str(node.tag).rsplit(":", 1)[-1]
    limit = sys.get_int_max_str_digits()
    if tag == "int" and sum(character.isdigit() for character in str(node.value)) > limit:
        return f"has more than {limit} digits; write a number that long in quotes, as a string"
    if isinstance(error, ValueError | OverflowError):
        return f"is not a valid {tag}: {error}"
    return f"is not a valid {tag}"


def _path_to(root: yaml.Node, target: yaml.Node) -> str:
    """The field path (`spec.config.value`, `spec.plugins[2]`) of a node in a document."""
    stack: list[tuple[yaml.Node, tuple[int | str, ...]]] = [(root, ())]
    while stack:
        node, loc = stack.pop()
        if node is target:
            return format_loc(loc) or "(root)"
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                label = str(key.value) if isinstance(key, yaml.ScalarNode) else "?"
                if key is target:
                    return format_loc((*loc, label))
                stack.append((value, (*loc, label)))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, (*loc, index)) for index, item in enumerate(node.value))
    return "(root)"


def _type_name(value: Any) -> str:
    return {list: "list", str: "string", int: "number", float: "number", bool: "boolean"}.get(
        type(value), type(value).__name__
    )
