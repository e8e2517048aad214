"""The offline provider: deterministic, honest about itself, and able to drive a whole tool turn."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from smarter.apps.chat.providers import (
    OFFLINE_MODEL,
    Completed,
    Message,
    OfflineProvider,
    ProviderEvent,
    ProviderRequest,
    TextDelta,
    ToolCall,
    ToolCallReady,
    provider_for,
)
from smarter.apps.chat.providers.offline import FOOTNOTE, HOW_TO_CONFIGURE, stem

DEMO_PRODUCT = {
    "type": "function",
    "function": {
        "name": "smarter_demo",
        "description": "Facts about the Smarter demo product: what it is, its price and how to contact sales.",
        "parameters": {
            "type": "object",
            "properties": {"inquiry_type": {"type": "string", "enum": ["description", "price", "contact", "features"]}},
            "required": ["inquiry_type"],
        },
    },
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "name of the city"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
            },
            "required": ["city"],
        },
    },
}
ORDERS = {
    "type": "function",
    "function": {
        "name": "list_orders",
        "description": "Recent orders of a customer",
        "parameters": {
            "type": "object",
            "properties": {
                "customer_id": {"type": "integer"},
                "limit": {"type": "integer", "default": 10},
                "status": {"type": "string", "enum": ["open", "shipped", "cancelled"]},
            },
            "required": ["customer_id"],
        },
    },
}
TOOLS = [WEATHER, DEMO_PRODUCT, ORDERS]

offline = OfflineProvider()


def ask(prompt: str, tools: list[dict[str, Any]] | None = None) -> ProviderRequest:
    return ProviderRequest(
        messages=[Message.system("You help customers."), Message.user(prompt)],
        model="gpt-4o-mini",
        tools=tools or [],
    )


def complete(request: ProviderRequest) -> Any:
    return asyncio.run(offline.complete(request))


def stream(request: ProviderRequest) -> list[ProviderEvent]:
    async def collect() -> list[ProviderEvent]:
        return [event async for event in offline.stream(request)]

    return asyncio.run(collect())


def only_call(request: ProviderRequest) -> ToolCall:
    reply = complete(request)
    assert reply.content == ""
    assert reply.finish_reason == "tool_calls"
    [call] = reply.tool_calls
    return call


# --- choosing and filling -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "name", "arguments"),
    [
        ("How much does the demo product cost?", "smarter_demo", {"inquiry_type": "price"}),
        ("How can I contact your sales team?", "smarter_demo", {"inquiry_type": "contact"}),
        ("Tell me about the demo product", "smarter_demo", {"inquiry_type": "description"}),
        (
            "What's the weather in Paris in fahrenheit?",
            "get_weather",
            {"city": "Paris", "unit": "fahrenheit"},
        ),
        ("Is it raining? Weather for Oslo please", "get_weather", {"city": "Oslo", "unit": "celsius"}),
        (
            "Show the 5 shipped orders of customer 42",
            "list_orders",
            {"customer_id": 42, "limit": 5, "status": "shipped"},
        ),
        ("Orders of customer 7", "list_orders", {"customer_id": 7, "limit": 10}),
        ("weather for new york", "get_weather", {"city": "new york", "unit": "celsius"}),
    ],
)
def test_it_calls_the_best_matching_tool_with_arguments_from_the_message(
    prompt: str, name: str, arguments: dict[str, Any]
) -> None:
    call = only_call(ask(prompt, TOOLS))

    assert (call.name, call.arguments) == (name, arguments)
    assert json.loads(call.raw_arguments) == arguments
    assert call.error is None


def test_an_enum_value_named_by_the_user_picks_the_tool_that_offers_it() -> None:
    # "features" appears only as an enum value of the demo tool, not in any name or description.
    call = only_call(ask("Which features are included?", [WEATHER, ORDERS, DEMO_PRODUCT]))

    assert (call.name, call.arguments) == ("smarter_demo", {"inquiry_type": "features"})


def test_plurals_and_endings_meet_their_stems() -> None:
    assert stem("prices") == stem("price") == stem("pricing")
    assert stem("cities") == stem("city")
    assert stem("orders") == stem("order")


def test_the_same_request_gets_the_same_answer_every_time() -> None:
    request = ask("Show the 5 shipped orders of customer 42", TOOLS)

    assert len({repr(complete(request)) for _ in range(5)}) == 1
    assert only_call(request).id == "call_offline_1_2"


def test_words_matching_no_tool_get_the_configuration_help_instead_of_a_call() -> None:
    reply = complete(ask("Hello there!", TOOLS))

    assert reply.tool_calls == ()
    assert reply.content == (
        f"I am {OFFLINE_MODEL}, Smarter's built-in offline model: no LLM provider is configured, and none of "
        f"this chatbot's plugins matches \u201cHello there!\u201d. {HOW_TO_CONFIGURE}"
    )


# --- answering ----------------------------------------------------------------------------------


def test_without_tools_it_explains_how_to_configure_a_provider() -> None:
    reply = complete(ask("What is the capital of France?"))

    assert reply.content == (
        f"I am {OFFLINE_MODEL}, Smarter's built-in offline model: no LLM provider is configured, so I cannot "
        f"really answer \u201cWhat is the capital of France?\u201d. {HOW_TO_CONFIGURE}"
    )
    assert "SMARTER_OPENAI_API_KEY" in reply.content
    assert "SMARTER_OPENAI_BASE_URL" in reply.content
    assert "Provider manifest" in reply.content
    assert (reply.model, reply.provider, reply.finish_reason) == ("smarter-offline", "offline", "stop")


def test_after_the_tool_answers_it_summarises_the_result_quoting_its_values() -> None:
    call = only_call(ask("How much does the demo product cost?", [DEMO_PRODUCT]))
    result = {"amount": 49, "currency": "USD", "period": "month", "trial": "14 days free"}
    request = ProviderRequest(
        messages=[
            Message.user("How much does the demo product cost?"),
            Message.assistant("", [call]),
            Message.tool(call.id, json.dumps(result)),
        ],
        model="gpt-4o-mini",
        tools=[DEMO_PRODUCT],
    )

    reply = complete(request)

    assert reply.tool_calls == ()
    assert reply.content == (
        "According to smarter_demo:\n- amount: 49\n- currency: USD\n- period: month\n- trial: 14 days free\n\n"
        + FOOTNOTE
    )
    # Honest after answering too: it says what it is and how to get a real model.
    assert FOOTNOTE.endswith(
        "no LLM provider is configured. For a real model set SMARTER_OPENAI_API_KEY, "
        "SMARTER_OPENAI_BASE_URL or apply a Provider manifest.)"
    )


def test_a_plain_text_result_is_quoted_on_one_line() -> None:
    call = ToolCall("call_1", "smarter_demo", {"inquiry_type": "contact"})
    messages = [
        Message.user("contact?"),
        Message.assistant("", [call]),
        Message.tool("call_1", '"sales@example.com"'),
    ]

    reply = complete(ProviderRequest(messages, model="m"))

    assert reply.content == f"According to smarter_demo: sales@example.com\n\n{FOOTNOTE}"


def test_rows_from_several_tools_are_each_summarised() -> None:
    orders = ToolCall("call_1", "list_orders", {"customer_id": 42})
    weather = ToolCall("call_2", "get_weather", {"city": "Oslo"})
    rows = [{"id": 1, "total": 9.5, "status": "shipped"}, {"id": 2, "total": 3, "status": "open"}]
    messages = [
        Message.user("orders and weather"),
        Message.assistant("", [orders, weather]),
        Message.tool("call_1", json.dumps({"result": rows})),
        Message.tool("call_2", json.dumps({"error": "city not found"})),
    ]

    reply = complete(ProviderRequest(messages, model="m"))

    assert reply.content == (
        "According to list_orders:\n- id: 1, total: 9.5, status: shipped\n- id: 2, total: 3, status: open\n\n"
        "get_weather reported an error: city not found\n\n" + FOOTNOTE
    )


# --- streaming and usage ------------------------------------------------------------------------


def test_it_streams_its_answer_word_by_word_ending_with_the_whole_reply() -> None:
    request = ask("What is the capital of France?")

    events = stream(request)

    deltas = [event.text for event in events if isinstance(event, TextDelta)]
    assert len(deltas) == len(complete(request).content.split())
    assert deltas[:3] == ["I", " am", " smarter-offline,"]
    last = events[-1]
    assert isinstance(last, Completed)
    assert "".join(deltas) == last.reply.content
    assert last.reply == complete(request)


def test_a_streamed_tool_call_arrives_whole_before_the_end() -> None:
    events = stream(ask("Orders of customer 7", TOOLS))

    assert [type(event) for event in events] == [ToolCallReady, Completed]
    first = events[0]
    assert isinstance(first, ToolCallReady)
    assert first.tool_call.arguments == {"customer_id": 7, "limit": 10}


@pytest.mark.parametrize("prompt", ["What is the capital of France?", "Orders of customer 7"])
def test_usage_is_positive_and_adds_up(prompt: str) -> None:
    usage = complete(ask(prompt, TOOLS)).usage

    assert usage.prompt_tokens > 0
    assert usage.completion_tokens > 0
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.estimated is False


def test_usage_is_about_four_characters_per_token() -> None:
    request = ProviderRequest([Message.user("x" * 20)], model="m")
    # The prompt as sent: [{"role": "user", "content": "xxxxxxxxxxxxxxxxxxxx"}] is 53 characters.
    reply = complete(request)

    assert reply.usage.prompt_tokens == 14
    assert reply.usage.completion_tokens == -(-len(reply.content) // 4)


def test_the_factory_gives_the_offline_provider_for_its_name() -> None:
    assert isinstance(provider_for("offline", api_key="ignored"), OfflineProvider)


# --- a whole turn over the example static plugin --------------------------------------------------

GOBSTOPPER_DATA = {
    "contact": [{"name": "Willy Wonka"}, {"title": "Founder and CEO"}, {"email": "ww@wwcf.com"}],
    "biographical": "Willy Wonka is the reclusive chocolatier who invented the Everlasting Gobstopper.",
    "salesPromotions": [{"name": "Everlasting Gobstopper", "price": "$1.00"}],
    "couponCodes": [{"name": "10% off", "code": "10OFF"}],
}
# The shape the plugin app gives a static plugin: one `inquiry_type` enum over the staticData keys.
GOBSTOPPER = {
    "type": "function",
    "function": {
        "name": "everlasting_gobstopper",
        "description": "Get information about the Everlasting Gobstopper: who to contact, the biography of its "
        "inventor, current promotions and coupon codes.",
        "parameters": {
            "type": "object",
            "properties": {
                "inquiry_type": {
                    "type": "string",
                    "description": "which part of the information to return",
                    "enum": list(GOBSTOPPER_DATA),
                }
            },
            "required": ["inquiry_type"],
            "additionalProperties": False,
        },
    },
}


@pytest.mark.parametrize(
    ("prompt", "inquiry_type", "answer"),
    [
        (
            "Who should I contact about the Everlasting Gobstopper?",
            "contact",
            "According to everlasting_gobstopper:\n- name: Willy Wonka\n- title: Founder and CEO\n- email: ww@wwcf.com",
        ),
        (
            "Do you have any coupon codes?",
            "couponCodes",
            "According to everlasting_gobstopper: name: 10% off, code: 10OFF",
        ),
        (
            "Which promotions are running?",
            "salesPromotions",
            "According to everlasting_gobstopper: name: Everlasting Gobstopper, price: $1.00",
        ),
    ],
)
def test_a_whole_turn_over_a_static_plugin_calls_it_then_quotes_its_data(
    prompt: str, inquiry_type: str, answer: str
) -> None:
    tools = [WEATHER, GOBSTOPPER, ORDERS]
    conversation = [Message.system("You are a helpful marketing agent."), Message.user(prompt)]

    call = only_call(ProviderRequest(conversation, model="m", tools=tools))
    assert (call.name, call.arguments) == ("everlasting_gobstopper", {"inquiry_type": inquiry_type})

    result = json.dumps(GOBSTOPPER_DATA[call.arguments["inquiry_type"]])
    conversation += [Message.assistant("", [call]), Message.tool(call.id, result)]
    reply = complete(ProviderRequest(conversation, model="m", tools=tools))

    assert reply.tool_calls == ()
    assert reply.content == f"{answer}\n\n{FOOTNOTE}"
