"""One document from its raw bytes to indexed chunks: processing -> parse -> chunk -> embed in
batches -> replace its index rows -> ready (or failed, with a message a user can act on).

Nothing is written to the index until every vector exists, and the document's old rows are
removed before the new ones are added, so a failure at any step leaves none of the document in
the index: neither half of the new content nor the old content it replaced.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.db import transaction

from smarter.apps.knowledge import chunking, storage
from smarter.apps.knowledge.embedding import EmbeddingError, embedder_for
from smarter.apps.knowledge.index import knowledge_index
from smarter.apps.knowledge.models import Document, DocumentStatus
from smarter.apps.knowledge.parsing import ParseError, UnsupportedDocument, detect_type, parse_document
from smarter.apps.knowledge.records import ChunkDraft, IndexedChunk
from smarter.apps.knowledge.services.documents import MIB, max_upload_bytes
from smarter.lib.outbound import OutboundRefused, guarded_client

logger = logging.getLogger(__name__)

URL_FETCH_TIMEOUT = 30.0
URL_MAX_REDIRECTS = 5
# Progress of a document in ingestion, by step; embedding fills what lies between.
PARSED, CHUNKED, EMBEDDED = 10, 20, 90


class TransientIngestError(Exception):
    """A step failed for a reason that may pass (a network error, an embeddings endpoint down):
    the task tries again later. The message is what the document shows if it never succeeds."""


class _Failed(Exception):
    """A document that cannot be ingested as it is; the message is its `error`."""

    @property
    def message(self) -> str:
        return str(self.args[0])


def document_ingest(*, document_id: int, retry_transient: bool = False) -> Document | None:
    """Ingest one document (see the module). A document already ready is left as it is (a task
    delivered twice does nothing twice); a deleted one is skipped (None).

    `retry_transient`: a transient failure puts the document back in the queue and raises
    TransientIngestError for the task to retry; otherwise (the last attempt) it fails the
    document with that message."""
    document = Document.objects.select_related("knowledge_base", "account").filter(pk=document_id).first()
    if document is None or document.status == DocumentStatus.READY:
        return document
    _set(document, status=DocumentStatus.PROCESSING, progress=0, error="", attempts=document.attempts + 1)
    try:
        data = _fetch(document) if document.source == "url" else storage.document_store().get(document.storage_key)
        drafts, pages = _chunks(document, data)
        vectors = _embed(document, drafts)
        _replace_index_rows(document, drafts, vectors, pages)
    except storage.StoredDocumentMissing:
        _fail(document, "The document's stored file is missing; add the document again.")
    except (_Failed, ParseError, UnsupportedDocument) as error:
        _fail(document, error.message if isinstance(error, _Failed) else str(error))
    except TransientIngestError as error:
        if not retry_transient:
            _fail(document, str(error))
        else:
            _remove_rows(document)
            _set(document, status=DocumentStatus.QUEUED, progress=0, error=f"Will try again: {error}")
            raise
    except Exception:
        logger.exception("ingestion of document %s failed", document_id)
        _fail(document, "Ingestion failed on our side; add the document again, or contact support if it persists.")
    document.refresh_from_db()
    return document


# --- the steps --------------------------------------------------------------------------------
def _chunks(document: Document, data: bytes) -> tuple[list[ChunkDraft], int]:
    sections = parse_document(data, doc_type=document.content_type)
    _set(document, progress=PARSED)
    chunking_of = document.knowledge_base.chunking
    drafts = chunking.chunk_sections(
        sections,
        strategy=str(chunking_of.get("strategy") or "recursive"),
        size=int(chunking_of.get("size") or 256),
        overlap=int(chunking_of.get("overlap") or 0),
        count_tokens=chunking.token_counter(),
    )
    if not drafts:
        raise _Failed("No text was found in the document.")
    _set(document, progress=CHUNKED)
    pages = max((section.page or 0 for section in sections), default=0)
    return drafts, pages


def _embed(document: Document, drafts: list[ChunkDraft]) -> list[list[float]]:
    knowledge_base = document.knowledge_base
    try:
        embedder = embedder_for(account_id=knowledge_base.account_id, embedding=knowledge_base.embedding)
    except EmbeddingError as error:
        # The knowledge base names an embedder that does not exist: waiting will not help.
        raise _Failed(f"The document could not be embedded: {error}.") from None
    batch = int(settings.SMARTER.embedding_batch_size)
    vectors: list[list[float]] = []
    for start in range(0, len(drafts), batch):
        texts = [draft.text for draft in drafts[start : start + batch]]
        try:
            vectors.extend(embedder.embed_documents(texts))
        except EmbeddingError as error:
            # The embedder exists and its call failed: an endpoint down, a timeout, a rate limit.
            raise TransientIngestError(f"The document could not be embedded: {error}.") from None
        done = min(start + batch, len(drafts))
        _set(document, progress=CHUNKED + (EMBEDDED - CHUNKED) * done // len(drafts))
    return vectors


def _replace_index_rows(document: Document, drafts: list[ChunkDraft], vectors: list[list[float]], pages: int) -> None:
    chunks = [
        IndexedChunk(
            account_id=document.account_id,
            knowledge_base_id=document.knowledge_base_id,
            document_id=document.pk,
            draft=draft,
            vector=vector,
        )
        for draft, vector in zip(drafts, vectors, strict=True)
    ]
    index = knowledge_index()
    with transaction.atomic():
        # Locked while the rows are replaced: a newer upload of the same name, or a delete,
        # waits, and a stale ingestion (its content replaced meanwhile) writes nothing.
        current = Document.objects.select_for_update().filter(pk=document.pk).first()
        if current is None or current.content_hash != document.content_hash or current.status != "processing":
            return
        _remove_rows(document)
        try:
            index.add(chunks)
        except Exception:
            _remove_rows(document)  # whatever part of the new rows was written
            raise
        _set(document, status=DocumentStatus.READY, progress=100, error="", chunks=len(chunks), pages=pages)


def _remove_rows(document: Document) -> None:
    knowledge_index().delete_document(
        account_id=document.account_id, knowledge_base_id=document.knowledge_base_id, document_id=document.pk
    )


def _fail(document: Document, message: str) -> None:
    try:
        _remove_rows(document)
    finally:
        _set(document, status=DocumentStatus.FAILED, error=message[:2000], chunks=0, progress=0)


def _set(document: Document, **fields: object) -> None:
    """Write these fields at once (outside any transaction: the API shows progress as it goes)."""
    for name, value in fields.items():
        setattr(document, name, value)
    Document.objects.filter(pk=document.pk).update(**fields)


# --- URL documents ----------------------------------------------------------------------------
def _fetch(document: Document) -> bytes:
    """The URL's bytes, fetched through the outbound guard and capped at the upload limit; they
    are stored and hashed like an upload's."""
    limit = max_upload_bytes()
    try:
        client = guarded_client(timeout=URL_FETCH_TIMEOUT, max_redirects=URL_MAX_REDIRECTS)
        with client, client.stream("GET", document.url) as response:
            if response.status_code >= 500 or response.status_code == 429:
                raise TransientIngestError(f"The URL answered {response.status_code}.")
            if response.status_code >= 400:
                raise _Failed(f"The URL answered {response.status_code}; check that it is public.")
            content_type = response.headers.get("content-type", "").split(";")[0].strip() or None
            data = _read_capped(response.iter_bytes(), limit)
    except OutboundRefused as refused:
        raise _Failed(f"The URL may not be fetched: {refused}") from None
    except httpx.TooManyRedirects:
        raise _Failed(f"The URL redirects more than {URL_MAX_REDIRECTS} times.") from None
    except httpx.HTTPError as error:
        raise TransientIngestError(f"The URL could not be fetched: {type(error).__name__}.") from None
    name = posixpath.basename(urlsplit(document.url).path) or "index.html"
    doc_type = detect_type(name=name, content_type=content_type, data=data)
    content_hash = hashlib.sha256(data).hexdigest()
    key = storage.storage_key(
        account_number=document.account.account_number,
        knowledge_base_id=document.knowledge_base_id,
        content_hash=content_hash,
    )
    storage.document_store().put(key, data)
    old_key = document.storage_key
    _set(document, content_type=doc_type, size=len(data), content_hash=content_hash, storage_key=key)
    if old_key and old_key != key and not Document.objects.filter(storage_key=old_key).exists():
        storage.document_store().delete(old_key)  # the page changed: its old copy is not kept
    return data


def _read_capped(chunks: Iterator[bytes], limit: int) -> bytes:
    received = bytearray()
    for chunk in chunks:
        received += chunk
        if len(received) > limit:
            raise _Failed(f"The URL's document is larger than {limit // MIB} MiB.")
    return bytes(received)
