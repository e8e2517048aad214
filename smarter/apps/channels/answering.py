"""Answering one inbound message: the worker's side of a delivery.

A message is claimed once (a redelivered task finds it claimed and does nothing), then, in
order: a sender's opt-out or opt-in word is honoured; a sender who opted out gets nothing; a
media message without a caption is answered with the notice that only text is read yet; the
sender's limits (turns per minute and per day) are checked; and the text is asked of the
chatbot through the one turn pipeline, in the sender's own conversation on this channel
(plugins, knowledge, billing and the account's budget as at any door). The answer is stored as
replies, split to the provider's message size, and handed to `sending` once committed.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from langchain_text_splitters import RecursiveCharacterTextSplitter

from smarter.apps.account.billing.limits import rate_check
from smarter.apps.channels import sending
from smarter.apps.channels.models import Channel, Contact, InboundMessage, InboundStatus, Reply, ReplyStatus
from smarter.apps.channels.providers import adapter_for
from smarter.apps.channels.records import MEDIA_KINDS, TEXT_KINDS
from smarter.apps.channels.services import STALE_CLAIM
from smarter.apps.chat.pipeline import run_turn
from smarter.apps.chat.turns import TurnInput, TurnResult
from smarter.lib import metrics
from smarter.lib.errors import NotFound, QuotaExceeded, RateLimited, SmarterError

log = logging.getLogger(__name__)

MEDIA_NOTICE = "Sorry, I can only read text for now. Please type your question as a message."
OPTED_OUT_NOTICE = "You will get no more messages from this number."
OPT_IN_HINT = " Send {word} to get answers again."
OPTED_IN_NOTICE = "Welcome back: you will get answers again."
RATE_NOTICE = "You are sending messages faster than I can answer. Please wait a minute, then try again."
DAILY_NOTICE = "You have reached today's limit of questions. Please come back tomorrow."
UNAVAILABLE_NOTICE = "Sorry, I cannot answer right now. Please try again later."


def _claim(message_id: int) -> bool:
    """Take the message for this worker, unless another has it (or had it, and is alive)."""
    now = timezone.now()
    waiting = Q(status=InboundStatus.RECEIVED) | Q(status=InboundStatus.ANSWERING, claimed_at__lt=now - STALE_CLAIM)
    return bool(
        InboundMessage.objects.filter(waiting, pk=message_id).update(status=InboundStatus.ANSWERING, claimed_at=now)
    )


class SenderBusy(Exception):
    """An earlier message of the same sender is not answered (or its reply not sent) yet: this
    one waits, so that a sender's turns run in their order, in one conversation, and their
    replies arrive in that order too."""


def _earlier_unfinished(message_id: int) -> bool:
    row = InboundMessage.objects.filter(pk=message_id).values("channel_id", "sender", "status").first()
    if row is None or row["status"] != InboundStatus.RECEIVED:
        return False
    earlier = InboundMessage.objects.filter(channel_id=row["channel_id"], sender=row["sender"], pk__lt=message_id)
    waiting = (InboundStatus.RECEIVED, InboundStatus.ANSWERING)
    return bool(
        earlier.filter(status__in=waiting).exists()
        or Reply.objects.filter(inbound__in=earlier, status=ReplyStatus.QUEUED).exists()
    )


def message_answer(*, message_id: int, eager: bool = False) -> str | None:
    """Answer one stored message and send its replies; its status afterwards (None when it is
    gone). SenderBusy while an earlier message of its sender is unfinished (run eagerly, with no
    broker, messages are answered one after another in the order they came)."""
    if not eager and _earlier_unfinished(message_id):
        raise SenderBusy(message_id)
    if not _claim(message_id):
        status = InboundMessage.objects.filter(pk=message_id).values_list("status", flat=True).first()
        return str(status) if status is not None else None
    message = InboundMessage.objects.select_related("channel__account", "channel__chatbot").get(pk=message_id)
    if Reply.objects.filter(inbound=message).exists():
        # Claimed again after a worker died between storing the answer and the status.
        return _finish(message, InboundStatus.ANSWERED, "", eager=eager)
    contact = _contact(message)
    try:
        status, detail, replies = _decide(message, contact)
    except Exception:  # a bug must not leave the message claimed until the sweep
        log.exception("answering a channel message failed", extra={"inbound": message.pk})
        status, detail, replies = InboundStatus.FAILED, "The turn failed inside the platform.", [UNAVAILABLE_NOTICE]
    return _finish(message, status, detail, replies, eager=eager)


def _contact(message: InboundMessage) -> Contact:
    """The sender's row on this channel, its last message time moved to this one's."""
    contact, _ = Contact.objects.get_or_create(channel=message.channel, sender=message.sender)
    written = message.sent_at or message.received_at
    Contact.objects.filter(pk=contact.pk).filter(
        Q(last_inbound_at__isnull=True) | Q(last_inbound_at__lt=written)
    ).update(last_inbound_at=written)
    contact.refresh_from_db()
    return contact


def _word(text: str) -> str:
    return text.strip().strip(".!").upper()


def _decide(message: InboundMessage, contact: Contact) -> tuple[str, str, list[str]]:
    """What to do with the message: its status, why, and the texts to send back."""
    channel = message.channel
    # Twilio answers the opt-out words of SMS itself (and then refuses our sends), not WhatsApp's.
    confirms = adapter_for(channel.type).customer_care_window(channel)
    word = _word(message.text) if message.kind in TEXT_KINDS else ""
    if word and word in channel.opt_out_words:
        Contact.objects.filter(pk=contact.pk).update(opted_out=True, opted_out_at=timezone.now())
        return InboundStatus.IGNORED, "The sender opted out.", [opted_out_notice(channel)] if confirms else []
    if contact.opted_out:
        if word and word in channel.opt_in_words:
            Contact.objects.filter(pk=contact.pk).update(opted_out=False, opted_out_at=None)
            return InboundStatus.ANSWERED, "The sender opted in again.", [OPTED_IN_NOTICE] if confirms else []
        return InboundStatus.IGNORED, "The sender has opted out.", []
    if message.kind in MEDIA_KINDS and not message.text:
        return InboundStatus.ANSWERED, "A media message without text.", [MEDIA_NOTICE]
    if message.kind not in TEXT_KINDS | MEDIA_KINDS or not message.text:
        return InboundStatus.IGNORED, f"A {message.kind} message is not answered.", []
    refusal = _limit_refusal(message)
    if refusal is not None:
        return refusal
    try:
        result = _ask(message, contact)
    except (RateLimited, QuotaExceeded) as refused:
        return InboundStatus.REFUSED, refused.description[:500], [UNAVAILABLE_NOTICE]
    except SmarterError as error:
        return InboundStatus.FAILED, f"{error.status} {error.description}"[:500], [UNAVAILABLE_NOTICE]
    message.session_key = result.session_key
    if contact.session_key != result.session_key:
        Contact.objects.filter(pk=contact.pk).update(session_key=result.session_key)
    return InboundStatus.ANSWERED, "", split(result.content, adapter_for(channel.type).max_length)


def opted_out_notice(channel: Channel) -> str:
    """The confirmation of an opt-out, naming the channel's first opt-in word when it has one."""
    hint = OPT_IN_HINT.format(word=channel.opt_in_words[0]) if channel.opt_in_words else ""
    return OPTED_OUT_NOTICE + hint


