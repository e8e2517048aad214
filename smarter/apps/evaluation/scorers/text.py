"""Scorers that check the answer's text against rules: `exact`, `contains`, `regex`.

Each gives 1 or 0 (`contains` the share of its rules kept) and says in `detail` what failed.
"""

from __future__ import annotations

import re

import regex

from smarter.apps.evaluation.records import CaseAnswer, CaseExpectation, Score

# A suite's pattern is the tenant's text: a pattern that backtracks without end must not hold a
# worker, so it is given this long and then fails the case.
REGEX_SECONDS = 1.0
_SPACE = re.compile(r"\s+")


def _loose(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def exact(answer: CaseAnswer, expectation: CaseExpectation) -> Score:
    """1 when the answer is the expected text, leading and trailing white space aside."""
    expected = expectation.expected or ""
    if answer.text.strip() == expected.strip():
        return Score("exact", 1.0)
    return Score("exact", 0.0, f"expected {expected.strip()!r}")


def contains(answer: CaseAnswer, expectation: CaseExpectation) -> Score:
    """The share of `mustContain` phrases present and `mustNotContain` phrases absent; case and
    runs of white space are ignored unless the case asks for the exact case."""
    prepare = (lambda text: _SPACE.sub(" ", text).strip()) if expectation.exact_case else _loose
    text = prepare(answer.text)
    missing = [phrase for phrase in expectation.must_contain if prepare(phrase) not in text]
    present = [phrase for phrase in expectation.must_not_contain if prepare(phrase) in text]
    rules = len(expectation.must_contain) + len(expectation.must_not_contain)
    if rules == 0:
        return Score("contains", 1.0)
    kept = rules - len(missing) - len(present)
    problems = [f"missing {phrase!r}" for phrase in missing] + [f"contains {phrase!r}" for phrase in present]
    return Score("contains", kept / rules, "; ".join(problems))


def regex_match(answer: CaseAnswer, expectation: CaseExpectation) -> Score:
    """1 when the pattern in `expected` matches anywhere in the answer."""
    pattern = expectation.expected or ""
    try:
        found = regex.search(pattern, answer.text, timeout=REGEX_SECONDS)
    except TimeoutError:
        return Score("regex", 0.0, f"the pattern took longer than {REGEX_SECONDS:g} s and was stopped")
    except regex.error as error:
        return Score("regex", 0.0, f"the pattern is not a valid regular expression: {error}")
    if found:
        return Score("regex", 1.0)
    return Score("regex", 0.0, f"no match for {pattern!r}")


def pattern_error(pattern: str) -> str | None:
    """Why `pattern` is not a regular expression the regex scorer can use, or None."""
    try:
        regex.compile(pattern)
    except regex.error as error:
        return str(error)
    return None
