"""`POST /api/v1/openai/embeddings` through the real `openai` SDK and langchain_openai, over the
served platform: the local model and a Provider's model (a real loopback server), OpenAI's
shapes for the body and the errors, tenancy, the rate limit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openai import AuthenticationError, BadRequestError, NotFoundError, OpenAI, RateLimitError

from smarter.apps.account import services as account_services
from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chatbot.services import provider_create
from smarter.apps.knowledge.embedding import LocalEmbedder
from smarter.testing.openai_stub import OpenAIStub, error_reply

PROVIDER_KEY = "sk-house-2b7e151628aed2a6abf7"
TEXTS = ["The warranty lasts two years.", "Refunds are paid within 14 days of the return."]


@pytest.fixture
def acme(asgi_server: Any) -> Any:
    return make_account("Acme")


# `owner` and `teammate` are the shared fixtures' (conftest.py), of this served `acme`.
@pytest.fixture
def outsider(asgi_server: Any) -> Persona:
    return make_persona(make_account("Globex"), "outsider", Role.ADMIN)


@pytest.fixture
def house_llm(owner: Persona, smarter_settings: Any) -> Iterator[OpenAIStub]:
    """Acme's Provider `house_llm`, served by a stub embeddings endpoint on loopback."""
    smarter_settings.allow_private_hosts = True
    with OpenAIStub(embedding_dimensions=8) as stub:
        secret = account_services.secret_create(account=owner.account, name="house_key", value=PROVIDER_KEY)
        provider_create(account=owner.account, name="house_llm", base_url=stub.url, api_key=secret, default_model="m")
        yield stub


def sdk(persona: Persona, server: Any) -> OpenAI:
    return OpenAI(base_url=f"{server.url}/api/v1/openai", api_key=persona.key, max_retries=0)


def post(server: Any, body: Any, key: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(f"{server.url}/api/v1/openai/embeddings", json=body, headers=headers, timeout=60)


def test_the_sdk_embeds_with_the_local_model_as_floats_and_as_base64(owner: Persona, asgi_server: Any) -> None:
    local = LocalEmbedder()
    expected = local.embed_documents(TEXTS)
    tokens = sum(local.token_counts(TEXTS))

    as_floats = sdk(owner, asgi_server).embeddings.create(
        model="all-MiniLM-L6-v2", input=TEXTS, encoding_format="float"
    )
    # Without encoding_format the SDK asks for base64 and decodes it.
    as_base64 = sdk(owner, asgi_server).embeddings.create(model="local/all-MiniLM-L6-v2", input=TEXTS)

    assert as_floats.object == "list" and as_floats.model == "all-MiniLM-L6-v2"
    assert [item.index for item in as_floats.data] == [0, 1]
    for answer in (as_floats, as_base64):
        assert [len(item.embedding) for item in answer.data] == [384, 384]
        for item, vector in zip(answer.data, expected, strict=True):
            assert item.embedding == pytest.approx(vector, abs=1e-6)
        assert answer.usage.prompt_tokens == tokens == answer.usage.total_tokens
    assert tokens > 10


def test_one_string_is_one_embedding_and_384_dimensions_may_be_asked(teammate: Persona, asgi_server: Any) -> None:
    answer = sdk(teammate, asgi_server).embeddings.create(
        model="all-MiniLM-L6-v2", input="warranty", dimensions=384, encoding_format="float"
    )

    assert len(answer.data) == 1
    assert answer.data[0].embedding == pytest.approx(LocalEmbedder().embed_query("warranty"), abs=1e-6)


def test_langchain_openai_embeddings_work_unchanged(owner: Persona, asgi_server: Any) -> None:
    from langchain_openai import OpenAIEmbeddings

    embeddings = OpenAIEmbeddings(
        model="all-MiniLM-L6-v2",
        base_url=f"{asgi_server.url}/api/v1/openai",
        api_key=owner.key,
        check_embedding_ctx_length=False,  # else it sends token arrays, counted with tiktoken's files
        max_retries=0,
    )

    documents = embeddings.embed_documents(TEXTS)
    query = embeddings.embed_query("How long is the warranty?")

    assert documents[0] == pytest.approx(LocalEmbedder().embed_query(TEXTS[0]), abs=1e-6)
    similarity = [sum(a * b for a, b in zip(query, document, strict=True)) for document in documents]
    assert similarity[0] > similarity[1]


def test_a_providers_model_embeds_through_its_endpoint_with_its_key(
    owner: Persona, house_llm: OpenAIStub, asgi_server: Any
) -> None:
    answer = sdk(owner, asgi_server).embeddings.create(
        model="house_llm/e5-small", input=TEXTS, dimensions=8, encoding_format="float"
    )

    assert [item.embedding for item in answer.data] == [pytest.approx(house_llm.embedding_of(text)) for text in TEXTS]
    assert answer.model == "house_llm/e5-small"
    assert answer.usage.prompt_tokens == answer.usage.total_tokens > 0
    (sent,) = house_llm.embedding_requests
    assert sent.body == {"model": "e5-small", "input": TEXTS, "dimensions": 8}
    assert sent.authorization == f"Bearer {PROVIDER_KEY}"


def test_another_accounts_provider_is_not_a_model_of_yours(
    outsider: Persona, house_llm: OpenAIStub, asgi_server: Any
) -> None:
    with pytest.raises(NotFoundError) as refused:
        sdk(outsider, asgi_server).embeddings.create(model="house_llm/e5-small", input="warranty")

    assert refused.value.body == {
        "message": "The embedding model 'house_llm/e5-small' does not exist in your account: use "
        "all-MiniLM-L6-v2 or <Provider>/<model> with one of your Providers.",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }
    assert house_llm.embedding_requests == []


def test_a_failing_endpoint_is_a_502_that_quotes_it_without_the_key(
    owner: Persona, house_llm: OpenAIStub, asgi_server: Any
) -> None:
    house_llm.enqueue_embeddings(error_reply(500, f"overloaded (key {PROVIDER_KEY})"))

    response = post(asgi_server, {"model": "house_llm/e5-small", "input": "warranty"}, owner.key)

    assert response.status_code == 502
    error = response.json()["error"]
    assert error["type"] == "api_error" and error["code"] == "server_error"
    assert error["message"].startswith("The embedding model 'house_llm/e5-small' could not embed the input:")
    assert PROVIDER_KEY not in response.text


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        (
            {"model": "all-MiniLM-L6-v2", "input": [[9906, 1917]]},
            "input",
            "Send the input as text, not as token arrays.",
        ),
        ({"model": "all-MiniLM-L6-v2", "input": [9906, 1917]}, "input", "Send the input as text, not as token arrays."),
        ({"model": "all-MiniLM-L6-v2", "input": []}, "input", "Give at least one text to embed."),
        (
            {"model": "all-MiniLM-L6-v2", "input": ["ok", ""]},
            "input[1]",
            "Each input must be a text of 1 to 32,768 characters.",
        ),
        (
            {"model": "all-MiniLM-L6-v2", "input": "x", "dimensions": 256},
            "dimensions",
            "all-MiniLM-L6-v2 gives vectors of 384 dimensions and cannot shorten them.",
        ),
        ({"model": "all-MiniLM-L6-v2", "input": "x", "encoding_format": "int8"}, "encoding_format", None),
        ({"input": "x"}, "model", None),
    ],
)
def test_bad_input_is_a_400_naming_the_parameter(
    owner: Persona, asgi_server: Any, body: dict[str, Any], param: str, message: str | None
) -> None:
    response = post(asgi_server, body, owner.key)

    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("invalid_request_error", "invalid_value", param)
    if message is not None:
        assert error["message"] == message
    assert response.json()["errors"][0]["loc"] == param  # the API's own envelope, too


