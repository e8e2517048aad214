"""Celery entry points of the channels app; each calls a service.

Both tasks are at-least-once (late ack, back to the queue when a worker dies) and idempotent:
a message is claimed once before its turn runs, and only replies not yet sent are sent.
"""

from __future__ import annotations

from celery import Task, shared_task

from smarter.apps.channels import answering, sending, services

SENDER_WAIT_LONGEST = 30.0  # seconds between two looks at a sender's earlier message


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True, max_retries=None)
def answer_message_task(self: Task, message_id: int) -> str | None:
    """Answer one inbound message and send its reply; its status afterwards. While an earlier
    message of the same sender is unfinished, it waits (0.5 s, then longer, at most 30 s)."""
    try:
        return answering.message_answer(message_id=message_id, eager=bool(self.request.is_eager))
    except answering.SenderBusy:
        raise self.retry(countdown=min(SENDER_WAIT_LONGEST, 0.5 * 2 ** min(self.request.retries, 6))) from None


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True, max_retries=None)
def send_replies_task(self: Task, message_id: int) -> str:
    """Send a message's replies that a first attempt could not: each part is tried again with
    exponential backoff (SMARTER_CHANNEL_RETRY_SECONDS, doubled each time) until
    SMARTER_CHANNEL_SEND_ATTEMPTS. Run eagerly (no broker: the embedded default) there is no
    queue to wait in: that attempt is the last."""
    try:
        return sending.replies_send(message_id=message_id, final_attempt=bool(self.request.is_eager))
    except sending.TransientSendError as refused:
        raise self.retry(countdown=sending.backoff_seconds(refused.attempts)) from None


@shared_task(ignore_result=True)
def sweep_channel_messages_task() -> int:
    """Hand over again what no worker took (beat, every minute)."""
    return services.inbound_sweep()
