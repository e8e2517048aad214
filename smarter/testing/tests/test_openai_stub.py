"""The stub upstream speaks the OpenAI protocol as the real SDK expects it, and records what it got."""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import openai
import pytest

from smarter.testing.openai_stub import (
    DEFAULT_TEXT,
    OpenAIStub,
    error_reply,
    hang_reply,
    text_reply,
    tool_calls_reply,
)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


@pytest.fixture
def stub() -> Iterator[OpenAIStub]:
    with OpenAIStub() as server:
        yield server
        assert server.errors == []


def client(stub: OpenAIStub, key: str = "sk-stub") -> openai.OpenAI:
    return openai.OpenAI(base_url=stub.url, api_key=key, max_retries=0)


def test_a_plain_completion_answers_the_scripted_text_with_usage(stub: OpenAIStub) -> None:
    stub.enqueue(text_reply("Paris is sunny.", prompt_tokens=12, completion_tokens=4))

    completion = client(stub).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Weather in Paris?"}]
    )

    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o-mini"
    assert completion.choices[0].message.content == "Paris is sunny."
    assert completion.choices[0].finish_reason == "stop"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (12, 4)
    assert completion.usage.total_tokens == 16


def test_when_the_script_is_empty_the_default_reply_answers(stub: OpenAIStub) -> None:
    completion = client(stub).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])

    assert completion.choices[0].message.content == DEFAULT_TEXT


def test_a_stream_sends_chunks_whose_deltas_join_into_the_text_then_usage_then_done(stub: OpenAIStub) -> None:
    stub.enqueue(text_reply("One two  three.", prompt_tokens=3, completion_tokens=5))
    body = {
        "model": "m",
        "stream": True,
        "stream_options": {"include_usage": True},
        "messages": [{"role": "user", "content": "count"}],
    }

    response = httpx.post(f"{stub.url}/chat/completions", json=body)

    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line.removeprefix("data: ") for line in response.text.split("\n\n") if line]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(event) for event in events[:-1]]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    deltas = [chunk["choices"][0]["delta"].get("content") or "" for chunk in chunks if chunk["choices"]]
    assert "".join(deltas) == "One two  three."
    assert deltas[1:4] == ["One ", "two  ", "three."]
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}


def test_a_stream_without_include_usage_sends_no_usage_chunk(stub: OpenAIStub) -> None:
    chunks = list(
        client(stub).chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True)
    )

    assert all(chunk.choices for chunk in chunks)
    assert all(chunk.usage is None for chunk in chunks)


def test_tool_calls_arrive_whole_in_a_completion_and_in_fragments_in_a_stream(stub: OpenAIStub) -> None:
    calls = (("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Oslo"}))
    stub.enqueue(tool_calls_reply(*calls), tool_calls_reply(*calls))
    messages = [{"role": "user", "content": "Paris and Oslo?"}]

    completion = client(stub).chat.completions.create(model="m", messages=messages, tools=[WEATHER_TOOL])
    stream = client(stub).chat.completions.create(model="m", messages=messages, tools=[WEATHER_TOOL], stream=True)
    arguments: dict[int, str] = {}
    for chunk in stream:
        for call in chunk.choices[0].delta.tool_calls or []:
            arguments[call.index] = arguments.get(call.index, "") + (call.function.arguments or "")

    whole = completion.choices[0].message.tool_calls
    assert [(call.id, call.function.name, call.function.arguments) for call in whole] == [
        ("call_1_0", "get_weather", '{"city": "Paris"}'),
        ("call_1_1", "get_weather", '{"city": "Oslo"}'),
    ]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert arguments == {0: '{"city": "Paris"}', 1: '{"city": "Oslo"}'}


def test_every_request_is_recorded_with_its_authorization_and_tools(stub: OpenAIStub) -> None:
    client(stub, key="sk-acme").chat.completions.create(
        model="m", messages=[{"role": "user", "content": "hi"}], tools=[WEATHER_TOOL]
    )

    [recorded] = stub.chat_requests
    assert recorded.authorization == "Bearer sk-acme"
    assert recorded.tools == [WEATHER_TOOL]
    assert recorded.messages == [{"role": "user", "content": "hi"}]
    # The outcome settles just after the client has its answer.
    assert stub.wait_for(lambda: recorded.outcome == "completed")


def test_an_error_reply_answers_its_status_with_an_openai_error_body(stub: OpenAIStub) -> None:
    stub.enqueue(error_reply(503, "Overloaded, try later."))

    response = httpx.post(f"{stub.url}/chat/completions", json={"model": "m", "messages": []})

    assert response.status_code == 503
    assert response.json() == {
        "error": {"message": "Overloaded, try later.", "type": "server_error", "param": None, "code": None}
    }


def test_requests_on_a_kept_alive_connection_are_each_answered(stub: OpenAIStub) -> None:
    stub.enqueue(text_reply("one"), text_reply("two", delay=0.05), text_reply("three"))
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}

    with httpx.Client() as http:
        answers = [http.post(f"{stub.url}/chat/completions", json=body).json() for _ in range(3)]
        streamed = http.post(f"{stub.url}/chat/completions", json={**body, "stream": True}).text

    assert [answer["choices"][0]["message"]["content"] for answer in answers] == ["one", "two", "three"]
    assert streamed.endswith("data: [DONE]\n\n")
    assert {request.connection for request in stub.requests} == {1}


def test_models_are_listed(stub: OpenAIStub) -> None:
    assert [model.id for model in client(stub).models.list()] == ["gpt-4o-mini", "stub-model"]


