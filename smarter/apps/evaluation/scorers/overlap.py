"""Scorers that measure how much of the expected answer the answer shares, word or character
n-grams: `bleu` and `chrf` (sacrebleu, sentence level, its default tokenizer and smoothing) and
`rouge` (ROUGE-L F-measure from rouge-score, with stemming). Deterministic: the same answer and
expected text always score the same. Scaled from 0 to 1.

sacrebleu and rouge-score (with nltk) are imported on first use: together they are over 100 MiB
that every web process would otherwise hold from start-up, for scorers only a run uses.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from smarter.apps.evaluation.records import CaseAnswer, CaseExpectation, Score


def bleu(answer: CaseAnswer, expectation: CaseExpectation) -> Score:
    import sacrebleu

    result = sacrebleu.sentence_bleu(answer.text, [expectation.expected or ""])
    return Score("bleu", round(result.score / 100, 6))


def chrf(answer: CaseAnswer, expectation: CaseExpectation) -> Score:
    import sacrebleu

    result = sacrebleu.sentence_chrf(answer.text, [expectation.expected or ""])
    return Score("chrf", round(result.score / 100, 6))


@cache
def _rouge() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge(answer: CaseAnswer, expectation: CaseExpectation) -> Score:
    result = _rouge().score(expectation.expected or "", answer.text)["rougeL"]
    return Score("rouge", round(result.fmeasure, 6))
