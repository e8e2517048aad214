"""The OpenAI door as the SDKs and LangChain use it: the real `openai` SDK (sync and async) and
`langchain-openai`, against the platform served on loopback, with the stub upstream as the model.

The lean route answers `/api/v1/openai/chat/completions`; Django's view answers the same path with
a slash. Each behaviour a client depends on is checked through both (`door`)."""

# The SDK's typed overloads take TypedDicts and its own httpx; these tests send plain dicts.
# mypy: disable-error-code="arg-type,list-item,call-overload,union-attr,attr-defined,unused-ignore"

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from openai import AsyncOpenAI, AuthenticationError, BadRequestError, NotFoundError, OpenAI
from pydantic import BaseModel

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chat.models import ToolCall, Turn
from smarter.apps.chat.tests.test_turn_pipeline import STATIC_PLUGIN, apply, chatbot, http
from smarter.testing.openai_stub import (
    OpenAIStub,
    calls_when_offered,
    json_reply,
    offered_tools,
    text_reply,
    tool_calls_reply,
)

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


class Gizmo(BaseModel):
    name: str
    price: float


@pytest.fixture
def upstream(smarter_settings: Any) -> Iterator[OpenAIStub]:
    with OpenAIStub() as stub:
        smarter_settings.llm_provider = "openai"
        smarter_settings.openai_base_url = stub.url
        smarter_settings.openai_api_key = "sk-platform"
        smarter_settings.allow_private_hosts = True
        yield stub


@pytest.fixture
def acme(asgi_server: Any) -> Any:
    return make_account("Acme")


# `owner` and `teammate` are the shared fixtures' (conftest.py), of this served `acme`.
@pytest.fixture
def outsider(asgi_server: Any) -> Persona:
    return make_persona(make_account("Globex"), "outsider", Role.ADMIN)


@pytest.fixture
def support(owner: Persona, asgi_server: Any) -> None:
    """The chatbot `support` with the always-selected static plugin `catalogue`."""
    with http(owner, asgi_server) as client:
        apply(client, STATIC_PLUGIN)
        chatbot(client, plugins=["catalogue"])


