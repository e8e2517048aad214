"""What a suite's case expects and what a chatbot answered: plain values, so the scorers know
nothing of Django, of runs or of the turn pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolCallMade:
    """A plugin the chatbot called during the turn, with the arguments the model gave it."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CaseAnswer:
    text: str
    tool_calls: tuple[ToolCallMade, ...] = ()


@dataclass(frozen=True)
class PluginExpectation:
    """A plugin the turn must call; each named argument must match (`scorers.tools`)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CaseExpectation:
    expected: str | None = None
    must_contain: tuple[str, ...] = ()
    must_not_contain: tuple[str, ...] = ()
    # `contains` ignores case and runs of white space unless this is set.
    exact_case: bool = False
    expect_plugins: tuple[PluginExpectation, ...] = ()
    forbid_plugins: tuple[str, ...] = ()


@dataclass(frozen=True)
class Score:
    """One scorer's verdict on one answer: `value` from 0 to 1, and what decided it."""

    scorer: str
    value: float
    detail: str = ""
    # A scorer that samples (the judge) keeps every sample; `value` is their mean.
    samples: tuple[float, ...] = ()
