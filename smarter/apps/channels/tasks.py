"""Celery entry points of the channels app; each calls a service.

Both tasks are at-least-once (late ack, back to the queue when a worker dies) and idempotent:
a message is claimed once before its turn runs, and only replies not yet sent are sent.
"""

from __future__ import annotations

from celery import Task, shared_task
from django.conf import settings

from smarter.apps.channels import answering, sending, services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def answer_message_task(message_id: int) -> str | None:
    """Answer one inbound message; its status afterwards."""
    return answering.message_answer(message_id=message_id)


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True, max_retries=None)
def send_replies_task(self: Task, message_id: int) -> str:
    """Send a message's replies, trying a refusal that may pass again with exponential backoff
    (SMARTER_CHANNEL_RETRY_SECONDS, doubled each time) up to SMARTER_CHANNEL_SEND_ATTEMPTS.
    Run eagerly (no broker: the embedded default) there is no queue to wait in: one attempt."""
    attempts = int(settings.SMARTER.channel_send_attempts)
    final = bool(self.request.is_eager) or self.request.retries + 1 >= attempts
    try:
        return sending.replies_send(message_id=message_id, final_attempt=final)
    except sending.TransientSendError as error:
        countdown = float(settings.SMARTER.channel_retry_seconds) * (2**self.request.retries)
        raise self.retry(countdown=countdown, exc=error) from None


@shared_task(ignore_result=True)
def sweep_channel_messages_task() -> int:
    """Hand over again what no worker took (beat, every minute)."""
    return services.inbound_sweep()
