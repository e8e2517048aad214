"""Adding and deleting a knowledge base's documents.

Adding stores the raw bytes, keyed by their sha256, and queues ingestion after commit. The same
bytes already in the knowledge base are that document (nothing is stored or ingested twice); the
same name with other bytes replaces the document's content and ingests it again.
"""

from __future__ import annotations

import hashlib
import posixpath
from typing import Any

from django.conf import settings
from django.db import transaction

from smarter.apps.account.billing import limits
from smarter.apps.account.models import Account
from smarter.apps.knowledge import selectors, storage
from smarter.apps.knowledge.index import knowledge_index
from smarter.apps.knowledge.models import Document, DocumentSource, DocumentStatus, KnowledgeBase
from smarter.apps.knowledge.parsing import UnsupportedDocument, detect_type
from smarter.apps.knowledge.services.enqueue import ingestion_enqueue
from smarter.lib.errors import FieldError, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from smarter.lib.outbound import OutboundRefused, server_url

MAX_NAME_LENGTH = 255
MIB = 1024 * 1024


def max_upload_bytes() -> int:
    return int(settings.SMARTER.knowledge_max_upload_mib) * MIB


# Room a multipart upload's framing (boundaries, part headers) may take beside the file.
MULTIPART_OVERHEAD = 64 * 1024


def max_request_bytes() -> int:
    """The largest request body any endpoint of the platform takes: a document's upload."""
    return max_upload_bytes() + MULTIPART_OVERHEAD


def too_large(size: int | None) -> PayloadTooLarge:
    limit = settings.SMARTER.knowledge_max_upload_mib
    return PayloadTooLarge(
        f"A document may be at most {limit} MiB.",
        context={"limit": max_upload_bytes(), "size": size},
    )


def knowledge_request_admit(*, caller: Any) -> None:
    """Uploads and searches embed text, which costs the platform: counted per API key (or console
    user) against the API key rate limit; 429 with Retry-After beyond it."""
    per_minute = int(settings.SMARTER.rate_limit_api_key_per_minute)
    key = f"knowledge:{limits.caller_key(caller)}"
    limits.door_admit(key=key, per_minute=per_minute, what="to knowledge bases", limit="knowledge")


def document_add_file(
    *, account: Account, knowledge_base: KnowledgeBase, name: str, data: bytes, content_type: str | None = None
) -> Document:
    """An uploaded file: 413 past the upload limit, 415 when it is none of txt, md, html, pdf, docx."""
    name = _document_name(name, field="file")
    if len(data) > max_upload_bytes():
        raise too_large(len(data))
    doc_type = _doc_type(name=name, content_type=content_type, data=data)
    return _document_add(
        account=account, knowledge_base=knowledge_base, name=name, data=data, doc_type=doc_type, source="upload"
    )


def document_add_text(*, account: Account, knowledge_base: KnowledgeBase, name: str, text: str) -> Document:
    """Text given in the request body: a plain-text document (markdown when named *.md)."""
    name = _document_name(name, field="name")
    data = text.encode("utf-8")
    if len(data) > max_upload_bytes():
        raise too_large(len(data))
    doc_type = "md" if name.lower().endswith((".md", ".markdown")) else "txt"
    return _document_add(
        account=account, knowledge_base=knowledge_base, name=name, data=data, doc_type=doc_type, source="text"
    )


@transaction.atomic
def document_add_url(*, account: Account, knowledge_base: KnowledgeBase, url: str) -> Document:
    """A document fetched from `url` by the ingestion task (through the outbound guard), named by
    its URL. Adding the same URL again fetches it again."""
    try:
        url = server_url(url)
    except OutboundRefused as refused:
        raise ValidationFailed(
            f"The URL cannot be fetched: {refused}", errors=[FieldError("url", str(refused))]
        ) from None
    name = url[:MAX_NAME_LENGTH]
    document = Document.objects.select_for_update().filter(knowledge_base=knowledge_base, name=name).first()
    if document is None:
        document = Document.objects.create(
            account=account, knowledge_base=knowledge_base, name=name, source=DocumentSource.URL, url=url
        )
    else:
        _requeue(document)
    ingestion_enqueue(document.pk)
    return document


