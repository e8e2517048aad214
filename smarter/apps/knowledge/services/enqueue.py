"""Handing a document to the ingestion task once the transaction that queued it commits."""

from __future__ import annotations

from django.db import transaction


def ingestion_enqueue(document_id: int) -> None:
    """After commit, so the worker reads the queued row (and a rolled-back upload queues nothing)."""
    # Imported here: the task module calls these services, so it cannot be imported by them first.
    from smarter.apps.knowledge.tasks import ingest_document_task

    transaction.on_commit(lambda: ingest_document_task.delay(document_id))
