"""A judge upstream the judge tests script: each answer under judgement gets its own list of
replies, handed out in the order its judge calls arrive (the samples of one answer are asked at
once, so which sample gets which reply is not fixed; their set is)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from smarter.testing.openai_stub import RecordedRequest, ScriptedReply, text_reply

JUDGE_RUBRIC = "The answer states the price in dollars and is polite."


def judge_section(**options: Any) -> dict[str, Any]:
    return {"rubric": JUDGE_RUBRIC, "samples": 3, **options}


def is_judge_call(request: RecordedRequest) -> bool:
    messages = request.messages
    return bool(messages) and (messages[0].get("content") or "").startswith("You grade one answer")


def verdict(score: Any, reason: str = "ok") -> str:
    return json.dumps({"score": score, "reason": reason})


class ScriptedJudge:
    """Replies to judge calls per answer under judgement; chat turns go to `answers`."""

    def __init__(self, answers: Callable[[RecordedRequest], ScriptedReply | None], **scripts: list[str]) -> None:
        self.answers = answers
        self.scripts = {answer: list(replies) for answer, replies in scripts.items()}
        self.asked: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, request: RecordedRequest) -> ScriptedReply | None:
        if not is_judge_call(request):
            return self.answers(request)
        graded = request.messages[-1]["content"].rsplit("The chatbot's answer to grade:\n", 1)[1]
        with self._lock:
            number = self.asked.get(graded, 0)
            self.asked[graded] = number + 1
        replies = self.scripts[graded]
        return text_reply(replies[min(number, len(replies) - 1)])