def document_delete(*, document: Document) -> None:
    """Delete the document, its chunks and vectors, and its stored file unless another document
    keeps the same bytes."""
    account_id, knowledge_base_id, document_id = document.account_id, document.knowledge_base_id, document.pk
    key = document.storage_key if not selectors.storage_key_shared(document=document) else ""
    with transaction.atomic():
        document.delete()
    # The index lives outside the database's transaction: its rows go once the row is gone, so a
    # search never names a document that no longer exists for long, and never a deleted one's text.
    knowledge_index().delete_document(
        account_id=account_id, knowledge_base_id=knowledge_base_id, document_id=document_id
    )
    if key:
        storage.document_store().delete(key)


# --- shared -----------------------------------------------------------------------------------
def _document_name(name: str, *, field: str) -> str:
    # A path a browser or a CLI sends with the file is not part of its name.
    cleaned = posixpath.basename(name.replace("\\", "/")).strip()
    if not cleaned:
        raise ValidationFailed("The document needs a name.", errors=[FieldError(field, "must not be empty")])
    if len(cleaned) > MAX_NAME_LENGTH:
        raise ValidationFailed(
            f"A document's name may be at most {MAX_NAME_LENGTH} characters.",
            errors=[FieldError(field, f"at most {MAX_NAME_LENGTH} characters")],
        )
    return cleaned


def _doc_type(*, name: str, content_type: str | None, data: bytes) -> str:
    try:
        return detect_type(name=name, content_type=content_type, data=data)
    except UnsupportedDocument as error:
        # (An empty file with a known extension is not refused here: ingestion fails it, saying
        # it is empty.)
        sentence = str(error)
        raise UnsupportedMediaType(
            f"{sentence[:1].upper()}{sentence[1:]}.",
            context={"name": name, "contentType": content_type},
            errors=[FieldError("file", "must be txt, md, html, pdf or docx")],
        ) from None


@transaction.atomic
def _document_add(
    *, account: Account, knowledge_base: KnowledgeBase, name: str, data: bytes, doc_type: str, source: str
) -> Document:
    content_hash = hashlib.sha256(data).hexdigest()
    same_content = selectors.document_with_content(knowledge_base=knowledge_base, content_hash=content_hash)
    if same_content is not None:
        # One document per content. A failed one is tried again: what failed may since be fixed
        # (an embedding Provider's key, a model name).
        if same_content.status == DocumentStatus.FAILED:
            _requeue(same_content)
            ingestion_enqueue(same_content.pk)
        return same_content
    key = storage.storage_key(
        account_number=account.account_number, knowledge_base_id=knowledge_base.pk, content_hash=content_hash
    )
    storage.document_store().put(key, data)
    fields: dict[str, Any] = {
        "source": source,
        "url": "",
        "content_type": doc_type,
        "size": len(data),
        "content_hash": content_hash,
        "storage_key": key,
    }
    document = Document.objects.select_for_update().filter(knowledge_base=knowledge_base, name=name).first()
    if document is None:
        document = Document.objects.create(account=account, knowledge_base=knowledge_base, name=name, **fields)
    else:
        # The same name with new content: the old file goes once this commits, the old chunks
        # when the new content is ingested (or fails to be).
        old_key = document.storage_key
        for field_name, value in fields.items():
            setattr(document, field_name, value)
        _requeue(document)
        if old_key and old_key != key:
            transaction.on_commit(lambda: _delete_unshared(old_key))
    ingestion_enqueue(document.pk)
    return document


def _requeue(document: Document) -> None:
    document.status = DocumentStatus.QUEUED
    document.progress = 0
    document.error = ""
    document.attempts = 0
    document.save()


def _delete_unshared(key: str) -> None:
    if not Document.objects.filter(storage_key=key).exists():
        storage.document_store().delete(key)
