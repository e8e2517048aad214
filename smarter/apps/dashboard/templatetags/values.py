"""How the console shows a value of a manifest's `status`: as words, never as a Python repr."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def as_text(value: Any) -> str:
    """`{"reachable": True, "detail": "SELECT 1 succeeded", "ms": 2.1}` → "Reachable: SELECT 1
    succeeded (2.1 ms)"; a list → its items, comma-separated; True/False → yes/no; None → "—"."""
    if value is None or value == "" or value == [] or value == {}:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        if "reachable" in value:
            words = "Reachable" if value["reachable"] else "Unreachable"
            detail = f": {value['detail']}" if value.get("detail") else ""
            took = f" ({value['ms']} ms)" if value.get("ms") is not None else ""
            return f"{words}{detail}{took}"
        return "; ".join(f"{key}: {as_text(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(as_text(item) for item in value)
    return str(value)
