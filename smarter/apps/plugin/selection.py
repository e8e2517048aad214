"""Which of a chatbot's plugins are offered on a turn, and why; and the prompt overlay they bring.

Pure functions over plain values: the chat pipeline passes the plugins, the prompt and the
earlier user messages, and persists the returned decisions with the turn.

Matching (`search_terms`): a term matches when each of its words appears as a whole word, case
insensitively, in one message (the current prompt, then the last `lookback` user messages,
newest first). A word also matches its plural or singular ("course" / "courses", "category" /
"categories", "class" / "classes"), and a word of 5 letters or more tolerates one typo (one
letter inserted, deleted or replaced: "gobstoper" finds "gobstopper").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

DEFAULT_LOOKBACK = 5
TYPO_MIN_LENGTH = 5
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


class Selectable(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def directive(self) -> str: ...
    @property
    def search_terms(self) -> list[str]: ...


@dataclass(frozen=True)
class SelectionDecision:
    """One plugin's decision on one turn: what the sandbox shows and the chat app stores."""

    plugin: str
    selected: bool
    rule: str  # always | search_terms | llm
    matched_term: str | None = None
    where: str | None = None  # "prompt", or "history[1]" for the newest earlier user message
    overlay: bool = False  # whether its prompt overlay applies now (llm: only once called)

    def as_dict(self) -> dict[str, Any]:
        return {
            "plugin": self.plugin,
            "selected": self.selected,
            "rule": self.rule,
            "matchedTerm": self.matched_term,
            "where": self.where,
            "overlay": self.overlay,
        }


def _forms(word: str) -> set[str]:
    """The word and its likely singular forms: enough to match "gobstoppers" with "gobstopper"."""
    forms = {word}
    if len(word) > 3 and word.endswith("ies"):
        forms.add(word[:-3] + "y")
    if len(word) > 3 and word.endswith("es"):
        forms.add(word[:-2])
    if len(word) > 2 and word.endswith("s") and not word.endswith("ss"):
        forms.add(word[:-1])
    return forms


def _deletions(word: str) -> set[tuple[int, str]]:
    return {(index, word[:index] + word[index + 1 :]) for index in range(len(word))}


@dataclass
class _MessageIndex:
    """The words of one message, indexed so a term word is matched in O(its length)."""

    forms: set[str] = field(default_factory=set)
    # for one-typo matching of long words: every form with one letter removed (and where)
    deletions_at: set[tuple[int, str]] = field(default_factory=set)
    deletions: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, text: str) -> _MessageIndex:
        index = cls()
        for word in _WORD.findall(text.casefold()):
            for form in _forms(word):
                index.forms.add(form)
                if len(form) >= TYPO_MIN_LENGTH - 1:
                    for position, deleted in _deletions(form):
                        index.deletions_at.add((position, deleted))
                        index.deletions.add(deleted)
        return index

    def merge(self, other: _MessageIndex) -> None:
        self.forms |= other.forms
        self.deletions_at |= other.deletions_at
        self.deletions |= other.deletions

    def has(self, term_word: str) -> bool:
        forms, deletions = _probe(term_word)
        if not forms.isdisjoint(self.forms):
            return True
        if not deletions:
            return False
        # One typo, against the term as written (not its guessed singular: plural guessing and a
        # typo together would make "syllabi" match "syllabus").
        if term_word in self.deletions:  # one letter extra in the message word
            return True
        # one letter missing in the message word, or one letter replaced
        return any(deleted in self.forms or (position, deleted) in self.deletions_at for position, deleted in deletions)


@functools.lru_cache(maxsize=65536)
def _probe(term_word: str) -> tuple[frozenset[str], tuple[tuple[int, str], ...]]:
    """What a term word is looked up by: its forms, and (if long enough) its one-letter deletions."""
    deletions = tuple(sorted(_deletions(term_word))) if len(term_word) >= TYPO_MIN_LENGTH else ()
    return frozenset(_forms(term_word)), deletions


@functools.lru_cache(maxsize=65536)
def _term_words(term: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(term.casefold()))


