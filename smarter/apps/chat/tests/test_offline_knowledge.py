"""The offline model with a knowledge plugin: it searches with the user's whole question, even
a question no word of which matches a tool, and answers by quoting the retrieved text under the name of
its document. And a turn's citations, read from its knowledge plugins' results."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from smarter.apps.chat.citations import turn_citations
from smarter.apps.chat.providers import Message, OfflineProvider, ProviderRequest, ToolCall
from smarter.apps.chat.providers.offline import FOOTNOTE
from smarter.apps.chat.turns import ToolResultEvent
from smarter.apps.plugin.models import Plugin
from smarter.apps.plugin.tools import tool_schema

MANUAL = Plugin(
    name="manual_search",
    plugin_class="knowledge",
    data={"knowledgeBase": "manual", "description": "Searches the product manual"},
)
CATALOGUE = Plugin(
    name="catalogue",
    plugin_class="static",
    data={"description": "Prices of the Gizmo", "staticData": {"price": "$12.50"}},
)
WARRANTY = (
    "Every Gobstopper carries a two-year warranty against cracking. Keep the receipt: "
    "it is the proof of purchase a claim needs."
)
RESULTS = {
    "results": [
        {"document": "manual.md", "documentId": 7, "chunk": 3, "score": 0.032787, "text": WARRANTY},
        {"document": "faq.md", "documentId": 9, "chunk": 0, "score": 0.016129, "text": "Returns: within 30 days."},
        {"document": "faq.md", "documentId": 9, "chunk": 5, "score": 0.0123, "text": "A third chunk, not quoted."},
    ]
}


def reply(*messages: Message, tools: tuple[dict[str, Any], ...] = ()) -> Any:
    return asyncio.run(OfflineProvider().complete(ProviderRequest(messages=messages, model="x", tools=tools)))


def test_a_knowledge_tool_is_called_with_the_whole_question_even_when_no_word_matches_a_tool() -> None:
    question = "What does   the warranty cover if it cracks?"
    answer = reply(Message.user(question), tools=(tool_schema(CATALOGUE), tool_schema(MANUAL)))
    assert answer.content == ""
    assert [(call.name, call.arguments) for call in answer.tool_calls] == [
        ("manual_search", {"query": "What does the warranty cover if it cracks?"})
    ]


def test_a_greeting_is_no_question_to_search_for() -> None:
    answer = reply(Message.user("Hello there"), tools=(tool_schema(CATALOGUE), tool_schema(MANUAL)))
    assert answer.tool_calls == ()
    assert "none of this chatbot's plugins matches" in answer.content


def test_a_tool_matching_the_words_still_wins_over_the_knowledge_tool() -> None:
    answer = reply(Message.user("What is the price of the Gizmo?"), tools=(tool_schema(MANUAL), tool_schema(CATALOGUE)))
    assert [call.name for call in answer.tool_calls] == ["catalogue"]


def test_the_answer_quotes_the_two_best_chunks_under_their_documents_names() -> None:
    call = ToolCall.from_raw("call_1", "manual_search", json.dumps({"query": "warranty?"}))
    answer = reply(
        Message.user("warranty?"),
        Message.assistant("", [call]),
        Message.tool("call_1", json.dumps(RESULTS), name="manual_search"),
    )
    assert answer.content == (
        f"From \u201cmanual.md\u201d:\n{WARRANTY}\n\nFrom \u201cfaq.md\u201d:\nReturns: within 30 days.\n\n{FOOTNOTE}"
    )


def test_a_search_that_found_nothing_says_so() -> None:
    call = ToolCall.from_raw("call_1", "manual_search", json.dumps({"query": "unicorns?"}))
    answer = reply(
        Message.user("unicorns?"),
        Message.assistant("", [call]),
        Message.tool("call_1", json.dumps({"results": []}), name="manual_search"),
    )
    assert answer.content == f"I searched the documents of manual_search and found nothing about that.\n\n{FOOTNOTE}"


def event(plugin: str, result: Any = None, error: str | None = None, ran: bool = True) -> ToolResultEvent:
    return ToolResultEvent("call", plugin, plugin, {}, result, error, 1.0, ran=ran)


def test_citations_are_the_knowledge_results_without_their_text_each_chunk_once_in_order() -> None:
    again = {"results": [RESULTS["results"][1], {**RESULTS["results"][0], "chunk": 4}]}
    events = [
        (1, CATALOGUE, event("catalogue", {"results": [{"document": "not a citation", "text": "x"}]})),
        (1, MANUAL, event("manual_search", RESULTS)),
        (2, MANUAL, event("manual_search", again)),
    ]
    assert turn_citations(events) == (
        {"document": "manual.md", "documentId": 7, "chunk": 3, "score": 0.032787},
        {"document": "faq.md", "documentId": 9, "chunk": 0, "score": 0.016129},
        {"document": "faq.md", "documentId": 9, "chunk": 5, "score": 0.0123},
        {"document": "manual.md", "documentId": 7, "chunk": 4, "score": 0.032787},
    )


def test_no_knowledge_plugin_no_citations_and_a_failed_search_cites_nothing() -> None:
    assert turn_citations([(1, CATALOGUE, event("catalogue", "$12.50")), (1, None, event("calculator", 4))]) is None
    assert turn_citations([]) is None
    assert turn_citations([(1, MANUAL, event("manual_search", error="the knowledge base is down"))]) == ()
    assert turn_citations([(1, MANUAL, event("manual_search", error="too many", ran=False))]) is None
