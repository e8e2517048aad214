"""Texts embedded for a client of the OpenAI-compatible embeddings endpoint: which embedding
model a name means for an account, and the vectors with the tokens they took.

A model is named as a knowledge base's `spec.embedding` names it: `all-MiniLM-L6-v2` (or
`local/all-MiniLM-L6-v2`) is the local model; `<Provider>/<model>` is a model of one of the
account's Providers, e.g. `house_llm/text-embedding-3-small`. Another account's Provider does
not exist here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from smarter.apps.account.models import Account
from smarter.apps.knowledge.embedding import (
    LOCAL_DIMENSIONS,
    LOCAL_MODEL_ID,
    LOCAL_PROVIDER,
    EmbeddingError,
    LocalEmbedder,
    OpenAIEmbedder,
    embedder_for,
)
from smarter.apps.knowledge.providers import provider_exists
from smarter.lib.errors import FieldError, NotFound, UpstreamError, ValidationFailed

LOCAL_MODEL_NAMES = (LOCAL_MODEL_ID, f"{LOCAL_PROVIDER}/{LOCAL_MODEL_ID}")


@dataclass(frozen=True)
class Embedded:
    vectors: list[list[float]]
    prompt_tokens: int


def _unknown(model: str) -> NotFound:
    return NotFound(
        f"The embedding model {model!r} does not exist in your account: use {LOCAL_MODEL_ID} or "
        "<Provider>/<model> with one of your Providers.",
        context={"kind": "EmbeddingModel", "name": model},
        errors=[FieldError("model", "not an embedding model of your account")],
    )


def embedding_of_model(*, account: Account, model: str) -> dict[str, str]:
    """The `{provider, model}` a model name means for the account (404 when it means none)."""
    if model in LOCAL_MODEL_NAMES:
        return {"provider": LOCAL_PROVIDER, "model": LOCAL_MODEL_ID}
    provider, _, name = model.partition("/")
    if not name or provider == LOCAL_PROVIDER or not provider_exists(account_id=account.pk, name=provider):
        raise _unknown(model)
    return {"provider": provider, "model": name}


def texts_embed(*, account: Account, model: str, texts: Sequence[str], dimensions: int | None = None) -> Embedded:
    """The vectors of `texts`, in their order, by the account's model `model`. The local model's
    size is fixed (`dimensions` other than 384 is a 400); a Provider's endpoint is asked for
    `dimensions` and decides. An endpoint that fails is a 502 that quotes it (without its key)."""
    embedding = embedding_of_model(account=account, model=model)
    local = embedding["provider"] == LOCAL_PROVIDER
    if local and dimensions is not None and dimensions != LOCAL_DIMENSIONS:
        raise ValidationFailed(
            f"{LOCAL_MODEL_ID} gives vectors of {LOCAL_DIMENSIONS} dimensions and cannot shorten them.",
            errors=[FieldError("dimensions", f"must be {LOCAL_DIMENSIONS} (or left out) for {LOCAL_MODEL_ID}")],
        )
    embedder = embedder_for(account_id=account.pk, embedding=embedding, dimensions=None if local else dimensions)
    try:
        vectors = embedder.embed_documents(list(texts))
    except EmbeddingError as error:
        raise UpstreamError(
            f"The embedding model {model!r} could not embed the input: {error}.",
            context={"kind": "EmbeddingModel", "name": model},
        ) from None
    if isinstance(embedder, LocalEmbedder):
        tokens = sum(embedder.token_counts(texts))
    else:
        assert isinstance(embedder, OpenAIEmbedder)
        tokens = embedder.prompt_tokens
    return Embedded(vectors=vectors, prompt_tokens=tokens)
