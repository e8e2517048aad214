"""Manifests and an upstream script shared by the evaluation tests."""

from __future__ import annotations

import json
from typing import Any

from smarter.testing.openai_stub import RecordedRequest, ScriptedReply, error_reply, text_reply, tool_calls_reply


def chatbot_manifest(name: str = "support", **config: Any) -> dict[str, Any]:
    return {
        "apiVersion": "smarter.sh/v1",
        "kind": "Chatbot",
        "metadata": {"name": name},
        "spec": {
            "config": {"defaultModel": "gpt-4o-mini", "defaultSystemRole": "You sell Gizmos.", **config},
            "plugins": [],
            "functions": ["calculator"],
        },
    }


def suite_manifest(
    cases: list[dict[str, Any]], *, name: str = "support_golden", threshold: float = 0.8
) -> dict[str, Any]:
    return {
        "apiVersion": "smarter.sh/v1",
        "kind": "TestSuite",
        "metadata": {"name": name},
        "spec": {"chatbot": "support", "threshold": threshold, "cases": cases},
    }


GOLDEN_CASES: list[dict[str, Any]] = [
    {"name": "price", "prompt": "What does a Gizmo cost?", "mustContain": ["$12.50"], "tags": ["pricing"]},
    {"name": "exact_colour", "prompt": "Which colour is the Gizmo?", "expected": "Teal.", "scorers": ["exact"]},
    {
        "name": "sum",
        "prompt": "What is 17 plus 25?",
        "mustContain": ["42"],
        "expectPlugins": [{"name": "calculator", "arguments": {"expression": {"contains": "17"}}}],
    },
    {
        "name": "no_refunds_talk",
        "prompt": "Tell me about returns.",
        "mustNotContain": ["refund denied"],
        "forbidPlugins": ["calculator"],
    },
    {
        "name": "follow_up",
        "turns": ["My name is Ada.", "What is my name?"],
        "expected": "Your name is Ada.",
        "scorers": ["rouge"],
        "minScore": 0.9,
    },
]


def golden_upstream(request: RecordedRequest) -> ScriptedReply | None:
    """Answers scripted per prompt: the last user message decides, and a tool result is
    answered with the sum it carries. "Which colour" is answered wrongly on purpose."""
    messages = request.messages
    last = messages[-1] if messages else {}
    if last.get("role") == "tool":
        return text_reply(f"17 plus 25 is {json.loads(last.get('content') or '{}').get('result')}.")
    prompt = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")
    if "Gizmo cost" in prompt:
        return text_reply("A Gizmo costs $12.50.")
    if "colour" in prompt:
        return text_reply("Red and teal.")
    if "17 plus 25" in prompt:
        return tool_calls_reply(("calculator", {"expression": "17 + 25"}))
    if "returns" in prompt:
        return text_reply("You can return a Gizmo within 30 days.")
    if "My name is" in prompt:
        return text_reply("Nice to meet you, Ada.")
    if "my name" in prompt:
        return text_reply(
            "Your name is Ada." if any("Ada" in (m.get("content") or "") for m in messages) else "I don't know."
        )
    return None


def failing_upstream(request: RecordedRequest) -> ScriptedReply | None:
    """The golden answers, except that the upstream is down for the question about returns."""
    prompt = next((m.get("content") or "" for m in reversed(request.messages) if m.get("role") == "user"), "")
    if "returns" in prompt:
        return error_reply(503, "The upstream is overloaded.")
    return golden_upstream(request)
