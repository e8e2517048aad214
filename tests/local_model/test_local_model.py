"""Real turns through the platform against a real model: SmolLM2-135M-Instruct served by llama.cpp's
OpenAI-compatible server on loopback (`.ci/local-model` starts it with `scripts/local-model.sh` and
names it in SMARTER_LOCAL_MODEL_URL), configured the two ways docs/providers.md describes: an
account's own `Provider`, and the platform's provider (`SMARTER_OPENAI_BASE_URL`) with the model
priced at zero by the operator.

A real model's words are not known in advance, so these tests assert what holds for any answer:
non-empty text, tokens counted, and, at temperature 0, the same text whole and streamed."""

from __future__ import annotations

import os
from typing import Any

import pytest
from openai import OpenAI

from smarter.apps.account.billing.prices import price_set
from smarter.apps.account.tests.factories import Persona
from smarter.apps.chat.tests.test_turn_pipeline import apply, chatbot, http, sse_events

LOCAL_MODEL_URL = os.environ["SMARTER_LOCAL_MODEL_URL"]
PROMPT = "What is the capital of France?"
SYSTEM_ROLE = "You are a helpful assistant. Answer in one short sentence."
# Short answers keep the job fast; an answer cut at this length is still a real answer.
MAX_TOKENS = 48


@pytest.fixture
def local_model(smarter_settings: Any) -> str:
    """The llama.cpp server's base URL; it listens on loopback, which only this setting allows."""
    smarter_settings.allow_private_hosts = True
    return LOCAL_MODEL_URL


def test_a_chatbot_on_its_accounts_own_llama_cpp_provider_answers_the_rest_chat_whole_and_streamed(
    local_model: str, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        apply(
            client,
            {
                "apiVersion": "smarter.sh/v1",
                "kind": "Provider",
                "metadata": {"name": "local", "description": "SmolLM2 on llama.cpp"},
                "spec": {"provider": {"baseUrl": local_model, "defaultModel": "smollm2", "timeout": 120}},
            },
        )
        chatbot(
            client,
            provider="local",
            defaultModel="",  # the Provider's own default model
            defaultSystemRole=SYSTEM_ROLE,
            defaultTemperature=0,
            defaultMaxTokens=MAX_TOKENS,
        )
        whole = client.post("/api/v1/chatbots/support/chat/", json={"prompt": PROMPT})
        with client.stream(
            "POST", "/api/v1/chatbots/support/chat/", json={"prompt": PROMPT, "stream": True}
        ) as streamed:
            assert streamed.status_code == 200
            assert streamed.headers["content-type"] == "text/event-stream"
            events = list(sse_events(streamed))
        logs = client.post("/api/v1/cli/logs/chatbot/?name=support").json()

    assert whole.status_code == 200, whole.text
    body = whole.json()
    answer = body["message"]["content"]
    assert answer.strip() != ""
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["cost"] == 0.0  # an account's own provider is the account's own bill
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "done" and set(kinds[:-1]) == {"token"}
    done = events[-1][1]
    assert "".join(data["text"] for kind, data in events if kind == "token") == done["message"]["content"] == answer
    # llama.cpp reports no usage while streaming: the platform counts an estimate.
    assert done["usage"]["total_tokens"] == done["usage"]["prompt_tokens"] + done["usage"]["completion_tokens"] > 0
    turns = logs["data"]["turns"]  # newest first
    assert [(turn["prompt"], turn["answer"], turn["model"]) for turn in turns] == [(PROMPT, answer, "smollm2")] * 2
    assert [turn["totalTokens"] for turn in turns] == [done["usage"]["total_tokens"], usage["total_tokens"]]


def test_the_openai_sdk_gets_the_same_answer_whole_and_streamed_from_the_platforms_llama_cpp(
    local_model: str, smarter_settings: Any, owner: Persona, asgi_server: Any
) -> None:
    # The README's configuration: the platform's provider pointed at the server, SmolLM2 as the
    # default model, and a price row of zeros, since the platform's key runs only priced models.
    smarter_settings.llm_provider = "openai"
    smarter_settings.openai_base_url = local_model
    smarter_settings.openai_api_key = "local"
    smarter_settings.default_model = "smollm2"
    price_set(model="smollm2", prompt_per_million="0", completion_per_million="0")
    with http(owner, asgi_server) as client:
        chatbot(client, defaultModel="", defaultSystemRole=SYSTEM_ROLE)
    sdk = OpenAI(base_url=f"{asgi_server.url}/api/v1/openai", api_key=owner.key, max_retries=0, timeout=120)
    ask = [{"role": "user", "content": PROMPT}]

    completion = sdk.chat.completions.create(model="support", messages=ask, temperature=0, max_tokens=MAX_TOKENS)
    stream = sdk.chat.completions.create(
        model="support",
        messages=ask,
        temperature=0,
        max_tokens=MAX_TOKENS,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)

    assert completion.model == "support"
    [choice] = completion.choices
    answer = choice.message.content
    assert answer is not None and answer.strip() != ""
    assert choice.finish_reason in ("stop", "length")
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + completion.usage.completion_tokens
    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices) == answer
    finishes = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices]
    assert finishes[-1] == choice.finish_reason and set(finishes[:-1]) == {None}
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