@pytest.fixture(params=["lean", "django"])
def door(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _to_django(request: httpx.Request) -> None:
    """The completions path with a slash: Django's view answers it, not the lean route."""
    if request.url.path.endswith("/chat/completions"):
        request.url = request.url.copy_with(path=request.url.path + "/")


async def _to_django_async(request: httpx.Request) -> None:
    _to_django(request)


def sdk(persona: Persona, server: Any, door: str = "lean") -> OpenAI:
    hooks = {"request": [_to_django]} if door == "django" else {}
    return OpenAI(
        base_url=f"{server.url}/api/v1/openai",
        api_key=persona.key,
        max_retries=0,
        http_client=httpx.Client(event_hooks=hooks, timeout=30),
    )


def async_sdk(persona: Persona, server: Any, door: str = "lean") -> AsyncOpenAI:
    hooks = {"request": [_to_django_async]} if door == "django" else {}
    return AsyncOpenAI(
        base_url=f"{server.url}/api/v1/openai",
        api_key=persona.key,
        max_retries=0,
        http_client=httpx.AsyncClient(event_hooks=hooks, timeout=30),
    )


def langchain(persona: Persona, server: Any, door: str = "lean", **options: Any) -> ChatOpenAI:
    hooks = {"request": [_to_django]} if door == "django" else {}
    return ChatOpenAI(
        model="support",
        base_url=f"{server.url}/api/v1/openai",
        api_key=persona.key,  # type: ignore[arg-type]
        max_retries=0,
        http_client=httpx.Client(event_hooks=hooks, timeout=30),
        **options,
    )


def message_of(error: Any) -> str:
    """The `error.message` of the answer (the SDK's own message starts with the status)."""
    return str(error.body["message"])


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"Sunny in {city}"


# --- client tools --------------------------------------------------------------------------------


def test_langchain_bind_tools_gets_the_tool_calls_and_the_follow_up_gets_the_answer(
    upstream: OpenAIStub, owner: Persona, support: None, asgi_server: Any, door: str
) -> None:
    upstream.enqueue(tool_calls_reply(("get_weather", {"city": "Paris"})), text_reply("It is sunny in Paris."))
    model = langchain(owner, asgi_server, door).bind_tools([get_weather])
    question = HumanMessage("What is the weather in Paris?")
    asked = model.invoke([question])
    assert asked.tool_calls == [
        {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1_0", "type": "tool_call"}
    ]
    assert asked.response_metadata["finish_reason"] == "tool_calls"
    # The model saw the chatbot's plugin and the client's tool side by side.
    assert offered_tools(upstream.chat_requests[0]) == ["catalogue", "get_weather"]
    answer = model.invoke([question, asked, ToolMessage("Sunny in Paris", tool_call_id="call_1_0")])
    assert answer.content == "It is sunny in Paris."
    assert answer.response_metadata["finish_reason"] == "stop"
    follow_up = upstream.chat_requests[1].messages
    assert follow_up[-2]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city": "Paris"}'}
    assert follow_up[-1] == {"role": "tool", "content": "Sunny in Paris", "tool_call_id": "call_1_0"}
    # The client's tool never ran here: no plugin call is recorded.
    assert not ToolCall.objects.exists()
    assert list(Turn.objects.values_list("status", flat=True)) == ["ok", "ok"]


def test_the_sdk_gets_a_client_tool_call_whole_and_streamed(
    upstream: OpenAIStub, owner: Persona, support: None, asgi_server: Any, door: str
) -> None:
    upstream.respond_with(calls_when_offered("get_weather", {"city": "Paris"}, text_reply("unused")))
    client = sdk(owner, asgi_server, door)
    completion = client.chat.completions.create(model="support", messages=ASK, tools=[WEATHER], tool_choice="auto")  # type: ignore[arg-type, list-item]
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls is not None
    [call] = choice.message.tool_calls
    assert (call.type, call.function.name, json.loads(call.function.arguments)) == (
        "function",
        "get_weather",
        {"city": "Paris"},
    )
    assert upstream.chat_requests[0].parameter("tool_choice") == "auto"
    stream = client.chat.completions.create(model="support", messages=ASK, tools=[WEATHER], stream=True)  # type: ignore[arg-type, list-item]
    chunks = [chunk for chunk in stream if chunk.choices]
    pieces = [piece for chunk in chunks for piece in chunk.choices[0].delta.tool_calls or ()]
    assert [(piece.index, piece.id, piece.function and piece.function.name) for piece in pieces] == [
        (0, "call_2_0", "get_weather")
    ]
    assert pieces[0].function is not None and json.loads(pieces[0].function.arguments or "") == {"city": "Paris"}
    assert [chunk.choices[0].finish_reason for chunk in chunks][-1] == "tool_calls"


def test_the_async_sdk_sends_the_tool_result_back_and_gets_the_answer(
    upstream: OpenAIStub, teammate: Persona, support: None, asgi_server: Any, door: str
) -> None:
    upstream.respond_with(calls_when_offered("get_weather", {"city": "Oslo"}, text_reply("Snow in Oslo.")))

    async def conversation() -> tuple[Any, Any]:
        client = async_sdk(teammate, asgi_server, door)
        first = await client.chat.completions.create(model="support", messages=ASK, tools=[WEATHER])  # type: ignore[arg-type, list-item]
        [call] = first.choices[0].message.tool_calls or []
        follow_up = [
            *ASK,
            first.choices[0].message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": call.id, "content": "Snow"},
        ]
        second = await client.chat.completions.create(model="support", messages=follow_up, tools=[WEATHER])  # type: ignore[arg-type]
        return first, second

    first, second = asyncio.run(conversation())
    assert first.choices[0].finish_reason == "tool_calls"
    assert second.choices[0].message.content == "Snow in Oslo."
    assert second.choices[0].finish_reason == "stop"
    assert upstream.chat_requests[1].messages[-1] == {"role": "tool", "content": "Snow", "tool_call_id": "call_1_0"}


def test_a_plugin_runs_server_side_and_the_client_tool_comes_back_in_the_same_turn(
    upstream: OpenAIStub, owner: Persona, support: None, asgi_server: Any
) -> None:
    # One turn: the model calls the plugin, reads its result, then calls the client's tool.
    upstream.enqueue(
        tool_calls_reply(("catalogue", {"inquiry_type": "price"})),
        tool_calls_reply(("get_weather", {"city": "Paris"})),
        # Another turn: both in one reply; the plugin's call runs, the client's comes back.
        tool_calls_reply(("catalogue", {"inquiry_type": "colours"}), ("get_weather", {"city": "Rome"})),
    )
    client = sdk(owner, asgi_server)
    first = client.chat.completions.create(model="support", messages=ASK, tools=[WEATHER])  # type: ignore[arg-type, list-item]
    assert first.choices[0].finish_reason == "tool_calls"
    assert [(c.id, c.function.name) for c in first.choices[0].message.tool_calls or []] == [("call_2_0", "get_weather")]
    plugin_result = upstream.chat_requests[1].messages[-1]
    assert plugin_result["role"] == "tool" and plugin_result["tool_call_id"] == "call_1_0"
    assert "$12.50" in plugin_result["content"]
    second = client.chat.completions.create(model="support", messages=ASK, tools=[WEATHER])  # type: ignore[arg-type, list-item]
    assert [(c.id, c.function.name) for c in second.choices[0].message.tool_calls or []] == [
        ("call_3_1", "get_weather")
    ]
    assert len(upstream.chat_requests) == 3
    ran = ToolCall.objects.order_by("id")
    assert [(call.tool_name, call.arguments) for call in ran] == [
        ("catalogue", {"inquiry_type": "price"}),
        ("catalogue", {"inquiry_type": "colours"}),
    ]


def test_a_client_tool_named_like_a_plugin_keeps_its_name_and_never_runs_the_plugin(
    upstream: OpenAIStub, owner: Persona, support: None, asgi_server: Any
) -> None:
    theirs = {"type": "function", "function": {"name": "catalogue", "description": "The client's own catalogue"}}
    upstream.enqueue(tool_calls_reply(("catalogue", {})))
    client = sdk(owner, asgi_server)
    first = client.chat.completions.create(model="support", messages=ASK, tools=[theirs])  # type: ignore[arg-type, list-item]
    offered = offered_tools(upstream.chat_requests[0])
    renamed = next(name for name in offered if name != "catalogue")
    assert re.fullmatch(r"catalogue_[0-9a-f]{8}", renamed) and sorted(offered) == ["catalogue", renamed]
    descriptions = {t["function"]["name"]: t["function"].get("description") for t in upstream.chat_requests[0].tools}
    assert descriptions["catalogue"] == "The client's own catalogue"
    # The model called the client's `catalogue`: it comes back, the plugin does not run.
    assert [c.function.name for c in first.choices[0].message.tool_calls or []] == ["catalogue"]
    assert not ToolCall.objects.exists()
    # The model called the plugin by its turn's name: it runs here, and never reaches the client.
    upstream.enqueue(tool_calls_reply((renamed, {"inquiry_type": "price"})), text_reply("It costs $12.50."))
    second = client.chat.completions.create(model="support", messages=ASK, tools=[theirs])  # type: ignore[arg-type, list-item]
    assert second.choices[0].message.content == "It costs $12.50."
    assert second.choices[0].message.tool_calls is None and second.choices[0].finish_reason == "stop"
    assert list(ToolCall.objects.values_list("tool_name", flat=True)) == [renamed]


def test_two_client_tools_of_one_name_are_refused(
    upstream: OpenAIStub, owner: Persona, support: None, asgi_server: Any
) -> None:
    with pytest.raises(BadRequestError) as raised:
        sdk(owner, asgi_server).chat.completions.create(model="support", messages=ASK, tools=[WEATHER, WEATHER])  # type: ignore[arg-type, list-item]
    assert raised.value.param == "tools[1].function.name"
    assert message_of(raised.value) == "Invalid parameter tools[1].function.name: two tools have this name."
    assert upstream.chat_requests == [] and not Turn.objects.exists()


# --- structured output ---------------------------------------------------------------------------


def test_the_sdk_parse_and_langchain_structured_output_get_the_parsed_object(
    upstream: OpenAIStub, owner: Persona, support: None, asgi_server: Any, door: str
) -> None:
    upstream.enqueue(json_reply({"name": "Gizmo", "price": 12.5}), json_reply({"name": "Widget", "price": 3.0}))
    parsed = sdk(owner, asgi_server, door).chat.completions.parse(
        model="support",
        messages=[{"role": "user", "content": "The Gizmo, as JSON"}],
        response_format=Gizmo,
    )
    assert parsed.choices[0].message.parsed == Gizmo(name="Gizmo", price=12.5)
    sent = upstream.chat_requests[0].parameter("response_format")
    assert sent["type"] == "json_schema" and sent["json_schema"]["name"] == "Gizmo"
    assert sent["json_schema"]["schema"]["required"] == ["name", "price"]
    structured = langchain(owner, asgi_server, door).with_structured_output(Gizmo)
    assert structured.invoke("The Widget, as JSON") == Gizmo(name="Widget", price=3.0)
    assert upstream.chat_requests[1].parameter("response_format")["json_schema"]["name"] == "Gizmo"


def test_the_forwarded_parameters_reach_the_upstream_as_sent(
    upstream: OpenAIStub, owner: Persona, support: None, asgi_server: Any
) -> None:
    sdk(owner, asgi_server).chat.completions.create(
        model="support",
        messages=ASK,
        tools=[WEATHER],  # type: ignore[list-item]
        parallel_tool_calls=False,
        response_format={"type": "json_object"},
        stop=["\n\n"],
        seed=7,
        user="visitor-42",
        max_completion_tokens=64,
        n=1,
        logprobs=False,
    )
    [request] = upstream.chat_requests
    sent = {
        name: request.parameter(name) for name in ("parallel_tool_calls", "response_format", "stop", "seed", "user")
    }
    assert sent == {
        "parallel_tool_calls": False,
        "response_format": {"type": "json_object"},
        "stop": ["\n\n"],
        "seed": 7,
        "user": "visitor-42",
    }
    assert request.parameter("max_tokens") == 64
    assert request.parameter("n") is None and request.parameter("logprobs") is None


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "param", "message"),
    [
        ({"extra_body": {"stream": "yes"}}, "stream", "Invalid parameter stream: Input should be a valid boolean."),
        ({"top_p": 0.5}, "top_p", "Invalid parameter top_p: unsupported parameter."),
        ({"n": 2}, "n", "Invalid parameter n: only one choice per request is supported (n=1)."),
        ({"logprobs": True}, "logprobs", "Invalid parameter logprobs: log probabilities are not supported."),
        ({"temperature": 3}, "temperature", "Invalid parameter temperature: Input should be less than or equal to 2."),
        (
            {"tool_choice": "auto"},
            "tool_choice",
            "Invalid parameter tool_choice: tool_choice is only allowed when tools are given.",
        ),
        (
            {"parallel_tool_calls": True},
            "parallel_tool_calls",
            "Invalid parameter parallel_tool_calls: parallel_tool_calls is only allowed when tools are given.",
        ),
        (
            {"response_format": {"type": "json_schema"}},
            "response_format.json_schema",
            "Invalid parameter response_format.json_schema: required when type is json_schema.",
        ),
        (
            {"messages": []},
            "messages",
            "Invalid parameter messages: List should have at least 1 item after validation, not 0.",
        ),
        (
            {"messages": [{"role": "tool", "content": "Sunny"}]},
            "messages[0].tool_call_id",
            "Invalid parameter messages[0].tool_call_id: a tool message answers a call by its id.",
        ),
        (
            {"messages": [{"role": "system", "content": "Only a system message"}]},
            "messages",
            "The conversation needs at least one user message.",
        ),
    ],
)
def test_each_refused_parameter_is_a_400_naming_it_and_changes_nothing(
    upstream: OpenAIStub,
    owner: Persona,
    support: None,
    asgi_server: Any,
    door: str,
    options: dict[str, Any],
    param: str,
    message: str,
) -> None:
    arguments: dict[str, Any] = {"model": "support", "messages": ASK, **options}
    with pytest.raises(BadRequestError) as raised:
        sdk(owner, asgi_server, door).chat.completions.create(**arguments)
    assert raised.value.status_code == 400
    assert (raised.value.param, raised.value.type, message_of(raised.value)) == (
        param,
        "invalid_request_error",
        message,
    )
    assert upstream.chat_requests == [] and not Turn.objects.exists()


