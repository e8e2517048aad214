"""Knowledge bases and their documents.

The system of record keeps what a user manages (a knowledge base's settings, each document's
name, origin, status and error). The chunks, their vectors and their lexical index live in the
knowledge index (`index/`): a SQLite side file by default, PostgreSQL with pgvector at scale,
keyed by account, knowledge base and document, so deleting a document removes them there too.
"""

from __future__ import annotations

from django.db import models

from smarter.apps.account.models import Account, TimestampedModel


class KnowledgeBase(TimestampedModel):
    """A set of documents a chatbot answers from, with how they are chunked, embedded and searched."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="knowledge_bases")
    name = models.SlugField(max_length=50)
    description = models.CharField(max_length=2000, blank=True)
    version = models.CharField(max_length=32, default="0.1.0")
    # The manifest's spec parts as applied (camelCase): {"provider", "model"},
    # {"strategy", "size", "overlap"}, {"mode", "topK"}.
    embedding = models.JSONField(default=dict)
    chunking = models.JSONField(default=dict)
    retrieval = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="knowledgebase_unique_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class DocumentStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PROCESSING = "processing", "Processing"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class DocumentSource(models.TextChoices):
    UPLOAD = "upload", "Uploaded file"
    TEXT = "text", "Text"
    URL = "url", "URL"


class Document(TimestampedModel):
    """One document of a knowledge base: where it came from, its stored raw bytes and how far
    ingestion got. The same content twice in a knowledge base is one document."""

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="documents")
    knowledge_base = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE, related_name="documents")
    name = models.CharField(max_length=255)
    source = models.CharField(max_length=8, choices=DocumentSource.choices)
    url = models.CharField(max_length=2048, blank=True)
    content_type = models.CharField(max_length=16, blank=True, help_text="txt, md, html, pdf or docx")
    size = models.PositiveBigIntegerField(default=0, help_text="bytes of the raw document")
    # sha256 of the raw bytes: the same content is not ingested twice.
    content_hash = models.CharField(max_length=64, blank=True)
    storage_key = models.CharField(max_length=512, blank=True)
    status = models.CharField(max_length=12, choices=DocumentStatus.choices, default=DocumentStatus.QUEUED)
    # 0..100 while processing; 100 once ready.
    progress = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=2000, blank=True)
    pages = models.PositiveIntegerField(default=0)
    chunks = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["knowledge_base", "name"], name="document_unique_name"),
        ]
        indexes = [models.Index(fields=["knowledge_base", "content_hash"], name="document_content_hash")]
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"