def test_the_sdk_sees_a_token_array_refusal_at_input(owner: Persona, asgi_server: Any) -> None:
    with pytest.raises(BadRequestError) as refused:
        sdk(owner, asgi_server).embeddings.create(model="all-MiniLM-L6-v2", input=[[9906, 1917]])

    assert refused.value.body["param"] == "input"
    assert "check_embedding_ctx_length=False" in refused.value.response.json()["errors"][0]["msg"]


def test_an_unknown_model_is_a_404(owner: Persona, house_llm: OpenAIStub, asgi_server: Any) -> None:
    for model in ("text-embedding-3-small", "house_llm", "nobody/e5", "local/other"):
        response = post(asgi_server, {"model": model, "input": "x"}, owner.key)
        assert response.status_code == 404, model
        assert response.json()["error"]["code"] == "model_not_found"
    assert house_llm.embedding_requests == []


def test_without_a_valid_key_it_is_a_401_in_openais_shape(asgi_server: Any) -> None:
    with pytest.raises(AuthenticationError) as refused:
        OpenAI(base_url=f"{asgi_server.url}/api/v1/openai", api_key="sk-wrong", max_retries=0).embeddings.create(
            model="all-MiniLM-L6-v2", input="x"
        )
    assert refused.value.body["type"] == "authentication_error"

    response = post(asgi_server, {"model": "all-MiniLM-L6-v2", "input": "x"}, None)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_past_the_keys_rate_limit_it_is_a_429_with_retry_after(
    owner: Persona, asgi_server: Any, smarter_settings: Any
) -> None:
    smarter_settings.rate_limit_api_key_per_minute = 1
    client = sdk(owner, asgi_server)

    # One a minute, with the limiter's burst allowance (the same in Redis and in memory): the
    # refusal comes within three requests at once.
    with pytest.raises(RateLimitError) as refused:
        for _ in range(3):
            client.embeddings.create(model="all-MiniLM-L6-v2", input="x")

    assert refused.value.body["type"] == "rate_limit_error"
    assert int(refused.value.response.headers["Retry-After"]) >= 1