def _ask(message: InboundMessage, contact: Contact) -> TurnResult:
    channel = message.channel

    def turn(session_key: str | None) -> TurnResult:
        return async_to_sync(run_turn)(
            TurnInput(
                account=channel.account,
                chatbot=channel.chatbot,
                channel=channel.type,
                prompt=message.text,
                session_key=session_key,
                new_session=session_key is None,
                uid=message.sender,
            )
        )

    if contact.session_key:
        try:
            return turn(contact.session_key)
        except NotFound:  # the conversation was deleted: the sender starts a new one
            pass
    return turn(None)


def _sender_key(message: InboundMessage) -> str:
    return f"channel:{message.channel_id}:{hashlib.sha256(message.sender.encode()).hexdigest()[:32]}"


def _limit_refusal(message: InboundMessage) -> tuple[str, str, list[str]] | None:
    """The sender's turns per minute (Redis, shared by every worker) and per UTC day (counted
    from the stored messages). A refusal is told to the sender once per minute, or once a day."""
    channel: Channel = message.channel
    key = _sender_key(message)
    if rate_check(key=key, per_minute=channel.sender_turns_per_minute):
        metrics.rate_limit_refused("channel_sender")
        told = rate_check(key=f"{key}:told", per_minute=1) == 0
        detail = f"More than {channel.sender_turns_per_minute} turns per minute from this sender."
        return InboundStatus.REFUSED, detail, [RATE_NOTICE] if told else []
    if channel.sender_turns_per_day:
        today = _day_start()
        mine = InboundMessage.objects.filter(channel=channel, sender=message.sender, received_at__gte=today)
        asked = mine.filter(status=InboundStatus.ANSWERED).exclude(session_key="").count()
        if asked >= channel.sender_turns_per_day:
            metrics.rate_limit_refused("channel_sender")
            told = not mine.filter(status=InboundStatus.REFUSED, detail__startswith="Daily").exists()
            detail = f"Daily limit of {channel.sender_turns_per_day} turns reached for this sender."
            return InboundStatus.REFUSED, detail, [DAILY_NOTICE] if told else []
    return None


def _day_start() -> datetime:
    return timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)


def split(text: str, longest: int) -> list[str]:
    """An answer in parts of at most `longest` characters, cut between paragraphs, then lines,
    sentences and words where it can."""
    text = text.strip()
    if len(text) <= longest:
        return [text] if text else []
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=longest,
        chunk_overlap=0,
        separators=["\n\n", "\n", ". ", " ", ""],
        keep_separator="end",
        strip_whitespace=True,
    )
    return [part for part in splitter.split_text(text) if part]


def _finish(message: InboundMessage, status: str, detail: str, replies: list[str] | None = None, *, eager: bool) -> str:
    """Store the outcome and the replies together; send the replies once committed, from this
    worker (queued behind the other messages, they would wait for the whole backlog)."""
    texts = replies or []
    with transaction.atomic():
        values: dict[str, Any] = {"status": status, "detail": detail[:500], "answered_at": timezone.now()}
        if message.session_key:
            values["session_key"] = message.session_key
        InboundMessage.objects.filter(pk=message.pk).update(**values)
        Reply.objects.bulk_create(
            [
                Reply(channel_id=message.channel_id, inbound=message, part=number, recipient=message.sender, text=text)
                for number, text in enumerate(texts, start=1)
            ],
            ignore_conflicts=True,
        )
        if texts or Reply.objects.filter(inbound=message, attempts=0).exists():
            transaction.on_commit(lambda: _send_now(message.pk, eager))
    return status


def _send_now(message_id: int, eager: bool) -> None:
    """The first attempt; a refusal that may pass is tried again by the send task, later."""
    try:
        sending.replies_send(message_id=message_id, final_attempt=eager)
    except sending.TransientSendError as refused:
        from smarter.apps.channels.tasks import send_replies_task

        send_replies_task.apply_async((message_id,), countdown=sending.backoff_seconds(refused.attempts))
