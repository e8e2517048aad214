"""Sections an app adds to a console page without the console importing it.

The console is a door, and so is an app like `channels`: no door imports another. A page of the
console (the chatbot page) asks this registry for the sections registered for it; each brings
its own template and builds its own context, from the caller and the page's subject, through
its own selectors (scoped by the caller's account).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PanelContext = Callable[[Any, str], dict[str, Any]]


@dataclass(frozen=True)
class Panel:
    page: str  # "chatbot": the chatbot page, whose subject is the chatbot's name
    template: str
    context: PanelContext


_PANELS: list[Panel] = []


def register_panel(panel: Panel) -> None:
    if panel not in _PANELS:
        _PANELS.append(panel)


def panels_for(page: str, caller: Any, subject: str) -> list[tuple[str, dict[str, Any]]]:
    """The registered sections of a page: each template with the context it built."""
    return [(panel.template, panel.context(caller, subject)) for panel in _PANELS if panel.page == page]
