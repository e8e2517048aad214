"""Embedders: the local model (offline, semantic), an OpenAI-compatible endpoint over a real
loopback server (batching, errors without the key, the outbound guard), and how a knowledge
base's `embedding` picks one."""

from __future__ import annotations

import math
from typing import Any

import pytest

from smarter.apps.account import services as account_services
from smarter.apps.account.tests.factories import Persona
from smarter.apps.chatbot.services import provider_create
from smarter.apps.knowledge.embedding import (
    LOCAL_DIMENSIONS,
    EmbeddingError,
    LocalEmbedder,
    OpenAIEmbedder,
    embedder_for,
)
from smarter.testing.openai_stub import OpenAIStub, error_reply

API_KEY = "sk-embed-7f3a9c1e5b2d4f6a8c0e"


def cosine(left: list[float], right: list[float]) -> float:
    return sum(a * b for a, b in zip(left, right, strict=True))


# --- the local model ------------------------------------------------------------------------------


def test_the_local_model_gives_unit_vectors_of_384_dimensions() -> None:
    vectors = LocalEmbedder().embed_documents(["Refunds are paid within 14 days.", "The warranty lasts two years."])

    assert [len(vector) for vector in vectors] == [LOCAL_DIMENSIONS, LOCAL_DIMENSIONS]
    assert [round(math.sqrt(cosine(vector, vector)), 4) for vector in vectors] == [1.0, 1.0]


def test_the_local_model_ranks_a_paraphrase_above_an_unrelated_sentence() -> None:
    embedder = LocalEmbedder()
    query = embedder.embed_query("How long do I have to wait for my money back?")
    paraphrase, unrelated = embedder.embed_documents(
        ["Refunds are paid within 14 days of the return.", "The castle was built of grey stone in 1320."]
    )

    assert cosine(query, paraphrase) > cosine(query, unrelated) + 0.2


def test_a_knowledge_base_without_a_provider_embeds_locally() -> None:
    assert isinstance(embedder_for(account_id=1, embedding={}), LocalEmbedder)
    assert isinstance(
        embedder_for(account_id=1, embedding={"provider": "local", "model": "all-MiniLM-L6-v2"}), LocalEmbedder
    )


def test_another_local_model_is_refused() -> None:
    with pytest.raises(EmbeddingError, match="the local embedding model is all-MiniLM-L6-v2, not bge-large"):
        embedder_for(account_id=1, embedding={"provider": "local", "model": "bge-large"})


# --- an OpenAI-compatible endpoint -----------------------------------------------------------------


@pytest.fixture
def private_hosts(smarter_settings: Any) -> Any:
    """The stub listens on loopback, which the guard refuses unless private hosts are allowed."""
    smarter_settings.allow_private_hosts = True
    return smarter_settings


def test_texts_are_embedded_in_batches_of_the_configured_size(openai_stub: OpenAIStub, private_hosts: Any) -> None:
    private_hosts.embedding_batch_size = 2
    texts = ["one", "two", "three", "four", "five"]

    vectors = OpenAIEmbedder(openai_stub.url, API_KEY, "text-embedding-3-small").embed_documents(texts)

    assert vectors == [pytest.approx(openai_stub.embedding_of(text)) for text in texts]
    requests = openai_stub.embedding_requests
    assert [request.body["input"] for request in requests] == [["one", "two"], ["three", "four"], ["five"]]
    assert {request.body["model"] for request in requests} == {"text-embedding-3-small"}
    assert {request.authorization for request in requests} == {f"Bearer {API_KEY}"}


def test_the_query_vector_is_the_endpoints_and_the_size_is_learned(openai_stub: OpenAIStub, private_hosts: Any) -> None:
    openai_stub.set_embedding("refund policy", [0.6, 0.8, 0.0])
    embedder = OpenAIEmbedder(openai_stub.url, API_KEY, "m")

    assert embedder.embed_query("refund policy") == [0.6, 0.8, 0.0]
    assert embedder.dimensions == 3


