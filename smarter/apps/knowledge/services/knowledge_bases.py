"""Knowledge bases: create, update, delete, and search one."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models import ProtectedError, RestrictedError

from smarter.apps.account.models import Account
from smarter.apps.knowledge import retrieval, storage
from smarter.apps.knowledge.embedding import LOCAL_PROVIDER, EmbeddingError
from smarter.apps.knowledge.index import knowledge_index
from smarter.apps.knowledge.models import Document, DocumentStatus, KnowledgeBase
from smarter.apps.knowledge.providers import provider_exists
from smarter.apps.knowledge.records import SearchResult
from smarter.apps.knowledge.services.enqueue import ingestion_enqueue
from smarter.lib.errors import Conflict, FieldError, UpstreamError, ValidationFailed

logger = logging.getLogger(__name__)

# What changes the chunks or their vectors: a change of either re-ingests every document.
_REINGESTING_FIELDS = ("embedding", "chunking")


@transaction.atomic
def knowledge_base_create(*, account: Account, name: str, **fields: Any) -> KnowledgeBase:
    """Refused (400, nothing stored) when `embedding` names a Provider the account does not have."""
    _check_embedding_provider(account_id=account.pk, name=name, embedding=fields.get("embedding"))
    return KnowledgeBase.objects.create(account=account, name=name, **fields)


@transaction.atomic
def knowledge_base_update(*, knowledge_base: KnowledgeBase, **fields: Any) -> bool:
    """Whether anything changed. Another embedding model or chunking makes the indexed chunks
    wrong for the knowledge base, so every document is queued to be ingested again. Refused
    (400, nothing changed) when `embedding` names a Provider the account does not have, even
    one it had when the knowledge base was created: applying it again states it anew."""
    if "embedding" in fields:
        _check_embedding_provider(
            account_id=knowledge_base.account_id, name=knowledge_base.name, embedding=fields["embedding"]
        )
    changed = [name for name, value in fields.items() if getattr(knowledge_base, name) != value]
    if not changed:
        return False
    for name in changed:
        setattr(knowledge_base, name, fields[name])
    knowledge_base.save(update_fields=[*changed, "updated_at"])
    if any(name in _REINGESTING_FIELDS for name in changed):
        knowledge_base_reingest(knowledge_base=knowledge_base)
    return True


def _check_embedding_provider(*, account_id: int, name: str, embedding: dict[str, Any] | None) -> None:
    """A Provider named for embedding must be one of the account's. Another account's Provider
    is refused with the very words of an unknown one, so the answer tells nothing of other
    accounts."""
    provider = str((embedding or {}).get("provider") or LOCAL_PROVIDER)
    if provider == LOCAL_PROVIDER or provider_exists(account_id=account_id, name=provider):
        return
    raise ValidationFailed(
        f"Unknown embedding provider {provider!r}.",
        context={"kind": "KnowledgeBase", "name": name},
        errors=[
            FieldError("spec.embedding.provider", f"must be local or a Provider of your account; {provider!r} is none")
        ],
    )


def knowledge_base_reingest(*, knowledge_base: KnowledgeBase) -> int:
    """Queue every document of the knowledge base again; how many were queued."""
    documents = list(Document.objects.select_for_update().filter(knowledge_base=knowledge_base))
    for document in documents:
        document.status = DocumentStatus.QUEUED
        document.progress = 0
        document.error = ""
        document.attempts = 0
        document.save(update_fields=["status", "progress", "error", "attempts", "updated_at"])
        ingestion_enqueue(document.pk)
    return len(documents)


def knowledge_base_delete(*, knowledge_base: KnowledgeBase) -> None:
    """Delete the knowledge base, its documents, their stored files and their index rows.
    Refused (409) while a plugin answers from it."""
    name = knowledge_base.name
    account_id, knowledge_base_id = knowledge_base.account_id, knowledge_base.pk
    keys = set(Document.objects.filter(knowledge_base=knowledge_base).values_list("storage_key", flat=True))
    try:
        with transaction.atomic():
            knowledge_base.delete()
    except (ProtectedError, RestrictedError) as error:
        blocking = error.protected_objects if isinstance(error, ProtectedError) else error.restricted_objects
        users = sorted({f"{getattr(obj, 'kind', type(obj).__name__)} {getattr(obj, 'name', obj)}" for obj in blocking})
        raise Conflict(
            f"KnowledgeBase {name!r} is in use by {', '.join(users)}; change or delete those first.",
            context={"kind": "KnowledgeBase", "name": name, "usedBy": users},
        ) from None

    def remove_the_rest() -> None:
        knowledge_index().delete_knowledge_base(account_id=account_id, knowledge_base_id=knowledge_base_id)
        # Storage keys are per knowledge base, so no other document shares these files.
        store = storage.document_store()
        for key in keys - {""}:
            store.delete(key)

    transaction.on_commit(remove_the_rest)


def knowledge_search(
    *, knowledge_base: KnowledgeBase, query: str, top_k: int | None = None, mode: str | None = None
) -> list[SearchResult]:
    """The chunks that answer `query` best, with their documents' names; the knowledge base's
    own retrieval mode and topK unless given. With the parent-child strategy each result's text
    is the section around the matched chunk: what the model reads."""
    settings_of = knowledge_base.retrieval
    try:
        hits = retrieval.retrieve(
            account_id=knowledge_base.account_id,
            knowledge_base_id=knowledge_base.pk,
            embedding=knowledge_base.embedding,
            query=query,
            mode=mode or str(settings_of.get("mode") or "hybrid"),
            top_k=top_k or int(settings_of.get("topK") or 5),
            parent_child=knowledge_base.chunking.get("strategy") == "parent_child",
        )
    except EmbeddingError as error:
        raise UpstreamError(
            f"The query could not be embedded: {error}.",
            context={"kind": "KnowledgeBase", "name": knowledge_base.name},
        ) from None
    names = dict(
        Document.objects.filter(knowledge_base=knowledge_base, pk__in={hit.document_id for hit in hits}).values_list(
            "pk", "name"
        )
    )
    return [
        SearchResult(
            document=names[hit.document_id],
            document_id=hit.document_id,
            chunk=hit.chunk,
            score=hit.score,
            text=hit.parent_text or hit.text,
        )
        for hit in hits
        if hit.document_id in names  # a document deleted since: its rows are going too
    ]
