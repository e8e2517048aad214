"""OpenAI function-calling schemas for a chatbot's plugins, and the way back from a tool name.

Names are the plugin's own (snake_case) name, cleaned to what every provider accepts
(`^[a-zA-Z0-9_-]{1,64}$`). Should two plugins of one set clean to the same name, or a plugin
be named like a built-in function, the later one by (name, class, id) gets a suffix made from a
hash of its identity: the same set of plugins always gets the same names, whatever their order.

Names `reserved` for other tools of the turn (an OpenAI client's own tools) are never given to a
plugin or built-in: the one that would have it gets a suffix the same way, so a call by name
reaches exactly one side.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from smarter.apps.plugin.models import Plugin

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_INVALID = re.compile(r"[^a-zA-Z0-9_-]+")
MAX_DESCRIPTION = 1024


# A knowledge plugin's one argument. The description asks for the question itself, so that the
# search matches the words of the documents rather than a keyword or two.
KNOWLEDGE_QUERY = {
    "type": "string",
    "description": "what to look up in the documents: the user's question, in full, in their words",
}


def tool_parameters(plugin: Plugin) -> dict[str, Any]:
    """The JSON schema of the plugin's arguments."""
    if plugin.plugin_class == "knowledge":
        return {
            "type": "object",
            "properties": {"query": KNOWLEDGE_QUERY},
            "required": ["query"],
            "additionalProperties": False,
        }
    if plugin.plugin_class == "static":
        return {
            "type": "object",
            "properties": {
                "inquiry_type": {
                    "type": "string",
                    "description": "which part of the information to return",
                    "enum": list((plugin.data.get("staticData") or {}).keys()),
                }
            },
            "required": ["inquiry_type"],
            "additionalProperties": False,
        }
    properties: dict[str, Any] = {}
    required: list[str] = []
    for parameter in plugin.parameters:
        schema: dict[str, Any] = {"type": parameter.get("type", "string")}
        if parameter.get("description"):
            schema["description"] = parameter["description"]
        if parameter.get("enum") is not None:
            schema["enum"] = parameter["enum"]
        if parameter.get("default") is not None:
            schema["default"] = parameter["default"]
        if schema["type"] == "array":
            schema.setdefault("items", {})
        properties[parameter["name"]] = schema
        if parameter.get("required"):
            required.append(parameter["name"])
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def tool_schema(plugin: Plugin, name: str | None = None) -> dict[str, Any]:
    """The tool exactly as the model sees it."""
    return {
        "type": "function",
        "function": {
            "name": name or base_tool_name(plugin.name),
            "description": plugin.tool_description[:MAX_DESCRIPTION],
            "parameters": tool_parameters(plugin),
        },
    }


def base_tool_name(name: str) -> str:
    cleaned = _INVALID.sub("_", name).strip("_") or "plugin"
    return cleaned[:64]


def _suffixed(base: str, identity: str) -> str:
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    return f"{base[: 64 - 9]}_{digest}"


@dataclass
class ToolSet:
    """The tools of one turn: schemas in a stable order, and the plugin behind each name."""

    schemas: list[dict[str, Any]] = field(default_factory=list)
    plugins_by_name: dict[str, Plugin] = field(default_factory=dict)
    builtins_by_name: dict[str, str] = field(default_factory=dict)

    def plugin_for(self, tool_name: str) -> Plugin | None:
        """The plugin a tool call names, or None (a built-in, or a name the model invented)."""
        return self.plugins_by_name.get(tool_name)

    def builtin_for(self, tool_name: str) -> str | None:
        return self.builtins_by_name.get(tool_name)


def build_toolset(plugins: Iterable[Plugin], *, functions: Iterable[str] = (), reserved: Iterable[str] = ()) -> ToolSet:
    """Schemas for `plugins` and the enabled built-in `functions` (calculator, date_calculator);
    no tool takes a name in `reserved`."""
    from smarter.apps.plugin.builtins import BUILTINS

    toolset = ToolSet()
    taken: set[str] = set(reserved)
    for function in sorted(set(functions)):
        builtin = BUILTINS.get(function)
        if builtin is None:
            continue
        name = _free(function, f"builtin:{function}", taken)
        schema = builtin.schema
        if name != function:
            schema = {**schema, "function": {**schema["function"], "name": name}}
        toolset.schemas.append(schema)
        toolset.builtins_by_name[name] = function
        taken.add(name)
    for plugin in sorted(plugins, key=lambda item: (item.name, item.plugin_class, item.pk or 0)):
        name = _free(
            base_tool_name(plugin.name), f"{plugin.account_id}:{plugin.plugin_class}:{plugin.name}:{plugin.pk}", taken
        )
        taken.add(name)
        toolset.schemas.append(tool_schema(plugin, name))
        toolset.plugins_by_name[name] = plugin
    return toolset


def _free(base: str, identity: str, taken: set[str]) -> str:
    """`base`, or when it is taken, a suffixed form of it that is not."""
    name, attempt = base, 0
    while name in taken:
        name = _suffixed(base, identity if attempt == 0 else f"{identity}#{attempt}")
        attempt += 1
    return name