def test_an_endpoint_error_is_an_embedding_error_without_the_key(openai_stub: OpenAIStub, private_hosts: Any) -> None:
    openai_stub.enqueue_embeddings(error_reply(401, f"Incorrect API key provided: {API_KEY}."))

    with pytest.raises(EmbeddingError) as raised:
        OpenAIEmbedder(openai_stub.url, API_KEY, "m").embed_documents(["hello"])

    assert str(raised.value) == "the embeddings endpoint answered 401: Incorrect API key provided: ***."
    assert API_KEY not in repr(raised.value)


def test_an_unreachable_endpoint_is_an_embedding_error(private_hosts: Any) -> None:
    with OpenAIStub() as stub:
        url = stub.url
    with pytest.raises(EmbeddingError, match=r"^the embeddings endpoint failed: ConnectError"):
        OpenAIEmbedder(url, API_KEY, "m", timeout=2).embed_documents(["hello"])


@pytest.mark.parametrize("base_url", ["http://169.254.169.254/v1", "http://[fd00:ec2::254]/v1"])
def test_a_metadata_address_is_refused_before_anything_is_sent(private_hosts: Any, base_url: str) -> None:
    with pytest.raises(EmbeddingError, match=r"^the embeddings endpoint may not be reached: "):
        OpenAIEmbedder(base_url, API_KEY, "m").embed_documents(["hello"])


def test_loopback_is_refused_unless_private_hosts_are_allowed(openai_stub: OpenAIStub, smarter_settings: Any) -> None:
    smarter_settings.allow_private_hosts = False

    with pytest.raises(EmbeddingError, match="may not be reached"):
        OpenAIEmbedder(openai_stub.url, API_KEY, "m").embed_documents(["hello"])
    assert openai_stub.embedding_requests == []


# --- a Provider of the account ----------------------------------------------------------------------


def test_a_provider_of_the_account_embeds_with_its_url_and_revealed_key(
    owner: Persona, openai_stub: OpenAIStub, private_hosts: Any
) -> None:
    secret = account_services.secret_create(account=owner.account, name="embedding-key", value=API_KEY)
    provider_create(
        account=owner.account, name="house-llm", base_url=openai_stub.url, api_key=secret, default_model="x", timeout=9
    )

    embedder = embedder_for(account_id=owner.account.pk, embedding={"provider": "house-llm", "model": "e5"})
    vector = embedder.embed_query("warranty")

    assert vector == pytest.approx(openai_stub.embedding_of("warranty"))
    assert openai_stub.embedding_requests[0].authorization == f"Bearer {API_KEY}"
    assert openai_stub.embedding_requests[0].body == {"model": "e5", "input": ["warranty"]}


def test_another_accounts_provider_is_unknown(owner: Persona, outsider: Persona, openai_stub: OpenAIStub) -> None:
    provider_create(account=outsider.account, name="their-llm", base_url=openai_stub.url, default_model="x")

    with pytest.raises(EmbeddingError, match=r"^there is no Provider named their-llm to embed with$"):
        embedder_for(account_id=owner.account.pk, embedding={"provider": "their-llm", "model": "e5"})


def test_a_provider_without_a_model_is_refused(owner: Persona, openai_stub: OpenAIStub) -> None:
    provider_create(account=owner.account, name="house-llm", base_url=openai_stub.url, default_model="x")

    with pytest.raises(EmbeddingError, match=r"^name the embedding model of Provider house-llm$"):
        embedder_for(account_id=owner.account.pk, embedding={"provider": "house-llm"})


def test_preloading_loads_the_local_model_in_the_background_once() -> None:
    from smarter.apps.knowledge import embedding

    embedding.preload_local_model().join(timeout=120)
    assert embedding._model is not None
    loaded = embedding._model
    embedding.preload_local_model().join(timeout=120)
    assert embedding._model is loaded
    assert len(embedding.LocalEmbedder().embed_query("warranty")) == 384