def test_the_offline_model_refuses_client_tools_and_what_it_cannot_honour(
    owner: Persona, asgi_server: Any, door: str
) -> None:
    with http(owner, asgi_server) as client:
        chatbot(client, provider="offline")
    api = sdk(owner, asgi_server, door)
    with pytest.raises(BadRequestError) as raised:
        api.chat.completions.create(model="support", messages=ASK, tools=[WEATHER])  # type: ignore[arg-type, list-item]
    assert raised.value.param == "tools"
    assert message_of(raised.value) == (
        "The offline model cannot call client tools; give the chatbot an OpenAI-compatible provider, or send no tools."
    )
    with pytest.raises(BadRequestError) as raised:
        api.chat.completions.create(model="support", messages=ASK, response_format={"type": "json_object"})  # type: ignore[arg-type]
    assert raised.value.param == "response_format"
    assert message_of(raised.value) == (
        "The offline model does not support the parameter 'response_format'; it honours max_tokens and stop only."
    )
    with pytest.raises(BadRequestError) as raised:
        api.chat.completions.create(model="support", messages=ASK, seed=1)  # type: ignore[arg-type]
    assert raised.value.param == "seed"
    assert not Turn.objects.exists()


def test_the_offline_model_honours_max_tokens_and_stop(owner: Persona, asgi_server: Any) -> None:
    with http(owner, asgi_server) as client:
        chatbot(client, provider="offline")
    api = sdk(owner, asgi_server)
    whole = api.chat.completions.create(model="support", messages=ASK)  # type: ignore[arg-type]
    text = whole.choices[0].message.content or ""
    assert whole.choices[0].finish_reason == "stop" and len(text) > 40
    short = api.chat.completions.create(model="support", messages=ASK, max_tokens=3)  # type: ignore[arg-type]
    assert short.choices[0].finish_reason == "length"
    assert (
        text.startswith(short.choices[0].message.content or "-") and len(short.choices[0].message.content or "") <= 12
    )
    second_word = text.split()[1]
    stopped = api.chat.completions.create(model="support", messages=ASK, stop=[second_word])  # type: ignore[arg-type]
    assert stopped.choices[0].message.content == text[: text.index(second_word)]
    assert stopped.choices[0].finish_reason == "stop"
    streamed = api.chat.completions.create(model="support", messages=ASK, max_tokens=3, stream=True)  # type: ignore[arg-type]
    chunks = [chunk for chunk in streamed if chunk.choices]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == short.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "length"