def test_an_unknown_path_answers_404(stub: OpenAIStub) -> None:
    assert httpx.post(f"{stub.url}/audio/speech", json={}).status_code == 404


def test_a_delay_holds_the_answer_back(stub: OpenAIStub) -> None:
    stub.enqueue(text_reply("late", delay=0.3))
    started = time.monotonic()

    httpx.post(f"{stub.url}/chat/completions", json={"model": "m", "messages": []})

    assert 0.3 <= time.monotonic() - started < 5.0


def test_a_client_giving_up_on_a_hang_is_recorded_as_a_disconnect(stub: OpenAIStub) -> None:
    stub.enqueue(hang_reply())

    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{stub.url}/chat/completions", json={"model": "m", "messages": []}, timeout=0.3)

    recorded = stub.wait_for_disconnect(timeout=5)
    assert recorded is not None
    assert recorded.outcome == "disconnected"


def test_a_client_leaving_mid_stream_is_recorded_as_a_disconnect(stub: OpenAIStub) -> None:
    stub.enqueue(text_reply("one two three four five six", chunk_delay=0.2))
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}

    with httpx.stream("POST", f"{stub.url}/chat/completions", json=body) as response:
        next(response.iter_lines())

    recorded = stub.wait_for_disconnect(timeout=5)
    assert recorded is not None
    assert recorded.events_sent < 8


STREAM = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}


def test_a_stream_cut_after_some_events_drops_the_connection_without_finish_or_done(stub: OpenAIStub) -> None:
    stub.enqueue(text_reply("one two three four", cut_after=3))
    received: list[str] = []

    with (
        pytest.raises(httpx.RemoteProtocolError),
        httpx.stream("POST", f"{stub.url}/chat/completions", json=STREAM) as r,
    ):
        received.extend(line for line in r.iter_lines() if line)

    chunks = [json.loads(line.removeprefix("data: ")) for line in received]
    assert [chunk["choices"][0]["delta"].get("content", "") for chunk in chunks] == ["", "one ", "two "]
    assert all(chunk["choices"][0]["finish_reason"] is None for chunk in chunks)
    assert stub.wait_for(lambda: stub.requests[0].outcome == "cut")
    assert stub.requests[0].events_sent == 3


def test_a_stream_cut_cleanly_ends_its_body_without_finish_or_done_and_keeps_the_connection(
    stub: OpenAIStub,
) -> None:
    stub.enqueue(text_reply("one two three four", cut_after=2, cut_cleanly=True), text_reply("next"))

    with httpx.Client() as http:
        cut = http.post(f"{stub.url}/chat/completions", json=STREAM).text
        following = http.post(f"{stub.url}/chat/completions", json=STREAM).text

    frames = [json.loads(frame.removeprefix("data: ")) for frame in cut.split("\n\n") if frame]
    assert [frame["choices"][0]["delta"].get("content", "") for frame in frames] == ["", "one "]
    assert "[DONE]" not in cut and all(frame["choices"][0]["finish_reason"] is None for frame in frames)
    assert following.endswith("data: [DONE]\n\n")
    assert stub.wait_for(lambda: [request.outcome for request in stub.requests] == ["cut", "completed"])
    assert {request.connection for request in stub.requests} == {1}


@pytest.mark.parametrize("cleanly", [False, True], ids=["dropped", "ended"])
def test_a_json_answer_cut_after_some_bytes_is_not_a_whole_body(stub: OpenAIStub, cleanly: bool) -> None:
    stub.enqueue(text_reply("A long enough answer.", cut_after=25, cut_cleanly=cleanly))
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}

    if cleanly:
        response = httpx.post(f"{stub.url}/chat/completions", json=body)
        assert response.status_code == 200
        assert len(response.content) == 25
        with pytest.raises(json.JSONDecodeError):
            response.json()
    else:
        with pytest.raises(httpx.RemoteProtocolError):
            httpx.post(f"{stub.url}/chat/completions", json=body)
    assert stub.wait_for(lambda: stub.requests[0].outcome == "cut")


def test_256_concurrent_streams_delayed_one_second_all_finish_in_about_a_second(stub: OpenAIStub) -> None:
    stub.default_reply = text_reply("fast enough", delay=1.0)
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]}

    # A client each: one httpx pool holding hundreds of live connections spends seconds of CPU
    # on its own bookkeeping, which would measure httpx rather than the stub. One TLS context
    # for all keeps creating them cheap.
    tls = ssl.create_default_context()

    async def one() -> str:
        async with (
            httpx.AsyncClient(timeout=30, verify=tls) as http,
            http.stream("POST", f"{stub.url}/chat/completions", json=body) as response,
        ):
            return (await response.aread()).decode()

    async def all_of_them() -> list[str]:
        return await asyncio.gather(*(one() for _ in range(256)))

    started = time.monotonic()
    bodies = asyncio.run(all_of_them())
    elapsed = time.monotonic() - started

    assert len(bodies) == 256
    assert all(body.endswith("data: [DONE]\n\n") for body in bodies)
    # Served one after another they would take 256 s; the bound leaves room for a busy machine.
    assert elapsed < 8, elapsed


def test_as_a_process_it_prints_its_url_and_answers_with_the_default_reply() -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smarter.testing.openai_stub",
            "--port",
            "0",
            "--delay-ms",
            "50",
            "--reply",
            "pong",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("openai-stub listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[1]

        completion = openai.OpenAI(base_url=url, api_key="k", max_retries=0).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "ping"}]
        )

        assert completion.choices[0].message.content == "pong"
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
