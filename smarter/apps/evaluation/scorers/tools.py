"""The `tools` scorer: which plugins the turn called, and with what.

`expectPlugins` entries must each be met by at least one call of that plugin whose arguments
match; `forbidPlugins` must not be called at all. An argument matcher is a plain value (equal,
numbers and their spelled forms alike: `42` matches "42"), or an object with one key:
`{"contains": "text"}` (case-insensitive) or `{"regex": "pattern"}`. The score is the share of
these assertions that hold.
"""

from __future__ import annotations

import json
from typing import Any

import regex

from smarter.apps.evaluation.records import CaseAnswer, CaseExpectation, PluginExpectation, Score, ToolCallMade
from smarter.apps.evaluation.scorers.text import REGEX_SECONDS

MATCHER_KEYS = ("contains", "regex")


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def argument_matches(matcher: Any, value: Any) -> bool:
    if isinstance(matcher, dict) and len(matcher) == 1 and next(iter(matcher)) in MATCHER_KEYS:
        (kind, wanted), text = next(iter(matcher.items())), _text(value)
        if kind == "contains":
            return str(wanted).casefold() in text.casefold()
        try:
            return regex.search(str(wanted), text, timeout=REGEX_SECONDS) is not None
        except (TimeoutError, regex.error):
            return False
    if matcher == value:
        return True
    return _text(matcher) == _text(value)


def _met_by(expected: PluginExpectation, call: ToolCallMade) -> bool:
    if call.name != expected.name:
        return False
    return all(
        name in call.arguments and argument_matches(matcher, call.arguments[name])
        for name, matcher in expected.arguments.items()
    )


def tools(answer: CaseAnswer, expectation: CaseExpectation) -> Score:
    problems: list[str] = []
    for expected in expectation.expect_plugins:
        if any(_met_by(expected, call) for call in answer.tool_calls):
            continue
        called = [call for call in answer.tool_calls if call.name == expected.name]
        if not called:
            problems.append(f"{expected.name} was not called")
        else:
            problems.append(f"{expected.name} was called without the expected arguments {expected.arguments}")
    called_names = {call.name for call in answer.tool_calls}
    problems += [f"{name} was called" for name in expectation.forbid_plugins if name in called_names]
    assertions = len(expectation.expect_plugins) + len(expectation.forbid_plugins)
    if assertions == 0:
        return Score("tools", 1.0)
    return Score("tools", (assertions - len(problems)) / assertions, "; ".join(problems))
