"""The scorers a suite's case can name, and how their scores make a case pass.

| scorer | needs | gives |
|---|---|---|
| `exact` | `expected` | 1 if the answer is `expected` (outer white space aside), else 0 |
| `contains` | `mustContain` / `mustNotContain` | the share of those rules kept |
| `regex` | `expected` (a pattern) | 1 if it matches anywhere in the answer |
| `tools` | `expectPlugins` / `forbidPlugins` | the share of those assertions that hold |
| `similarity` | `expected` | cosine similarity of the two embeddings |
| `bleu`, `chrf`, `rouge` | `expected` | sentence BLEU, chrF, ROUGE-L F (0 to 1) |
| `judge` | the suite's `judge` (a rubric) | the mean of k samples of a judge model's score |

Rule scorers (`exact`, `contains`, `regex`, `tools`) pass only at 1; graded ones pass at the
case's `minScore`. A case passes when every scorer it runs passes; its score is their mean.

The judge calls a model, so the runner asks it (`evaluation.judging`) before the other scorers
run and hands its score in through the context; the scorers here stay plain functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from smarter.apps.evaluation.records import CaseAnswer, CaseExpectation, Score
from smarter.apps.evaluation.scorers.overlap import bleu, chrf, rouge
from smarter.apps.evaluation.scorers.similarity import similarity
from smarter.apps.evaluation.scorers.text import contains, exact, regex_match
from smarter.apps.evaluation.scorers.tools import tools

DEFAULT_MIN_SCORE = 0.5


@dataclass(frozen=True)
class ScoringContext:
    """What scorers beyond the answer need: whose models to use."""

    account_id: int
    embedding: dict[str, Any]
    judged: Score | None = None  # the judge's score of this answer, when the case runs the judge


@dataclass(frozen=True)
class Scorer:
    name: str
    graded: bool  # passes at the case's minScore (else only at 1)
    needs_expected: bool
    score: Callable[[CaseAnswer, CaseExpectation, ScoringContext], Score]


def _judged(answer: CaseAnswer, expectation: CaseExpectation, context: ScoringContext) -> Score:
    if context.judged is None:
        raise RuntimeError("the judge's score is asked by the runner before scoring")
    return context.judged


def _plain(function: Callable[[CaseAnswer, CaseExpectation], Score]) -> Callable[..., Score]:
    return lambda answer, expectation, _context: function(answer, expectation)


SCORERS: dict[str, Scorer] = {
    scorer.name: scorer
    for scorer in (
        Scorer("exact", graded=False, needs_expected=True, score=_plain(exact)),
        Scorer("contains", graded=False, needs_expected=False, score=_plain(contains)),
        Scorer("regex", graded=False, needs_expected=True, score=_plain(regex_match)),
        Scorer("tools", graded=False, needs_expected=False, score=_plain(tools)),
        Scorer(
            "similarity",
            graded=True,
            needs_expected=True,
            score=lambda answer, expectation, context: similarity(
                answer, expectation, account_id=context.account_id, embedding=context.embedding
            ),
        ),
        Scorer("bleu", graded=True, needs_expected=True, score=_plain(bleu)),
        Scorer("chrf", graded=True, needs_expected=True, score=_plain(chrf)),
        Scorer("rouge", graded=True, needs_expected=True, score=_plain(rouge)),
        Scorer("judge", graded=True, needs_expected=False, score=_judged),
    )
}


def default_scorers(expectation: CaseExpectation) -> list[str]:
    """The scorers a case runs when it names none: the rules it states, and the similarity of
    its expected answer."""
    names = []
    if expectation.must_contain or expectation.must_not_contain:
        names.append("contains")
    if expectation.expect_plugins or expectation.forbid_plugins:
        names.append("tools")
    if expectation.expected is not None:
        names.append("similarity")
    return names


def score_answer(
    answer: CaseAnswer, expectation: CaseExpectation, names: Sequence[str], context: ScoringContext
) -> list[Score]:
    """Each named scorer's verdict, in order; `tools` runs too whenever the case asserts plugins."""
    wanted = list(dict.fromkeys(names))
    if (expectation.expect_plugins or expectation.forbid_plugins) and "tools" not in wanted:
        wanted.append("tools")
    return [SCORERS[name].score(answer, expectation, context) for name in wanted]


def passes(score: Score, min_score: float = DEFAULT_MIN_SCORE) -> bool:
    threshold = min_score if SCORERS[score.scorer].graded else 1.0
    return score.value >= threshold