def select_plugins(
    plugins: Iterable[Selectable],
    *,
    prompt: str,
    history: Sequence[str] = (),
    lookback: int = DEFAULT_LOOKBACK,
) -> list[SelectionDecision]:
    """One decision per plugin, in the order given.

    `history` holds the session's earlier *user* messages, oldest first; the newest `lookback`
    of them are searched after the prompt.
    """
    earlier = list(history)[-lookback:][::-1] if lookback > 0 else []
    messages: list[tuple[str, str]] = [("prompt", prompt)] + [
        (f"history[{position}]", text) for position, text in enumerate(earlier, start=1)
    ]
    indexes = [_MessageIndex.of(text) for _where, text in messages]
    # Every word of every searched message: a term missing from it is missing from each message,
    # which is the common case and is settled with one lookup.
    anywhere = _MessageIndex()
    for index in indexes:
        anywhere.merge(index)

    decisions = []
    for plugin in plugins:
        directive = plugin.directive
        if directive == "always":
            decisions.append(SelectionDecision(plugin.name, True, "always", overlay=True))
            continue
        if directive == "llm":
            decisions.append(SelectionDecision(plugin.name, True, "llm", overlay=False))
            continue
        decision = SelectionDecision(plugin.name, False, "search_terms")
        terms = [(term, words) for term in plugin.search_terms if (words := _term_words(term))]
        terms = [(term, words) for term, words in terms if all(anywhere.has(word) for word in words)]
        if terms:
            for (where, _text), message in zip(messages, indexes, strict=True):
                matched = next((term for term, words in terms if all(message.has(word) for word in words)), None)
                if matched is not None:
                    decision = SelectionDecision(plugin.name, True, "search_terms", matched, where, overlay=True)
                    break
        decisions.append(decision)
    return decisions


@dataclass(frozen=True)
class PromptSettings:
    """What the model is called with on this turn after the overlay."""

    system_role: str
    model: str | None
    temperature: float | None
    max_tokens: int | None
    provider: str | None = None
    applied: tuple[str, ...] = ()  # names of the plugins whose overlay applied, in order


class Overlaid(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def prompt(self) -> dict[str, Any]: ...


def apply_overlay(
    *,
    system_role: str,
    model: str | None,
    temperature: float | None,
    max_tokens: int | None,
    provider: str | None = None,
    plugins: Iterable[Overlaid],
) -> PromptSettings:
    """The chatbot's prompt settings with the overlays of `plugins` applied.

    The rule, whatever order the plugins come in (so a turn is reproducible):
    - plugins are taken in order of name;
    - each one's systemRole is appended to the system message, separated by a blank line;
    - temperature: the lowest any of them sets (the most conservative wins);
    - maxTokens: the smallest any of them sets;
    - model (and provider): those of the first plugin, by name, that sets a model.
    A setting no plugin sets keeps the chatbot's value.

    Pass the plugins whose decision has `overlay=True`, plus any `llm` plugin the model called.
    """
    ordered = sorted(plugins, key=lambda plugin: plugin.name)
    parts = [system_role] if system_role else []
    applied = []
    chosen_model = None
    chosen_provider = None
    temperatures = []
    limits = []
    for plugin in ordered:
        overlay = plugin.prompt or {}
        if not any(overlay.get(key) is not None for key in ("systemRole", "model", "temperature", "maxTokens")):
            continue
        applied.append(plugin.name)
        if overlay.get("systemRole"):
            parts.append(str(overlay["systemRole"]).strip())
        if overlay.get("model") and chosen_model is None:
            chosen_model = str(overlay["model"])
            chosen_provider = overlay.get("provider")
        if overlay.get("temperature") is not None:
            temperatures.append(float(overlay["temperature"]))
        if overlay.get("maxTokens") is not None:
            limits.append(int(overlay["maxTokens"]))
    return PromptSettings(
        system_role="\n\n".join(parts),
        model=chosen_model or model,
        temperature=min(temperatures) if temperatures else temperature,
        max_tokens=min(limits) if limits else max_tokens,
        provider=(chosen_provider or provider) if chosen_model else provider,
        applied=tuple(applied),
    )
