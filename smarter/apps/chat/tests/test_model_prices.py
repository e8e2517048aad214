"""A model without a price never runs on the platform's key: every door refuses the turn with a 400
naming the model and the field, before the upstream is called and without writing anything. Priced
spellings (letter case, dated snapshots) run and are charged their family's price; a row of zeros
makes a model free; an account's own Provider and the offline model may run unpriced."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from smarter.apps.account.billing.models import Charge, Price, UsageEvent
from smarter.apps.account.models import Role
from smarter.apps.account.pricing import forget_prices
from smarter.apps.account.tests.billing_support import celery_mode
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chat.models import Chat, ChatMessage, ToolCall, Turn
from smarter.apps.chat.tests import test_turn_pipeline
from smarter.apps.chat.tests.test_turn_pipeline import STATIC_PLUGIN, apply, chatbot, http
from smarter.apps.dashboard.tests.helpers import signed_in
from smarter.apps.dashboard.tests.test_sandbox import Bench
from smarter.testing.openai_stub import OpenAIStub, text_reply

upstream = test_turn_pipeline.upstream  # the platform's provider is the stub, with the platform's key

# Models with no price row, spelled as a client would: each must be refused on the platform's key.
UNPRICED = [
    "o1-preview",
    "gpt-4.5-preview",
    "gpt-4o-realtime-preview-2024-12-17",
    "GPT-4o-Audio-Preview",
    "o1-pro-preview",
    "gpt-4o-mini-tts",
    "ft:gpt-4o-mini-2024-07-18:acme::x1y2",
    "gpt-3.5-turbo-16k-0613",
    "stub-model",
    "o5",
]
MINI = (Decimal("0.15"), Decimal("0.60"))
# Spellings that used to cost nothing, and the price they are charged now.
PRICED = {
    "GPT-4o-Mini": MINI,
    "gpt-4o-mini-2024-07-18": MINI,
    "gpt-4o-2024-08-06": (Decimal("2.50"), Decimal("10.00")),
    "GPT-4O": (Decimal("2.50"), Decimal("10.00")),
    "o1-pro": (Decimal("150.00"), Decimal("600.00")),
    "O1-PRO-2025-03-19": (Decimal("150.00"), Decimal("600.00")),
    "gpt-4o-2024-05-13": (Decimal("5.00"), Decimal("15.00")),
}


@pytest.fixture
def acme(asgi_server: Any, smarter_settings: Any) -> Any:
    smarter_settings.root_domain = "example.com"
    smarter_settings.platform_host = "platform.example.com"
    return make_account("Acme")


@pytest.fixture
def owner(acme: Any) -> Persona:
    return make_persona(acme, "owner", Role.ADMIN)


@pytest.fixture
def teammate(acme: Any) -> Persona:
    return make_persona(acme, "teammate", Role.MEMBER)


@pytest.fixture
def outsider(asgi_server: Any) -> Persona:
    return make_persona(make_account("Globex"), "outsider", Role.ADMIN)


@pytest.fixture(autouse=True)
def _eager_charges() -> Iterator[None]:
    with celery_mode(eager=True):
        yield


def nothing_written() -> dict[str, int]:
    return {
        "chats": Chat.objects.count(),
        "turns": Turn.objects.count(),
        "messages": ChatMessage.objects.count(),
        "tool calls": ToolCall.objects.count(),
        "usage events": UsageEvent.objects.count(),
        "charges": Charge.objects.count(),
    }


NOTHING = {"chats": 0, "turns": 0, "messages": 0, "tool calls": 0, "usage events": 0, "charges": 0}


def assert_refused(response: httpx.Response, model: str, loc: str = "spec.config.defaultModel") -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["errorClass"] == "ValidationError"
    assert body["status"] == 400
    assert body["errors"] == [{"loc": loc, "msg": f"model {model!r} has no price on this platform"}]
    assert repr(model) in body["description"]
    assert "price" in body["description"] and "Provider of your own" in body["description"]
    assert body["context"]["model"] == model and body["context"]["provider"] == "openai"
    return body


def _post_rest(client: httpx.Client, stream: bool) -> httpx.Response:
    return client.post("/api/v1/chatbots/support/chat/", json={"prompt": "Hello?", "stream": stream})


@pytest.mark.parametrize("persona", ["owner", "teammate"])
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_the_rest_door_refuses_every_unpriced_model_before_calling_the_upstream(
    request: pytest.FixtureRequest, upstream: OpenAIStub, owner: Persona, asgi_server: Any, persona: str, stream: bool
) -> None:
    caller: Persona = request.getfixturevalue(persona)
    with http(owner, asgi_server) as admin, http(caller, asgi_server) as client:
        for model in UNPRICED:
            chatbot(admin, defaultModel=model)
            body = assert_refused(_post_rest(client, stream), model)
            assert body["context"]["kind"] == "Chatbot" and body["context"]["name"] == "support"

    assert upstream.chat_requests == []
    assert nothing_written() == NOTHING


def test_an_outsider_reaches_neither_the_chatbot_nor_its_pricing(
    upstream: OpenAIStub, owner: Persona, outsider: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as admin, http(outsider, asgi_server) as client:
        chatbot(admin, defaultModel="o1-preview")
        response = _post_rest(client, stream=False)

    assert response.status_code == 404
    assert response.json()["errorClass"] == "NotFound"
    assert upstream.chat_requests == [] and nothing_written() == NOTHING


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
def test_the_openai_door_refuses_every_unpriced_model_with_an_openai_error(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any, stream: bool
) -> None:
    with http(owner, asgi_server) as client:
        for model in UNPRICED:
            chatbot(client, defaultModel=model)
            response = client.post(
                "/api/v1/openai/chat/completions",
                json={"model": "support", "messages": [{"role": "user", "content": "Hello?"}], "stream": stream},
            )
            body = assert_refused(response, model)
            assert body["error"]["type"] == "invalid_request_error"
            assert body["error"]["code"] == "ValidationError"
            assert repr(model) in body["error"]["message"]

    assert upstream.chat_requests == []
    assert nothing_written() == NOTHING


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
def test_a_deployed_chatbot_refuses_visitors_when_its_model_is_unpriced(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any, stream: bool
) -> None:
    host = f"support.{owner.account.account_number}.api.example.com"
    with (
        http(owner, asgi_server) as admin,
        httpx.Client(base_url=asgi_server.url, headers={"Host": host}, timeout=30) as visitor,
    ):
        for model in UNPRICED:
            chatbot(admin, defaultModel=model, deployed=True)
            response = visitor.post("/chat/", json={"prompt": "Hello?", "stream": stream})
            assert_refused(response, model)
            assert "set-cookie" not in response.headers

    assert upstream.chat_requests == []
    assert nothing_written() == NOTHING


def test_the_cli_chat_refuses_an_unpriced_model(upstream: OpenAIStub, owner: Persona, asgi_server: Any) -> None:
    with http(owner, asgi_server) as client:
        for model in UNPRICED[:3]:
            chatbot(client, defaultModel=model)
            assert_refused(client.post("/api/v1/cli/chat/support/?uid=laptop", json={"prompt": "Hello?"}), model)

    assert upstream.chat_requests == [] and nothing_written() == NOTHING


def test_the_sandbox_refuses_an_unpriced_model_tried_as_an_override(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        chatbot(client)  # gpt-4o-mini: priced
    bench = Bench(asgi_server, signed_in(owner))
    for model in UNPRICED[:4]:
        response = bench.post(
            "/dashboard/chatbots/support/sandbox/turn/", {"prompt": "Hello?", "overrides": {"model": model}}
        )
        assert_refused(response, model, loc="overrides.model")

    assert upstream.chat_requests == [] and nothing_written() == NOTHING


def test_a_plugins_prompt_overlay_naming_an_unpriced_model_is_refused_and_named(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    overlay = {**STATIC_PLUGIN, "spec": {**STATIC_PLUGIN["spec"], "prompt": {"model": "o1-preview"}}}
    with http(owner, asgi_server) as client:
        apply(client, overlay)
        chatbot(client, plugins=["catalogue"])
        body = assert_refused(_post_rest(client, stream=False), "o1-preview", loc="spec.prompt.model")

    assert body["context"]["kind"] == "Plugin" and body["context"]["name"] == "catalogue"
    assert upstream.chat_requests == [] and nothing_written() == NOTHING


def test_every_spelling_of_a_priced_model_runs_and_is_charged_its_familys_price(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        for model in PRICED:
            chatbot(client, defaultModel=model)
            upstream.enqueue(text_reply("Sure.", prompt_tokens=1000, completion_tokens=100))
            response = _post_rest(client, stream=False)
            assert response.status_code == 200, response.text

    assert [request.body["model"] for request in upstream.chat_requests] == list(PRICED)
    charges = {charge.model: charge for charge in Charge.objects.filter(kind="completion")}
    assert set(charges) == set(PRICED)
    for model, (prompt_price, completion_price) in PRICED.items():
        expected = (prompt_price * 1000 + completion_price * 100) / 1_000_000
        assert charges[model].cost == expected, model
        assert charges[model].cost > 0


def test_a_model_the_operator_prices_at_zero_runs_free(upstream: OpenAIStub, owner: Persona, asgi_server: Any) -> None:
    Price.objects.create(provider="openai", model="house-model", prompt_per_million=0, completion_per_million=0)
    forget_prices()
    with http(owner, asgi_server) as client:
        for model in ("house-model", "House-Model-2025-06-01"):
            chatbot(client, defaultModel=model)
            upstream.enqueue(text_reply("Free answer."))
            response = _post_rest(client, stream=False)
            assert response.status_code == 200, response.text
            assert response.json()["usage"]["cost"] == 0.0

    assert len(upstream.chat_requests) == 2
    assert [charge.cost for charge in Charge.objects.filter(kind="completion")] == [Decimal(0), Decimal(0)]


def test_an_accounts_own_provider_may_run_an_unpriced_model_at_no_cost(
    upstream: OpenAIStub, owner: Persona, asgi_server: Any
) -> None:
    with http(owner, asgi_server) as client:
        apply(
            client,
            {
                "apiVersion": "smarter.sh/v1",
                "kind": "Provider",
                "metadata": {"name": "own_llm"},
                "spec": {"provider": {"baseUrl": upstream.url, "defaultModel": "stub-model", "timeout": 5}},
            },
        )
        chatbot(client, provider="own_llm", defaultModel="o1-preview")
        upstream.enqueue(text_reply("From your own endpoint."))
        response = _post_rest(client, stream=False)

    assert response.status_code == 200, response.text
    assert response.json()["message"]["content"] == "From your own endpoint."
    assert upstream.chat_requests[0].body["model"] == "o1-preview"
    turn = Turn.objects.get()
    assert (turn.provider, turn.model, turn.status) == ("own_llm", "o1-preview", "ok")
    assert Charge.objects.get(kind="completion").cost == 0


def test_the_offline_model_is_free(smarter_settings: Any, owner: Persona, asgi_server: Any) -> None:
    smarter_settings.llm_provider = "offline"
    with http(owner, asgi_server) as client:
        chatbot(client, defaultModel="o1-preview")  # the offline provider answers with its own model
        response = _post_rest(client, stream=False)

    assert response.status_code == 200, response.text
    assert json.loads(response.text)["usage"]["cost"] == 0.0
    assert Turn.objects.get().model == "smarter-offline"
