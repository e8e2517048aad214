"""Celery entry points of the account app (billing); each calls a service.

`record_charges_task` (a batch of turns, as published after chats) and `record_charge_task` (one)
are at-least-once (late ack, rejected back to the queue when its worker dies) and idempotent, so
every charge is written exactly once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError
from django.utils import timezone

from smarter.apps.account.billing import services

# How far back each hourly rollup run looks for new charges: two runs overlap, so a run that
# was skipped or failed is covered by the next.
ROLLUP_LOOKBACK = timedelta(hours=3)

# Writing charges: redelivered when a worker dies mid-task, retried while the database fails.
CHARGE_TASK_OPTIONS: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": (DatabaseError,),
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 12,
}


@shared_task(**CHARGE_TASK_OPTIONS)
def record_charge_task(usage_event_id: int) -> int:
    """Turn one outbox row into its charges; how many were written (0 when already done)."""
    return services.charges_record(usage_event_id=usage_event_id)


@shared_task(**CHARGE_TASK_OPTIONS)
def record_charges_task(usage_event_ids: list[int]) -> int:
    """Turn outbox rows into their charges, together in one transaction; a retry or redelivery
    of the batch writes nothing twice (see `charges_record_many`)."""
    return services.charges_record_many(usage_event_ids=usage_event_ids)


@shared_task(acks_late=True)
def requeue_pending_charges_task() -> int:
    """Republish outbox rows left pending (broker outage, killed worker)."""
    seconds = settings.SMARTER.usage_requeue_seconds
    return services.pending_usage_events_requeue(older_than=timedelta(seconds=seconds))


@shared_task(acks_late=True)
def rollup_usage_task() -> int:
    """Recompute the hourly and daily usage rollups of the days that got new charges."""
    return services.usage_rollup(since=timezone.now() - ROLLUP_LOOKBACK)