# --- errors, models, paths, ids ------------------------------------------------------------------


def test_models_list_and_retrieve_for_owner_and_teammate_and_not_for_an_outsider(
    upstream: OpenAIStub, owner: Persona, teammate: Persona, outsider: Persona, support: None, asgi_server: Any
) -> None:
    for persona in (owner, teammate):
        api = sdk(persona, asgi_server)
        assert [model.id for model in api.models.list()] == ["support"]
        model = api.models.retrieve("support")
        assert (model.id, model.object, model.owned_by) == ("support", "model", owner.account.account_number)
    foreign = sdk(outsider, asgi_server)
    assert [model.id for model in foreign.models.list()] == []
    with pytest.raises(NotFoundError) as raised:
        foreign.models.retrieve("support")
    assert (raised.value.code, raised.value.param) == ("model_not_found", "model")
    assert message_of(raised.value) == "Chatbot 'support' was not found in your account."
    with pytest.raises(NotFoundError) as raised:
        foreign.chat.completions.create(model="support", messages=ASK)  # type: ignore[arg-type]
    assert (raised.value.code, raised.value.param) == ("model_not_found", "model")
    anonymous = OpenAI(base_url=f"{asgi_server.url}/api/v1/openai", api_key="sk-not-a-key", max_retries=0)
    with pytest.raises(AuthenticationError) as unauthenticated:
        anonymous.models.list()
    assert unauthenticated.value.status_code == 401
    assert unauthenticated.value.code == "NotAuthenticated" and unauthenticated.value.type == "invalid_request_error"
    assert upstream.chat_requests == []


