"""Which plugins a turn offers, and why: table-driven, no database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from smarter.apps.plugin.selection import SelectionDecision, apply_overlay, select_plugins


@dataclass
class FakePlugin:
    name: str
    directive: str = "search_terms"
    search_terms: list[str] = field(default_factory=list)
    prompt: dict[str, Any] = field(default_factory=dict)


GOBSTOPPER = FakePlugin("gobstopper", search_terms=["Gobstopper"])
CATALOGUE = FakePlugin("catalogue", search_terms=["course catalogue", "syllabus"])
CATEGORY = FakePlugin("category", search_terms=["category"])
CLASS = FakePlugin("klass", search_terms=["class"])
CAT = FakePlugin("cat", search_terms=["cat"])

CASES = [
    # plugin, prompt, history, selected, matched term, where
    (GOBSTOPPER, "Tell me about the Gobstopper", [], True, "Gobstopper", "prompt"),
    (GOBSTOPPER, "tell me about gobstoppers!", [], True, "Gobstopper", "prompt"),
    (GOBSTOPPER, "GOBSTOPPER?", [], True, "Gobstopper", "prompt"),
    (GOBSTOPPER, "is the gobstoper good", [], True, "Gobstopper", "prompt"),  # one letter missing
    (GOBSTOPPER, "is the gobbstopper good", [], True, "Gobstopper", "prompt"),  # one letter extra
    (GOBSTOPPER, "is the gobstooper good", [], True, "Gobstopper", "prompt"),  # one letter replaced
    (GOBSTOPPER, "is the gbstoppr good", [], False, None, None),  # two typos
    (GOBSTOPPER, "gobstopperish candy", [], False, None, None),  # not a whole word
    (GOBSTOPPER, "what is a stopper", [], False, None, None),
    (GOBSTOPPER, "and the price?", ["hi", "I love gobstoppers"], True, "Gobstopper", "history[1]"),
    (GOBSTOPPER, "and the price?", ["gobstopper", "hello", "again"], True, "Gobstopper", "history[3]"),
    (CATALOGUE, "Is the catalogue of each course online?", [], True, "course catalogue", "prompt"),
    (CATALOGUE, "show me the courses", [], False, None, None),  # only one word of the term
    (CATALOGUE, "the Syllabi", [], False, None, None),  # irregular plurals are not guessed
    (CATALOGUE, "send the syllabus", ["the course", "catalogue"], True, "syllabus", "prompt"),
    (CATEGORY, "which categories exist", [], True, "category", "prompt"),
    (CLASS, "two classes please", [], True, "class", "prompt"),
    (CAT, "my cats", [], True, "cat", "prompt"),
    (CAT, "a bat", [], False, None, None),  # short words get no typo tolerance
    (CAT, "concatenate", [], False, None, None),
]


@pytest.mark.parametrize(("plugin", "prompt", "history", "selected", "term", "where"), CASES)
def test_search_terms(
    plugin: FakePlugin, prompt: str, history: list[str], selected: bool, term: Any, where: Any
) -> None:
    (decision,) = select_plugins([plugin], prompt=prompt, history=history)
    assert decision == SelectionDecision(plugin.name, selected, "search_terms", term, where, overlay=selected)


def test_only_the_last_messages_are_searched() -> None:
    history = ["gobstopper", "a", "b", "c"]
    assert select_plugins([GOBSTOPPER], prompt="x", history=history, lookback=3)[0].selected is False
    assert select_plugins([GOBSTOPPER], prompt="x", history=history, lookback=4)[0].where == "history[4]"


def test_always_and_llm_directives_and_order_is_kept() -> None:
    plugins = [FakePlugin("b", "llm"), FakePlugin("a", "always"), GOBSTOPPER]
    decisions = select_plugins(plugins, prompt="nothing relevant")
    assert [decision.as_dict() for decision in decisions] == [
        {"plugin": "b", "selected": True, "rule": "llm", "matchedTerm": None, "where": None, "overlay": False},
        {"plugin": "a", "selected": True, "rule": "always", "matchedTerm": None, "where": None, "overlay": True},
        {
            "plugin": "gobstopper",
            "selected": False,
            "rule": "search_terms",
            "matchedTerm": None,
            "where": None,
            "overlay": False,
        },
    ]


def test_the_overlay_rule_is_deterministic_whatever_the_order() -> None:
    plugins = [
        FakePlugin("zeta", prompt={"systemRole": "Z role.", "model": "gpt-z", "temperature": 0.9, "maxTokens": 100}),
        FakePlugin("alpha", prompt={"systemRole": "A role.", "temperature": 0.5, "maxTokens": 500}),
        FakePlugin("mid", prompt={"model": "gpt-m", "provider": "acme", "temperature": 0.7}),
        FakePlugin("empty"),
    ]
    expected = dict(
        system_role="Base.\n\nA role.\n\nZ role.",
        model="gpt-m",
        temperature=0.5,
        max_tokens=100,
        provider="acme",
        applied=("alpha", "mid", "zeta"),
    )
    for order in (plugins, plugins[::-1]):
        settings = apply_overlay(
            system_role="Base.", model="gpt-base", temperature=1.0, max_tokens=2048, provider="openai", plugins=order
        )
        assert settings.__dict__ == expected


def test_without_overlays_the_chatbot_settings_stand() -> None:
    settings = apply_overlay(system_role="Base.", model="m", temperature=0.3, max_tokens=10, plugins=[FakePlugin("x")])
    assert (settings.system_role, settings.model, settings.temperature, settings.max_tokens, settings.applied) == (
        "Base.",
        "m",
        0.3,
        10,
        (),
    )
