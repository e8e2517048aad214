"""Kind `KnowledgeBase` and its broker.

The spec's three sections are kept as they are applied (camelCase JSON) in the model's
`embedding`, `chunking` and `retrieval` fields. Changing `embedding` or `chunking` re-ingests
every document of the knowledge base (see `services.knowledge_base_update`).
"""

from __future__ import annotations

from typing import Any, Literal

from django.db.models import QuerySet
from pydantic import Field, model_validator

from smarter.apps.knowledge import selectors, services
from smarter.apps.knowledge.models import KnowledgeBase
from smarter.lib.manifests import CamelModel, Column, Manifest, ModelBroker, RowServices, register
from smarter.lib.manifests.broker import Caller
from smarter.lib.manifests.envelope import ResourceName

LOCAL_PROVIDER = "local"
LOCAL_MODEL = "all-MiniLM-L6-v2"
# Chunk sizes in tokens of the embedding model's tokenizer (all-MiniLM-L6-v2 reads 256 at most).
DEFAULT_CHUNK_SIZE = 256
DEFAULT_CHUNK_OVERLAP = 32


class EmbeddingSpec(CamelModel):
    provider: Literal["local"] | ResourceName = Field(
        LOCAL_PROVIDER, description="local (all-MiniLM-L6-v2 on the platform) or a Provider of your account"
    )
    model: str = Field(
        LOCAL_MODEL, min_length=1, max_length=255, description="with local: all-MiniLM-L6-v2; else the Provider's model"
    )

    @model_validator(mode="after")
    def _local_model(self) -> EmbeddingSpec:
        if self.provider == LOCAL_PROVIDER and self.model != LOCAL_MODEL:
            raise ValueError(f"the local provider embeds with {LOCAL_MODEL} only")
        return self


class ChunkingSpec(CamelModel):
    strategy: Literal["recursive", "markdown", "parent_child"] = Field(
        "recursive",
        description="recursive: by paragraphs, sentences, words; markdown: within the headings' sections; "
        "parent_child: small chunks are matched, their section is what the model reads",
    )
    size: int = Field(DEFAULT_CHUNK_SIZE, ge=16, le=8192, description="tokens per chunk")
    overlap: int = Field(DEFAULT_CHUNK_OVERLAP, ge=0, le=4096, description="tokens shared by consecutive chunks")

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingSpec:
        if self.overlap >= self.size:
            raise ValueError(f"overlap ({self.overlap}) must be smaller than size ({self.size})")
        return self


class RetrievalSpec(CamelModel):
    mode: Literal["hybrid", "dense", "lexical"] = Field(
        "hybrid", description="hybrid: vectors and full text fused by reciprocal rank; dense: vectors; lexical: text"
    )
    top_k: int = Field(5, ge=1, le=50, description="chunks returned by a search")


class KnowledgeBaseSpec(CamelModel):
    embedding: EmbeddingSpec = Field(default_factory=EmbeddingSpec)
    chunking: ChunkingSpec = Field(default_factory=ChunkingSpec)
    retrieval: RetrievalSpec = Field(default_factory=RetrievalSpec)


class KnowledgeBaseManifest(Manifest):
    kind: Literal["KnowledgeBase"] = "KnowledgeBase"
    spec: KnowledgeBaseSpec = Field(default_factory=KnowledgeBaseSpec)


_SECTIONS: dict[str, type[CamelModel]] = {
    "embedding": EmbeddingSpec,
    "chunking": ChunkingSpec,
    "retrieval": RetrievalSpec,
}


class KnowledgeBaseBroker(ModelBroker[KnowledgeBase]):
    kind = "KnowledgeBase"
    aliases = ("Knowledge",)
    manifest_model = KnowledgeBaseManifest
    write_role = "member"  # like plugins: members curate what chatbots answer from
    columns = (
        Column("name"),
        Column("description"),
        Column("embedding", source=lambda kb: f"{kb.embedding.get('provider')}/{kb.embedding.get('model')}"),
        Column("chunking", source=lambda kb: kb.chunking.get("strategy")),
        Column("documents", "integer", source=lambda kb: kb.documents.count()),
    )
    writes = RowServices(services, "knowledge_base")

    def rows(self, caller: Caller) -> QuerySet[KnowledgeBase]:
        return selectors.knowledge_bases_of(caller.account)

    def fields_of(self, caller: Caller, manifest: Any, row: KnowledgeBase | None) -> dict[str, Any]:
        spec = manifest.spec
        sections = {name: getattr(spec, name).model_dump(by_alias=True, mode="json") for name in _SECTIONS}
        return {**self.metadata_fields(manifest), **sections}

    def spec_values(self, row: KnowledgeBase) -> dict[str, Any]:
        # Validated again so that a knowledge base stored before a field existed shows its default.
        return {name: model.model_validate(getattr(row, name) or {}) for name, model in _SECTIONS.items()}

    def status_of(self, row: KnowledgeBase) -> dict[str, Any]:
        return selectors.knowledge_base_counts(row)


def register_kinds() -> None:
    register(KnowledgeBaseBroker())
