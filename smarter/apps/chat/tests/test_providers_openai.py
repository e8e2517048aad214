"""The OpenAI-compatible provider against the stub upstream, a real server on loopback."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest

from smarter.apps.chat.providers import (
    Completed,
    Message,
    OfflineProvider,
    OpenAICompatibleProvider,
    ProviderEvent,
    ProviderReply,
    ProviderRequest,
    TextDelta,
    ToolCall,
    ToolCallReady,
    Usage,
    platform_provider,
    provider_for,
)
from smarter.apps.chat.providers.base import consumed_by, estimate_prompt_tokens, estimate_tokens
from smarter.lib.errors import UpstreamError, UpstreamTimeout
from smarter.testing.openai_stub import (
    DEFAULT_TEXT,
    OpenAIStub,
    error_reply,
    hang_reply,
    text_reply,
    tool_calls_reply,
)

KEY = "sk-acme-0123456789"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
STOCK = {
    "type": "function",
    "function": {
        "name": "get_stock",
        "description": "Units in stock of a product",
        "parameters": {"type": "object", "properties": {"sku": {"type": "integer"}}, "required": ["sku"]},
    },
}


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server
        assert server.errors == []


def ask(prompt: str = "Hello?", **options: Any) -> ProviderRequest:
    return ProviderRequest(messages=[Message.system("Be brief."), Message.user(prompt)], model="gpt-4o-mini", **options)


async def collect(events: AsyncIterator[ProviderEvent]) -> list[ProviderEvent]:
    return [event async for event in events]


def streamed(provider: OpenAICompatibleProvider, request: ProviderRequest) -> list[ProviderEvent]:
    return asyncio.run(collect(provider.stream(request)))


def final(events: list[ProviderEvent]) -> ProviderReply:
    last = events[-1]
    assert isinstance(last, Completed)
    return last.reply


def provider(stub: OpenAIStub, key: str = KEY) -> OpenAICompatibleProvider:
    made = provider_for("openai", api_key=key, base_url=stub.url)
    assert isinstance(made, OpenAICompatibleProvider)
    return made


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- answers ------------------------------------------------------------------------------------


def test_a_completion_returns_the_upstream_text_and_usage(stub: OpenAIStub) -> None:
    stub.enqueue(text_reply("Sunny, 21 degrees.", prompt_tokens=11, completion_tokens=7))

    reply = asyncio.run(provider(stub).complete(ask("Weather?")))

    assert reply == ProviderReply(
        content="Sunny, 21 degrees.",
        tool_calls=(),
        usage=Usage(11, 7, 18),
        model="gpt-4o-mini",
        provider="openai",
        finish_reason="stop",
    )


def test_a_stream_yields_deltas_that_join_into_the_same_reply_as_a_completion(stub: OpenAIStub) -> None:
    script = text_reply("The answer is forty-two, as always.", prompt_tokens=9, completion_tokens=8)
    stub.enqueue(script, script)

    whole = asyncio.run(provider(stub).complete(ask()))
    events = streamed(provider(stub), ask())

    deltas = [event.text for event in events if isinstance(event, TextDelta)]
    assert deltas == ["The ", "answer ", "is ", "forty-two, ", "as ", "always."]
    assert "".join(deltas) == whole.content
    assert final(events) == whole
    assert [type(event) for event in events] == [TextDelta] * 6 + [Completed]
    assert stub.chat_requests[1].body["stream_options"] == {"include_usage": True}


def test_two_tool_calls_in_one_round_come_back_whole_in_both_modes(stub: OpenAIStub) -> None:
    round_of_two = tool_calls_reply(("get_weather", {"city": "Paris"}), ("get_stock", {"sku": 1042}))
    stub.enqueue(round_of_two, round_of_two)
    request = ask("Weather in Paris and stock of 1042?", tools=[WEATHER, STOCK])

    reply = asyncio.run(provider(stub).complete(request))
    events = streamed(provider(stub), request)

    assert reply.tool_calls == (
        ToolCall("call_1_0", "get_weather", {"city": "Paris"}, '{"city": "Paris"}'),
        ToolCall("call_1_1", "get_stock", {"sku": 1042}, '{"sku": 1042}'),
    )
    assert reply.finish_reason == "tool_calls"
    assert [event.tool_call for event in events if isinstance(event, ToolCallReady)] == [
        ToolCall("call_2_0", "get_weather", {"city": "Paris"}, '{"city": "Paris"}'),
        ToolCall("call_2_1", "get_stock", {"sku": 1042}, '{"sku": 1042}'),
    ]
    assert final(events).tool_calls == tuple(event.tool_call for event in events if isinstance(event, ToolCallReady))
    assert [request.tools for request in stub.chat_requests] == [[WEATHER, STOCK], [WEATHER, STOCK]]


def test_arguments_that_are_not_json_are_reported_on_the_call_not_raised(stub: OpenAIStub) -> None:
    stub.enqueue(tool_calls_reply(("get_stock", "{sku: 12")))

    [call] = final(streamed(provider(stub), ask(tools=[STOCK]))).tool_calls

    assert (call.name, call.arguments, call.raw_arguments) == ("get_stock", {}, "{sku: 12")
    assert call.error is not None and call.error.startswith("arguments are not valid JSON")


def test_usage_is_reported_in_both_modes(stub: OpenAIStub) -> None:
    stub.enqueue(
        text_reply("ok", prompt_tokens=100, completion_tokens=1),
        text_reply("ok", prompt_tokens=100, completion_tokens=1),
    )

    assert asyncio.run(provider(stub).complete(ask())).usage == Usage(100, 1, 101)
    assert final(streamed(provider(stub), ask())).usage == Usage(100, 1, 101)


def test_a_conversation_with_tool_results_is_sent_in_the_openai_format(stub: OpenAIStub) -> None:
    call = ToolCall("call_9", "get_stock", {"sku": 7}, '{"sku": 7}')
    request = ProviderRequest(
        messages=[
            Message.system("Be brief."),
            Message.user("Stock of 7?"),
            Message.assistant("", [call]),
            Message.tool("call_9", '{"units": 3}', name="get_stock"),
        ],
        model="gpt-4o-mini",
        tools=[STOCK],
        temperature=0.2,
        max_tokens=64,
    )

    asyncio.run(provider(stub).complete(request))

    body = stub.chat_requests[0].body
    assert body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Stock of 7?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "type": "function",
                    "id": "call_9",
                    "function": {"name": "get_stock", "arguments": '{"sku": 7}'},
                }
            ],
        },
        {"role": "tool", "content": '{"units": 3}', "tool_call_id": "call_9"},
    ]
    assert (body["temperature"], body["max_tokens"]) == (0.2, 64)
    assert "max_completion_tokens" not in body


# --- credentials --------------------------------------------------------------------------------


def test_the_key_is_sent_as_a_bearer_token(stub: OpenAIStub) -> None:
    asyncio.run(provider(stub, key="sk-only-this-one").complete(ask()))

    assert stub.chat_requests[0].authorization == "Bearer sk-only-this-one"


def test_openai_environment_variables_are_never_read(monkeypatch: pytest.MonkeyPatch, stub: OpenAIStub) -> None:
    # Variables an operator may have set for other tools: none may reach an account's endpoint.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_BASE", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_ORG_ID", "org-operator")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-operator")

    asyncio.run(provider_for("acme_llm", api_key="sk-acme", base_url=stub.url).complete(ask()))
    asyncio.run(provider_for("local_llm", api_key=None, base_url=stub.url).complete(ask()))

    sent = [
        {name: value for name, value in request.headers.items() if name.startswith("openai") or name == "authorization"}
        for request in stub.chat_requests
    ]
    assert sent == [{"authorization": "Bearer sk-acme"}, {"authorization": "Bearer no-key"}]


def test_concurrent_requests_of_two_accounts_each_send_their_own_key_to_their_own_endpoint() -> None:
    with OpenAIStub() as acme_upstream, OpenAIStub() as globex_upstream:
        # Both requests are in flight at the same time, so any shared client state would leak.
        acme_upstream.default_reply = text_reply("acme", delay=0.3)
        globex_upstream.default_reply = text_reply("globex", delay=0.3)
        acme = provider_for("acme_llm", api_key="sk-acme", base_url=acme_upstream.url)
        globex = provider_for("globex_llm", api_key="sk-globex", base_url=globex_upstream.url)

        async def both() -> list[Any]:
            return await asyncio.gather(
                acme.complete(ask()),
                globex.complete(ask()),
                collect(acme.stream(ask())),
                collect(globex.stream(ask())),
            )

        acme_reply, globex_reply, acme_events, globex_events = asyncio.run(both())

        assert (acme_reply.content, acme_reply.provider) == ("acme", "acme_llm")
        assert (globex_reply.content, globex_reply.provider) == ("globex", "globex_llm")
        assert final(acme_events).content == "acme"
        assert final(globex_events).content == "globex"
        assert [request.authorization for request in acme_upstream.chat_requests] == ["Bearer sk-acme"] * 2
        assert [request.authorization for request in globex_upstream.chat_requests] == ["Bearer sk-globex"] * 2


def test_a_given_http_session_is_used_and_left_open(stub: OpenAIStub) -> None:
    sent: list[str] = []

    async def record(session: Any, context: Any, params: aiohttp.TraceRequestStartParams) -> None:
        sent.append(str(params.url))

    async def go() -> bool:
        tracing = aiohttp.TraceConfig()
        tracing.on_request_start.append(record)
        async with aiohttp.ClientSession(trace_configs=[tracing]) as http:
            chat = provider_for("acme_llm", api_key=KEY, base_url=stub.url, http_session=http)
            await chat.complete(ask())
            return http.closed

    assert asyncio.run(go()) is False
    assert sent == [f"{stub.url}/chat/completions"]


def test_turns_with_one_key_reuse_a_connection_and_two_keys_never_share_one(stub: OpenAIStub) -> None:
    async def go() -> None:
        for key in ("sk-acme-1", "sk-acme-1", "sk-globex-2", "sk-acme-1", "sk-globex-2"):
            await provider(stub, key).complete(ask())
            await collect(provider(stub, key).stream(ask()))

    asyncio.run(go())
    by_key: dict[str | None, set[int]] = {}
    for request in stub.chat_requests:
        by_key.setdefault(request.authorization, set()).add(request.connection)
    assert sorted(by_key) == ["Bearer sk-acme-1", "Bearer sk-globex-2"]
    # Six calls of one key on one kept-alive connection, four of the other on one of its own.
    assert [len(connections) for connections in by_key.values()] == [1, 1]
    assert by_key["Bearer sk-acme-1"].isdisjoint(by_key["Bearer sk-globex-2"])


def test_a_cookie_an_upstream_sets_is_never_sent_back(stub: OpenAIStub) -> None:
    stub.enqueue(text_reply("first", headers=(("Set-Cookie", "session=acme-secret; Path=/"),)))

    async def go() -> None:
        await provider(stub).complete(ask())
        await provider(stub).complete(ask())

    asyncio.run(go())
    first, second = stub.chat_requests
    assert first.connection == second.connection
    assert "cookie" not in second.headers


# --- failures -----------------------------------------------------------------------------------


def test_an_upstream_500_is_an_upstream_error_carrying_the_upstream_message(stub: OpenAIStub) -> None:
    stub.enqueue(error_reply(500, "The server had an error while processing your request."))

    with pytest.raises(UpstreamError) as raised:
        asyncio.run(provider(stub).complete(ask()))

    assert raised.value.status == 502
    assert raised.value.description == (
        "The LLM provider 'openai' answered HTTP 500: The server had an error while processing your request."
    )
    assert raised.value.context == {"provider": "openai", "model": "gpt-4o-mini", "upstreamStatus": 500}


def test_an_upstream_error_in_a_stream_is_an_upstream_error_too(stub: OpenAIStub) -> None:
    stub.enqueue(error_reply(429, "Rate limit reached for gpt-4o-mini."))

    with pytest.raises(UpstreamError) as raised:
        streamed(provider(stub), ask())

    assert (
        raised.value.description == "The LLM provider 'openai' answered HTTP 429: Rate limit reached for gpt-4o-mini."
    )


# A stream's payloads, as the stub sends them: the role, then the text word by word (or the tool
# call's opening and argument fragments), the finish, the usage, then [DONE]. `cut_after=N` sends N.
CUT_STREAMS = [
    (text_reply("one two three four", cut_after=1), ""),
    (text_reply("one two three four", cut_after=2), "one "),
    (text_reply("one two three four", cut_after=4), "one two three "),
    (text_reply("one two three four", cut_after=5), "one two three four"),  # every word, no finish
    (text_reply("one two three four", cut_after=2, cut_cleanly=True), "one "),
    (text_reply("one two three four", cut_after=5, cut_cleanly=True), "one two three four"),
    (tool_calls_reply(("get_weather", {"city": "Paris"}), cut_after=2), "get_weather"),
    (tool_calls_reply(("get_weather", {"city": "Paris"}), cut_after=3, cut_cleanly=True), 'get_weather{"city'),
]


@pytest.mark.parametrize(("reply", "received"), CUT_STREAMS)
def test_a_stream_cut_short_is_an_upstream_error_billed_for_what_arrived(
    stub: OpenAIStub, reply: Any, received: str
) -> None:
    stub.enqueue(reply)
    request = ask()
    texts: list[str] = []

    async def read() -> None:
        async for event in provider(stub).stream(request):
            assert not isinstance(event, Completed), "a fragment must never come back as a finished answer"
            if isinstance(event, TextDelta):
                texts.append(event.text)

    with pytest.raises(UpstreamError) as raised:
        asyncio.run(read())

    assert raised.value.status == 502
    assert raised.value.description in (
        "The LLM provider 'openai' broke off its answer before it was complete.",  # the connection dropped
        "The LLM provider 'openai' ended its answer before it was complete.",  # the body ended early
    )
    assert raised.value.context == {"provider": "openai", "model": "gpt-4o-mini"}
    assert consumed_by(raised.value) == Usage.of(
        estimate_prompt_tokens(request), estimate_tokens(received), estimated=True
    )
    assert "".join(texts) == ("" if reply.tool_calls else received)
    assert stub.wait_for(lambda: stub.chat_requests[0].outcome == "cut")


@pytest.mark.parametrize("cleanly", [False, True], ids=["dropped", "ended"])
def test_a_json_answer_cut_short_is_an_upstream_error_billed_for_its_prompt(stub: OpenAIStub, cleanly: bool) -> None:
    stub.enqueue(text_reply("A whole answer that never arrives whole.", cut_after=60, cut_cleanly=cleanly))
    request = ask()

    with pytest.raises(UpstreamError) as raised:
        asyncio.run(provider(stub).complete(request))

    assert raised.value.status == 502
    assert raised.value.description == (
        "The LLM provider 'openai' sent an answer that could not be read."
        if cleanly
        else "The LLM provider 'openai' broke off its answer before it was complete."
    )
    assert consumed_by(raised.value) == Usage.of(estimate_prompt_tokens(request), 0, estimated=True)


@pytest.mark.parametrize("cleanly", [False, True], ids=["dropped", "ended"])
def test_a_stream_that_breaks_after_its_finish_reason_is_a_whole_answer(stub: OpenAIStub, cleanly: bool) -> None:
    # Payloads: role, "one ", "two", finish, usage, [DONE].
    stub.enqueue(text_reply("one two", prompt_tokens=9, completion_tokens=2, cut_after=5, cut_cleanly=cleanly))
    stub.enqueue(text_reply("one two", cut_after=4, cut_cleanly=cleanly))

    with_usage = final(streamed(provider(stub), ask()))
    without_usage = final(streamed(provider(stub), ask()))

    assert (with_usage.content, with_usage.finish_reason, with_usage.usage) == ("one two", "stop", Usage(9, 2, 11))
    assert (without_usage.content, without_usage.finish_reason) == ("one two", "stop")
    assert without_usage.usage.estimated


def test_a_failure_before_the_upstream_answers_consumes_nothing(stub: OpenAIStub) -> None:
    stub.enqueue(error_reply(500, "down"), error_reply(429, "slow down"))
    failures = []
    for call in (lambda: asyncio.run(provider(stub).complete(ask())), lambda: streamed(provider(stub), ask())):
        with pytest.raises(UpstreamError) as raised:
            call()
        failures.append(raised.value)
    unreachable = provider_for("acme_llm", api_key=KEY, base_url=f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(UpstreamError) as refused:
        asyncio.run(unreachable.complete(ask()))

    assert [consumed_by(error) for error in [*failures, refused.value]] == [Usage()] * 3


def test_an_upstream_message_echoing_the_key_never_shows_it(stub: OpenAIStub) -> None:
    stub.enqueue(error_reply(401, f"Incorrect API key provided: {KEY}. You can find your key at the dashboard."))

    with pytest.raises(UpstreamError) as raised:
        asyncio.run(provider(stub).complete(ask()))

    assert KEY not in raised.value.description
    assert raised.value.description == (
        "The LLM provider 'openai' answered HTTP 401: Incorrect API key provided: ***. "
        "You can find your key at the dashboard."
    )


@pytest.mark.parametrize("mode", ["complete", "stream"])
def test_an_upstream_that_hangs_is_an_upstream_timeout_within_the_timeout(stub: OpenAIStub, mode: str) -> None:
    stub.enqueue(hang_reply())
    request = ask(timeout=0.5)
    started = time.monotonic()

    with pytest.raises(UpstreamTimeout) as raised:
        if mode == "complete":
            asyncio.run(provider(stub).complete(request))
        else:
            streamed(provider(stub), request)

    elapsed = time.monotonic() - started
    # The margin covers starting an event loop and a client on a busy machine.
    assert 0.5 <= elapsed < 5.0, elapsed
    assert raised.value.status == 504
    assert raised.value.description == "The LLM provider 'openai' did not answer within 0.5 seconds."
    assert stub.wait_for_disconnect(timeout=5) is not None


def test_a_stream_that_goes_silent_midway_times_out(stub: OpenAIStub) -> None:
    stub.enqueue(text_reply("one two three four", hang_after_chunks=2))

    with pytest.raises(UpstreamTimeout):
        streamed(provider(stub), ask(timeout=0.5))


def test_a_refused_connection_is_an_upstream_error() -> None:
    unreachable = provider_for("acme_llm", api_key=KEY, base_url=f"http://127.0.0.1:{free_port()}/v1")

    with pytest.raises(UpstreamError) as raised:
        asyncio.run(unreachable.complete(ask()))

    assert raised.value.description == (
        "The LLM provider 'acme_llm' could not be reached; check its base URL and that it is running."
    )
    assert raised.value.context == {"provider": "acme_llm", "model": "gpt-4o-mini"}


@pytest.mark.parametrize("allow_private", [False, True])
def test_the_outbound_guard_decides_whether_an_accounts_endpoint_may_be_reached(
    smarter_settings: Any, stub: OpenAIStub, allow_private: bool
) -> None:
    smarter_settings.allow_private_hosts = allow_private

    async def go() -> ProviderReply:
        # The kept, guarded session an account's own endpoint gets in production.
        guarded = provider_for("acme_llm", api_key=KEY, base_url=stub.url, guarded=True)
        return await guarded.complete(ask())

    if allow_private:
        assert asyncio.run(go()).content == DEFAULT_TEXT
    else:
        with pytest.raises(UpstreamError) as raised:
            asyncio.run(go())
        assert raised.value.description == (
            "The LLM provider 'acme_llm' is refused as a destination: 127.0.0.1 may not be reached: 127.0.0.1 is a loopback address"
        )
        assert stub.requests == []


# --- cancellation and concurrency ---------------------------------------------------------------


@pytest.mark.parametrize("own_client", [False, True])
def test_cancelling_the_consumer_mid_stream_closes_the_upstream_connection(stub: OpenAIStub, own_client: bool) -> None:
    stub.enqueue(text_reply("one two three four five six seven eight", chunk_delay=0.2))
    received: list[str] = []

    async def consume(chat: OpenAICompatibleProvider) -> None:
        async for event in chat.stream(ask()):
            if isinstance(event, TextDelta):
                received.append(event.text)

    async def disconnect_after_first_words() -> None:
        async with aiohttp.ClientSession() as http:
            chat = provider_for("openai", api_key=KEY, base_url=stub.url, http_session=http if own_client else None)
            assert isinstance(chat, OpenAICompatibleProvider)
            task = asyncio.create_task(consume(chat))
            while not received:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task

    asyncio.run(disconnect_after_first_words())

    recorded = stub.wait_for_disconnect(timeout=5)
    assert recorded is not None
    assert recorded.stream is True
    assert recorded.events_sent < 10
    assert received == ["one "]


def test_50_concurrent_streams_of_a_one_second_upstream_finish_together() -> None:
    with OpenAIStub(default_reply=text_reply("Concurrent answers stream fine.", delay=1.0)) as slow:
        chat = provider(slow)

        async def fifty() -> list[list[ProviderEvent]]:
            return await asyncio.gather(*(collect(chat.stream(ask(f"question {n}"))) for n in range(50)))

        started = time.monotonic()
        results = asyncio.run(fifty())
        elapsed = time.monotonic() - started

    assert [final(events).content for events in results] == ["Concurrent answers stream fine."] * 50
    assert elapsed < 10, elapsed


# --- choosing a provider ------------------------------------------------------------------------


def test_offline_needs_neither_key_nor_url() -> None:
    assert isinstance(provider_for("offline"), OfflineProvider)


def test_an_accounts_own_endpoint_needs_a_base_url() -> None:
    with pytest.raises(ValueError, match="provider 'acme_llm' needs a base_url"):
        provider_for("acme_llm", api_key=KEY)


def test_openai_without_a_base_url_goes_to_api_openai_com() -> None:
    made = provider_for("openai", api_key=KEY)

    assert isinstance(made, OpenAICompatibleProvider)
    assert made.base_url == "https://api.openai.com/v1"
    assert KEY not in repr(made)


def test_the_platform_provider_is_offline_without_configuration(smarter_settings: Any) -> None:
    smarter_settings.llm_provider = "offline"

    assert isinstance(platform_provider(), OfflineProvider)


def test_the_platform_provider_uses_the_platform_key_and_base_url(smarter_settings: Any, stub: OpenAIStub) -> None:
    smarter_settings.llm_provider = "openai"
    smarter_settings.openai_api_key = "sk-platform"
    smarter_settings.openai_base_url = stub.url

    asyncio.run(platform_provider().complete(ask()))

    assert stub.chat_requests[0].authorization == "Bearer sk-platform"
