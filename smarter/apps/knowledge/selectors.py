"""Reads of the knowledge app, scoped by the account: another account's knowledge base or
document is never found (the doors answer 404)."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from smarter.apps.account.models import Account
from smarter.apps.knowledge.models import Document, DocumentStatus, KnowledgeBase


def knowledge_bases_of(account: Account) -> QuerySet[KnowledgeBase]:
    return KnowledgeBase.objects.filter(account=account)


def knowledge_base_get(*, account: Account, name: str) -> KnowledgeBase | None:
    return knowledge_bases_of(account).filter(name=name).first()


def documents_of(*, account: Account, knowledge_base: KnowledgeBase) -> QuerySet[Document]:
    # Both keys: a knowledge base handed in from elsewhere still shows only this account's rows.
    return Document.objects.filter(account=account, knowledge_base=knowledge_base)


def document_get(*, account: Account, knowledge_base: KnowledgeBase, document_id: int) -> Document | None:
    return documents_of(account=account, knowledge_base=knowledge_base).filter(pk=document_id).first()


def document_with_content(*, knowledge_base: KnowledgeBase, content_hash: str) -> Document | None:
    """The knowledge base's document holding exactly these bytes (sha256), if any."""
    return Document.objects.filter(knowledge_base=knowledge_base, content_hash=content_hash).order_by("pk").first()


def storage_key_shared(*, document: Document) -> bool:
    """Whether another document keeps its raw bytes under the same storage key."""
    if not document.storage_key:
        return False
    return Document.objects.filter(storage_key=document.storage_key).exclude(pk=document.pk).exists()


def knowledge_base_counts(knowledge_base: KnowledgeBase) -> dict[str, int]:
    """What describe's status shows: documents, chunks indexed, and how many are ready or failed."""
    totals = Document.objects.filter(knowledge_base=knowledge_base).aggregate(
        documents=Count("pk"),
        chunks=Sum("chunks", filter=Q(status=DocumentStatus.READY)),
        ready=Count("pk", filter=Q(status=DocumentStatus.READY)),
        failed=Count("pk", filter=Q(status=DocumentStatus.FAILED)),
    )
    return {key: int(value or 0) for key, value in totals.items()}


def knowledge_bases_with_counts(account: Account) -> QuerySet[KnowledgeBase]:
    """The account's knowledge bases, each annotated with what `knowledge_base_counts` gives one
    (`document_count`, `chunk_count`, `ready_count`, `failed_count`) in a single query."""
    return knowledge_bases_of(account).annotate(
        document_count=Count("documents"),
        chunk_count=Coalesce(Sum("documents__chunks", filter=Q(documents__status=DocumentStatus.READY)), 0),
        ready_count=Count("documents", filter=Q(documents__status=DocumentStatus.READY)),
        failed_count=Count("documents", filter=Q(documents__status=DocumentStatus.FAILED)),
    )
