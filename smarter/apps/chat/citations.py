"""The citations of a turn: which chunks of which documents its knowledge plugins handed the model.

Read from the turn's own tool results, in memory: a turn that ran no knowledge plugin costs
nothing more, and one that did stores its retrieved chunks (with their text and scores) in its
tool calls, where the sandbox's inspector reads them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from smarter.apps.chat.turns import ToolResultEvent
from smarter.apps.plugin.models import Plugin, PluginClass

CITATION_FIELDS = ("document", "documentId", "chunk", "score")


def turn_citations(
    tool_events: Iterable[tuple[int, Plugin | None, ToolResultEvent]],
) -> tuple[dict[str, Any], ...] | None:
    """`[{"document", "documentId", "chunk", "score"}]` in the order the chunks were retrieved, each
    chunk once (its first, best-ranked appearance); None when no knowledge plugin ran this turn."""
    citations: list[dict[str, Any]] | None = None
    seen: set[tuple[Any, Any]] = set()
    for _, plugin, event in tool_events:
        if plugin is None or plugin.plugin_class != PluginClass.KNOWLEDGE or not event.ran:
            continue
        if citations is None:
            citations = []
        results = event.result.get("results") if event.error is None and isinstance(event.result, dict) else None
        for result in results or ():
            key = (result.get("documentId"), result.get("chunk"))
            if key in seen:
                continue
            seen.add(key)
            citations.append({field: result.get(field) for field in CITATION_FIELDS})
    return tuple(citations) if citations is not None else None
