"""Celery entry points of the knowledge app; each calls a service.

`ingest_document_task` is at-least-once (late ack, back to the queue when its worker dies) and
idempotent: a document already ready is left alone, and one whose ingestion died half-way is
ingested again from its stored bytes, its index rows replaced.
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from smarter.apps.knowledge import services

INGEST_TASK_OPTIONS: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    # A network fetch or an embeddings endpoint that failed: tried again with exponential
    # backoff (about 2 s, 4 s, ... at most 5 minutes apart), then the document fails with the
    # reason. Eagerly run tasks (no broker) are not retried: see below.
    "autoretry_for": (services.TransientIngestError,),
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(**INGEST_TASK_OPTIONS)
def ingest_document_task(self: Task, document_id: int) -> str | None:
    """Ingest one document; its status afterwards (None when it was deleted meanwhile)."""
    # Run eagerly (no broker: the embedded default) there is no queue to wait in, and a retry
    # would run at once inside the request that queued it: one attempt, then the reason.
    last_attempt = bool(self.request.is_eager) or self.request.retries >= (self.max_retries or 0)
    document = services.document_ingest(document_id=document_id, retry_transient=not last_attempt)
    return document.status if document is not None else None
