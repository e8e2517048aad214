"""Where a manifest's field errors are in the YAML the user typed, so the editor can point at them."""

from __future__ import annotations

import re
from typing import Any

import yaml

from smarter.lib.errors import FieldError, SmarterError
from smarter.lib.manifests.loader import BoundedSafeLoader

_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def loc_parts(loc: str) -> list[str | int]:
    """`spec.selector.searchTerms[0]` → ["spec", "selector", "searchTerms", 0]."""
    return [int(index) if index else name for name, index in _PART.findall(loc)]


def line_of(text: str, loc: str) -> int | None:
    """The 1-based line of the deepest node of `loc` that exists in `text` (a missing field
    points at its parent), or None when the text is not YAML."""
    try:
        # The loader's own (bounded) composer: what it refused to load, it does not walk here.
        node: Any = yaml.compose(text, Loader=BoundedSafeLoader)
    except (yaml.YAMLError, SmarterError):
        return None
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc_parts(loc):
        found = None
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key, value in node.value:
                if key.value == part:
                    found, line = value, key.start_mark.line + 1
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            found = node.value[part]
            line = found.start_mark.line + 1
        if found is None:
            break
        node = found
    return line


def located(text: str, errors: list[FieldError]) -> list[dict[str, Any]]:
    """Each error with the line it points at, for the editor's error list."""
    return [{"loc": error.loc, "msg": error.msg, "line": line_of(text, error.loc)} for error in errors]


def field_of(loc: str, prefix: str = "spec.config.") -> str:
    """The form field an error belongs to: `spec.config.appExamplePrompts[2]` → appExamplePrompts."""
    return loc.removeprefix(prefix).split(".")[0].split("[")[0]