def test_an_unknown_openai_path_or_method_answers_openai_json(owner: Persona, asgi_server: Any) -> None:
    with pytest.raises(NotFoundError) as raised:
        sdk(owner, asgi_server).completions.create(model="support", prompt="hello")
    assert raised.value.code == "NotFound" and raised.value.type == "invalid_request_error"
    assert message_of(raised.value).startswith("Unknown request URL: POST /api/v1/openai/completions.")
    with httpx.Client(base_url=asgi_server.url, headers={"Authorization": f"Bearer {owner.key}"}) as client:
        unknown = client.get("/api/v1/openai/v2/anything")
        bare = client.get("/api/v1/openai")
        wrong_method = client.get("/api/v1/openai/chat/completions")
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/json"
    assert unknown.json()["error"]["message"].startswith("Unknown request URL: GET /api/v1/openai/v2/anything.")
    assert bare.status_code == 404 and bare.json()["error"]["message"].startswith(
        "Unknown request URL: GET /api/v1/openai."
    )
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == {
        "message": "Use POST here.",
        "type": "invalid_request_error",
        "param": None,
        "code": "MethodNotAllowed",
    }


def test_completion_ids_are_random_whole_and_streamed(
    upstream: OpenAIStub, owner: Persona, support: None, asgi_server: Any, door: str
) -> None:
    api = sdk(owner, asgi_server, door)
    ids = [api.chat.completions.create(model="support", messages=ASK).id for _ in range(2)]  # type: ignore[arg-type]
    ids += [next(iter(api.chat.completions.create(model="support", messages=ASK, stream=True))).id]  # type: ignore[arg-type]
    assert all(re.fullmatch(r"chatcmpl-[0-9a-f]{24}", completion_id) for completion_id in ids)
    assert len(set(ids)) == 3
    turn_ids = {str(pk) for pk in Turn.objects.values_list("id", flat=True)}
    assert not any(completion_id.removeprefix("chatcmpl-") in turn_ids for completion_id in ids)
