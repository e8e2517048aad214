"""Every write of the channels app that a webhook delivery or a manifest makes: channels,
inbound messages (stored once per provider message id), delivery statuses, and the hand-off of
new messages to the workers that answer them (`answering`, `sending`)."""

from __future__ import annotations

import logging
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from smarter.apps.account import services as account_services
from smarter.apps.account.models import Account, Secret
from smarter.apps.channels.models import (
    REPLY_STATUS_RANK,
    Channel,
    InboundMessage,
    InboundStatus,
    Reply,
    ReplyStatus,
)
from smarter.apps.channels.providers import Credentials
from smarter.apps.channels.records import Delivery, InboundRecord, StatusRecord
from smarter.apps.channels.selectors import forget_webhook_channels

log = logging.getLogger(__name__)

LONGEST_TEXT = 20_000  # characters of an inbound message kept (WhatsApp allows 4,096; SMS 1,600)
INSERT_TRIES = 3  # a deadlock between concurrent copies of one delivery is tried again
STALE_CLAIM = timedelta(minutes=15)  # a turn claimed this long ago by a worker that died is claimed again
WAITING_TOO_LONG = timedelta(minutes=1)  # a message no worker picked up is handed over again
SWEEP_BATCH = 500
SECRET_NAMES = ("access_token", "app_secret", "verify_token", "auth_token")


# --- channels -----------------------------------------------------------------------------------
def channel_create(*, account: Account, name: str, **fields: Any) -> Channel:
    return Channel.objects.create(account=account, name=name, **fields)


def channel_update(*, channel: Channel, **fields: Any) -> bool:
    """Whether anything changed (re-applying the same manifest writes nothing)."""
    changed = [name for name, value in fields.items() if getattr(channel, name) != value]
    for name in changed:
        setattr(channel, name, fields[name])
    if changed:
        channel.save(update_fields=[*changed, "updated_at"])
        forget_webhook_channels()
    return bool(changed)


def channel_delete(*, channel: Channel) -> None:
    """Deletes its contacts, messages and replies with it; the chat sessions stay in the history."""
    channel.delete()
    forget_webhook_channels()


def credentials_of(channel: Channel, *, only: tuple[str, ...] | None = None) -> Credentials:
    """The channel's Secrets in plain text, for one delivery or one send (never for a client);
    `only` those named (a delivery needs only its signing secret: each one revealed is a
    decryption, and a write once a minute to stamp its use)."""

    def reveal(name: str) -> str:
        secret: Secret | None = getattr(channel, name)
        if secret is None or (only is not None and name not in only):
            return ""
        return account_services.secret_reveal(secret=secret)

    return Credentials(**{name: reveal(name) for name in SECRET_NAMES})


# --- deliveries -----------------------------------------------------------------------------------
@dataclass
class Received:
    """What one delivery changed: the messages stored for the first time (to be answered), the
    copies of messages stored before, the statuses applied, and entries for another number."""

    new: list[int] = field(default_factory=list)
    replayed: int = 0
    statuses: int = 0
    elsewhere: int = 0


def delivery_record(*, channel: Channel, delivery: Delivery) -> Received:
    """Store each message once under (channel, provider message id) and apply each status.
    Concurrent copies of one delivery race on the unique key: exactly one stores it."""
    received = Received(elsewhere=delivery.elsewhere)
    for record in delivery.messages:
        stored = _insert_once(channel, record)
        if stored is None:
            received.replayed += 1
        else:
            received.new.append(stored)
    for status in delivery.statuses:
        received.statuses += reply_status_apply(channel=channel, record=status)
    return received


def _own_transaction_unless_in_one() -> AbstractContextManager[object]:
    """Nothing in autocommit, where the INSERT is its own transaction: `atomic()` there would add
    three round trips to a webhook's acknowledgement (autocommit off, COMMIT, autocommit on).
    Inside a caller's transaction, a savepoint, so that a duplicate key leaves it usable."""
    return transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext()


def _insert_once(channel: Channel, record: InboundRecord) -> int | None:
    for attempt in range(INSERT_TRIES):
        try:
            with _own_transaction_unless_in_one():
                row = InboundMessage.objects.create(
                    channel=channel,
                    provider_message_id=record.provider_message_id,
                    sender=record.sender,
                    kind=record.kind,
                    text=record.text[:LONGEST_TEXT],
                    sent_at=record.sent_at,
                )
            return int(row.pk)
        except IntegrityError:
            if InboundMessage.objects.filter(channel=channel, provider_message_id=record.provider_message_id).exists():
                return None  # stored by an earlier (or a concurrent) copy of the delivery
            raise  # not a copy: the channel itself is gone (deleted a moment ago)
        except OperationalError:
            # InnoDB may pick one of several concurrent inserts of the same key as a deadlock
            # victim; whether the message is stored is known once the others are done.
            if attempt == INSERT_TRIES - 1:
                raise
            time.sleep(0.01 * (attempt + 1))
    return None


def reply_status_apply(*, channel: Channel, record: StatusRecord) -> int:
    """Move a reply's delivery status forward (never back: callbacks arrive out of order); how
    many replies moved (0 or 1)."""
    rank = REPLY_STATUS_RANK.get(ReplyStatus(record.status))
    if rank is None:
        return 0
    earlier = [status for status, value in REPLY_STATUS_RANK.items() if value < rank]
    values: dict[str, Any] = {"status": record.status, "updated_at": timezone.now()}
    if record.status == ReplyStatus.FAILED:
        values.update(error_code=record.error_code, error=record.error[:1000] or "the provider could not deliver it")
    return int(
        Reply.objects.filter(
            channel=channel, provider_message_id=record.provider_message_id, status__in=earlier
        ).update(**values)
    )


def inbound_dispatch(message_ids: list[int]) -> None:
    """Hand new messages to the workers. A message the broker did not take stays `received`
    and is handed over again by `inbound_sweep`."""
    from smarter.apps.channels.tasks import answer_message_task

    for message_id in message_ids:
        try:
            answer_message_task.delay(message_id)
        except Exception:  # the broker is unreachable: the sweep hands it over later
            log.exception("could not queue a channel message", extra={"inbound": message_id})


def inbound_sweep() -> int:
    """Hand over again the messages no worker took (the broker lost them, or the worker that
    claimed one died) and the replies no worker sent; how many."""
    from smarter.apps.channels.tasks import send_replies_task

    now = timezone.now()
    waiting = list(
        InboundMessage.objects.filter(
            status=InboundStatus.RECEIVED, received_at__lt=now - WAITING_TOO_LONG
        ).values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    stale = list(
        InboundMessage.objects.filter(status=InboundStatus.ANSWERING, claimed_at__lt=now - STALE_CLAIM).values_list(
            "pk", flat=True
        )[:SWEEP_BATCH]
    )
    inbound_dispatch(waiting + stale)
    unsent = list(
        Reply.objects.filter(status=ReplyStatus.QUEUED, attempts=0, created_at__lt=now - WAITING_TOO_LONG)
        .values_list("inbound_id", flat=True)
        .distinct()[:SWEEP_BATCH]
    )
    for inbound_id in unsent:
        send_replies_task.delay(inbound_id)
    return len(waiting) + len(stale) + len(unsent)
