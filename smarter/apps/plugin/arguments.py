"""Checking the arguments a model sends a plugin against the plugin's parameters.

A model's bad call is not an exception: it becomes a short message the model reads as the tool's
result, so it can correct itself on the next round.
"""

from __future__ import annotations

from typing import Any

from smarter.apps.plugin.manifests.common import value_matches

MAX_STRING_ARGUMENT = 10_000


class ArgumentError(ValueError):
    """The arguments do not fit the parameters; the message is meant for the model."""


def validate_arguments(parameters: list[dict[str, Any]], arguments: Any) -> dict[str, Any]:
    """The arguments with defaults filled in and every declared parameter present (None if absent)."""
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        raise ArgumentError("arguments must be a JSON object")
    declared = {parameter["name"]: parameter for parameter in parameters}
    unknown = sorted(set(arguments) - set(declared))
    if unknown:
        raise ArgumentError(f"unknown argument {unknown[0]!r}; expected one of: {', '.join(sorted(declared))}")
    values: dict[str, Any] = {}
    for name, parameter in declared.items():
        value = arguments.get(name)
        if value is None:
            value = parameter.get("default")
        if value is None:
            if parameter.get("required"):
                raise ArgumentError(f"argument {name!r} is required")
            values[name] = None
            continue
        kind = parameter.get("type", "string")
        if not value_matches(kind, value):
            raise ArgumentError(f"argument {name!r} must be of type {kind}, got {_json_type(value)}")
        if kind == "integer" and isinstance(value, float):
            value = int(value)
        enum = parameter.get("enum")
        if enum is not None and value not in enum:
            raise ArgumentError(f"argument {name!r} must be one of {', '.join(map(str, enum))}")
        if isinstance(value, str) and len(value) > MAX_STRING_ARGUMENT:
            raise ArgumentError(f"argument {name!r} is longer than {MAX_STRING_ARGUMENT} characters")
        values[name] = value
    return values


def arguments_from_test_values(test_values: list[dict[str, Any]]) -> dict[str, Any]:
    return {item["name"]: item.get("value") for item in test_values}


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"
