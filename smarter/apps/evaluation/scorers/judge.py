"""The judge scorer's words and arithmetic: the prompt a judge model gets, the strict reading of
its reply, and the mean and spread of its samples. Calling the model is `evaluation.judging`'s.

The judge answers one JSON object, `{"score": S, "reason": "..."}`, S from 0 to 1 (or from 1 to
5 with the suite's `scale: 1-5`, mapped onto 0 to 1 as (S - 1) / 4). Anything else (prose around
the object, a fenced block, a score out of range) is malformed: never guessed at.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from smarter.apps.chat.providers.base import Message
from smarter.apps.evaluation.records import CaseAnswer, CaseExpectation, Score

SCALES = {"0-1": (0.0, 1.0), "1-5": (1.0, 5.0)}
MAX_REASON = 300

SYSTEM_PROMPT = """You grade one answer of a chatbot against a rubric. You are strict and consistent.
Reply with exactly one JSON object and nothing else (no prose, no code fence):
{{"score": <a number from {low:g} to {high:g}>, "reason": "<one short sentence>"}}
{low:g} means the answer fails the rubric entirely, {high:g} that it meets all of it."""


class MalformedVerdict(ValueError):
    """The judge's reply is not the JSON object asked for."""


@dataclass(frozen=True)
class Verdict:
    value: float  # mapped onto 0..1
    reason: str


def judge_messages(
    *,
    rubric: str,
    case_rubric: str | None,
    prompts: Sequence[str],
    answer: CaseAnswer,
    expectation: CaseExpectation,
    scale: str,
) -> list[Message]:
    """The conversation sent to the judge: the rubric, what the user asked, the reference answer
    when the case has one, what the chatbot called and answered."""
    low, high = SCALES[scale]
    parts = [f"Rubric:\n{rubric.strip()}"]
    if case_rubric:
        parts.append(f"For this question also:\n{case_rubric.strip()}")
    asked = "\n".join(f"- {prompt}" for prompt in prompts)
    parts.append(f"The user's messages, in order:\n{asked}")
    if expectation.expected is not None:
        parts.append(f"A reference answer (a good answer need not repeat it word for word):\n{expectation.expected}")
    if answer.tool_calls:
        calls = "\n".join(f"- {call.name}({json.dumps(call.arguments, sort_keys=True)})" for call in answer.tool_calls)
        parts.append(f"Functions the chatbot called:\n{calls}")
    parts.append(f"The chatbot's answer to grade:\n{answer.text}")
    return [Message.system(SYSTEM_PROMPT.format(low=low, high=high)), Message.user("\n\n".join(parts))]


def read_verdict(text: str, scale: str) -> Verdict:
    """The judge's score mapped onto 0..1, and its reason; MalformedVerdict when the reply is not
    exactly the JSON object asked for."""
    low, high = SCALES[scale]
    try:
        reply = json.loads(text)
    except json.JSONDecodeError as error:
        raise MalformedVerdict(f"not JSON ({error.msg}): {text[:120]!r}") from None
    if not isinstance(reply, dict) or "score" not in reply:
        raise MalformedVerdict(f'not an object with a "score": {text[:120]!r}')
    score = reply["score"]
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        raise MalformedVerdict(f"the score is not a number: {score!r}")
    if not low <= score <= high:
        raise MalformedVerdict(f"the score {score:g} is outside {low:g} to {high:g}")
    reason = reply.get("reason")
    return Verdict((float(score) - low) / (high - low), reason[:MAX_REASON] if isinstance(reason, str) else "")


def spread_of(samples: Sequence[float]) -> float:
    """The samples' standard deviation (of a sample, n - 1); 0 for a single one."""
    return statistics.stdev(samples) if len(samples) > 1 else 0.0


def judge_score(verdicts: Sequence[Verdict]) -> Score:
    """The judge's score of one answer: the mean of its samples, each sample kept."""
    samples = tuple(round(verdict.value, 6) for verdict in verdicts)
    mean, spread = statistics.fmean(samples), spread_of(samples)
    reasons = " | ".join(verdict.reason for verdict in verdicts if verdict.reason)
    detail = f"mean {mean:.3f}, spread {spread:.3f} over {len(samples)} samples" + (f": {reasons}" if reasons else "")
    return Score("judge", round(mean, 6), detail[:2000], samples)
