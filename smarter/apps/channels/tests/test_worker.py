"""Channels on the production column: the served platform takes the deliveries, MariaDB keeps
them, Redis carries the turns to a real Celery worker process, which asks a stub model and sends
the replies to a stand-in of the provider's REST API on loopback.

What a sender and the account see: the webhook acknowledges at once while the model thinks; a
batched delivery is answered message by message, each sender in their own conversation; copies
of one delivery, however many arrive at once, are answered once; a send the provider refuses is
retried while the refusal may pass, and failed with the provider's words (never a secret)
otherwise; delivery statuses only move forward.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from smarter.apps.account.billing.models import Charge
from smarter.apps.account.models import Role
from smarter.apps.account.tests.billing_support import (
    WORKER_BROKER_URL,
    Worker,
    celery_mode,
    mariadb_url_or_skip,
    wait_until,
)
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.channels.models import Channel, InboundMessage
from smarter.apps.channels.tests.support import (
    ACCESS_TOKEN,
    broker_idle,
    messages_shown,
    post_twilio,
    post_whatsapp,
    set_up,
    twilio_inbound,
    twilio_manifest,
    wa_batch,
    wa_change,
    wa_delivery,
    wa_message,
    wa_status,
    whatsapp_manifest,
)
from smarter.apps.chat.models import Chat
from smarter.celery import app
from smarter.testing.fixtures import flushed_redis_or_skip
from smarter.testing.messaging_stub import MessagingStub, Send
from smarter.testing.openai_stub import OpenAIStub, RecordedRequest, ScriptedReply, text_reply

pytestmark = pytest.mark.django_db(transaction=True)

SEND_ATTEMPTS = 3
RETRY_SECONDS = 0.2
WAIT = 120.0  # seconds: a worker process starting on a loaded machine, then its turns
QUIET = 2.0  # seconds the worker stays idle before a test trusts that nothing else comes

ADA, BOB, CYD = "15551230001", "15551230002", "15551230003"
ANSWER = "A Gizmo costs $12.50."
# Meta's error body: a temporary failure on its side, worth trying again...
TEMPORARY = {
    "error": {
        "message": f"(#131000) Something went wrong sending with access token {ACCESS_TOKEN}",
        "type": "OAuthException",
        "code": 131000,
        "fbtrace_id": "A7xQ2mZ0pLk",
    }
}
# ...and one that will not pass: the recipient cannot be reached on WhatsApp.
UNDELIVERABLE = {
    "error": {
        "message": "(#131026) Message undeliverable",
        "type": "OAuthException",
        "code": 131026,
        "error_data": {"messaging_product": "whatsapp", "details": "Message undeliverable."},
        "fbtrace_id": "B3kR9nW1qTe",
    }
}


@pytest.fixture
def acme(asgi_server: Any) -> Any:
    return make_account("Acme")


@pytest.fixture
def owner(acme: Any) -> Persona:
    return make_persona(acme, "owner", Role.ADMIN)


@pytest.fixture
def model(smarter_settings: Any) -> Iterator[OpenAIStub]:
    """The platform's provider, a stub on loopback (the worker is pointed at it as well)."""
    with OpenAIStub() as stub:
        smarter_settings.llm_provider = "openai"
        smarter_settings.openai_base_url = stub.url
        smarter_settings.openai_api_key = "sk-platform"
        smarter_settings.allow_private_hosts = True
        yield stub
        assert stub.errors == [], "the stub model itself failed"


@pytest.fixture
def worker(
    transactional_db: Any, model: OpenAIStub, provider_api: MessagingStub, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Worker]:
    """A Celery worker process on this test process's Redis database, sharing the test database:
    it asks the stub model, and may send to the stand-in (on loopback, a private address)."""
    database_url = mariadb_url_or_skip()
    flushed_redis_or_skip(WORKER_BROKER_URL)
    for name, value in {
        "SMARTER_LLM_PROVIDER": "openai",
        "SMARTER_OPENAI_BASE_URL": model.url,
        "SMARTER_OPENAI_API_KEY": "sk-platform",
        "SMARTER_ALLOW_PRIVATE_HOSTS": "true",
        "SMARTER_CHANNEL_SEND_ATTEMPTS": str(SEND_ATTEMPTS),
        "SMARTER_CHANNEL_RETRY_SECONDS": str(RETRY_SECONDS),
    }.items():
        monkeypatch.setenv(name, value)
    # Several tasks at once, as in production: a sender's later message waits for their earlier one.
    process = Worker(database_url=database_url, broker_url=WORKER_BROKER_URL, concurrency=3)
    try:
        with celery_mode(eager=False, broker_url=WORKER_BROKER_URL):
            process.start()
            # Ready before the test delivers: its boot competes for this machine's cores.
            assert wait_until(lambda: bool(app.control.ping(timeout=0.5)), timeout=WAIT), "no worker answered"
            yield process
    finally:
        process.stop()


def echo(request: RecordedRequest) -> ScriptedReply:
    return text_reply(f"You said: {request.messages[-1]['content']}")


def settled() -> None:
    """Until the worker has had nothing to do for QUIET seconds: whatever it would still send
    or ask has been sent or asked by then."""
    assert wait_until(lambda: broker_idle(WORKER_BROKER_URL), timeout=WAIT)
    time.sleep(QUIET)
    assert wait_until(lambda: broker_idle(WORKER_BROKER_URL), timeout=WAIT)


def concurrently(copies: int, base_url: str, deliver: Callable[[httpx.Client], httpx.Response]) -> list[int]:
    """`deliver` done by `copies` clients at once (each on its own connection, released together);
    the status codes answered."""
    start = threading.Barrier(copies)

    def one(_: int) -> int:
        with httpx.Client(base_url=base_url, timeout=WAIT) as client:
            start.wait()
            return deliver(client).status_code

    with ThreadPoolExecutor(max_workers=copies) as pool:
        return list(pool.map(one, range(copies)))


def sent_replies(provider_api: MessagingStub, count: int) -> list[Send]:
    assert provider_api.wait_for(lambda: len(provider_api.sends) >= count, timeout=WAIT), provider_api.sends
    return provider_api.sends


def replies_of(shown: list[dict[str, Any]], sender: str) -> list[dict[str, Any]]:
    (message,) = [message for message in shown if message["sender"] == sender]
    return list(message["replies"])


# --- 1. acknowledged at once, answered in the background, charged by the worker -------------------
THINKING_SECONDS = 1.5


def test_a_whatsapp_message_is_acknowledged_while_the_model_thinks_then_answered_once_and_charged(
    worker: Worker, model: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    model.respond_with(lambda request: text_reply(ANSWER, delay=THINKING_SECONDS))
    channel = set_up(owner, whatsapp_manifest(provider_api))
    delivery = wa_delivery(wa_change([wa_message("wamid.T1", ADA, "What does a Gizmo cost?")]))

    started = time.monotonic()
    response = post_whatsapp(web, channel, delivery)
    took = time.monotonic() - started
    sent_when_acknowledged = provider_api.sends

    assert response.status_code == 200, response.text
    assert response.json() == {"received": True}
    assert sent_when_acknowledged == []  # acknowledged before the reply existed
    assert took < THINKING_SECONDS  # and sooner than the model could answer
    (send,) = sent_replies(provider_api, 1)
    assert (send.provider, send.to, send.text, send.status) == ("whatsapp", ADA, ANSWER, 200)
    assert send.body["context"] == {"message_id": "wamid.T1"}
    assert wait_until(lambda: Charge.objects.filter(account=owner.account, kind="completion").exists(), WAIT)
    settled()
    assert len(provider_api.sends) == len(model.chat_requests) == 1
    assert list(Charge.objects.filter(account=owner.account).values_list("kind", "channel")) == [
        ("completion", "whatsapp")
    ]
    (message,) = messages_shown(owner, channel)
    assert (message["providerMessageId"], message["sender"], message["status"]) == ("wamid.T1", ADA, "answered")
    assert message["replies"] == [
        {
            "part": 1,
            "status": "sent",
            "providerMessageId": send.provider_id,
            "attempts": 1,
            "errorCode": None,
            "error": None,
            "text": ANSWER,
        }
    ]


# --- 2. a batched delivery: a turn per message, a conversation per sender --------------------------
# Entries, each a list of changes, each the senders of its messages in order: 8 messages from 3,
# a sender's next to each other, so that workers running three at once would take them together.
BATCH = [[[ADA, ADA], [CYD, ADA]], [[BOB, CYD], [BOB, BOB]]]


def batched(layout: list[list[list[str]]]) -> tuple[list[list[dict[str, Any]]], dict[str, list[str]], list[Any]]:
    """The delivery's entries for `layout`, each sender's questions in the order they come, and
    the replies due: (to, text, the message answered)."""
    asked: dict[str, list[str]] = {}
    due: list[tuple[str, str, str]] = []
    entries = []
    for entry in layout:
        changes = []
        for senders in entry:
            messages = []
            for sender in senders:
                questions = asked.setdefault(sender, [])
                questions.append(f"Question {len(questions) + 1} from {sender}")
                message_id = f"wamid.B{len(due) + 1}"
                messages.append(wa_message(message_id, sender, questions[-1]))
                due.append((sender, f"You said: {questions[-1]}", message_id))
            changes.append(wa_change(messages))
        entries.append(changes)
    return entries, asked, due


def test_a_batched_delivery_is_answered_message_by_message_each_sender_in_one_conversation(
    worker: Worker, model: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    model.respond_with(echo)
    channel = set_up(owner, whatsapp_manifest(provider_api))
    entries, asked, expected = batched(BATCH)
    assert (len(expected), [len(asked[sender]) for sender in (ADA, BOB, CYD)]) == (8, [3, 3, 2])

    response = post_whatsapp(web, channel, wa_batch(*entries))

    assert response.status_code == 200, response.text
    sent_replies(provider_api, len(expected))
    settled()
    sends = provider_api.sends
    assert sorted((send.to, send.text, send.body["context"]["message_id"]) for send in sends) == sorted(expected)
    assert len(model.chat_requests) == len(expected)
    # Each sender gets their replies in the order they asked.
    for sender, questions in asked.items():
        assert [send.text for send in sends if send.to == sender] == [f"You said: {q}" for q in questions]
    # Each turn asks the model with the sender's earlier exchanges before the new question.
    for sender, questions in asked.items():
        for number, question in enumerate(questions):
            (request,) = [request for request in model.chat_requests if request.messages[-1]["content"] == question]
            history = []
            for earlier in questions[:number]:
                history += [("user", earlier), ("assistant", f"You said: {earlier}")]
            conversation = [(m["role"], m["content"]) for m in request.messages if m["role"] != "system"]
            assert conversation == [*history, ("user", question)], (sender, number)
    shown = messages_shown(owner, channel)
    assert sorted(message["status"] for message in shown) == ["answered"] * len(expected)
    sessions = {sender: {m["sessionKey"] for m in shown if m["sender"] == sender} for sender in asked}
    assert all(len(keys) == 1 for keys in sessions.values()), sessions
    keys = {key for keys in sessions.values() for key in keys}
    assert len(keys) == 3
    assert set(Chat.objects.filter(account=owner.account).values_list("session_key", "channel")) == {
        (key, "whatsapp") for key in keys
    }


# --- 3. copies of one delivery arriving at once ----------------------------------------------------
def test_a_hundred_copies_of_one_whatsapp_delivery_at_once_are_answered_once(
    worker: Worker, model: OpenAIStub, provider_api: MessagingStub, owner: Persona, asgi_server: Any
) -> None:
    model.respond_with(echo)
    channel = set_up(owner, whatsapp_manifest(provider_api))
    delivery = wa_delivery(wa_change([wa_message("wamid.C1", ADA, "Is the Gizmo red?")]))

    statuses = concurrently(100, asgi_server.url, lambda client: post_whatsapp(client, channel, delivery))

    assert statuses == [200] * 100
    sent_replies(provider_api, 1)
    settled()
    assert [(send.to, send.text) for send in provider_api.sends] == [(ADA, "You said: Is the Gizmo red?")]
    assert len(model.chat_requests) == 1
    assert InboundMessage.objects.filter(channel=channel).count() == 1
    (message,) = messages_shown(owner, channel)
    assert message["status"] == "answered"
    assert [(reply["status"], reply["attempts"]) for reply in message["replies"]] == [("sent", 1)]


def test_thirty_copies_of_one_twilio_delivery_at_once_are_answered_once(
    worker: Worker, model: OpenAIStub, provider_api: MessagingStub, owner: Persona, asgi_server: Any
) -> None:
    model.respond_with(echo)
    channel = set_up(owner, twilio_manifest(provider_api))
    sender = "+15550001111"
    params = twilio_inbound("SM" + "c" * 32, sender, "Is the Gizmo red?")

    statuses = concurrently(30, asgi_server.url, lambda client: post_twilio(client, channel, params))

    assert statuses == [200] * 30
    sent_replies(provider_api, 1)
    settled()
    assert [(send.provider, send.to, send.text) for send in provider_api.sends] == [
        ("twilio", sender, "You said: Is the Gizmo red?")
    ]
    assert len(model.chat_requests) == 1
    assert InboundMessage.objects.filter(channel=channel).count() == 1
    (message,) = messages_shown(owner, channel)
    assert message["status"] == "answered"
    assert [(reply["status"], reply["attempts"]) for reply in message["replies"]] == [("sent", 1)]


# --- 4. the provider refusing a send -------------------------------------------------------------
def ask_once(channel: Channel, web: httpx.Client, message_id: str = "wamid.R1") -> None:
    response = post_whatsapp(web, channel, wa_delivery(wa_change([wa_message(message_id, ADA, "Price?")])))
    assert response.status_code == 200, response.text


def test_a_send_refused_for_a_while_is_retried_until_the_provider_takes_it(
    worker: Worker, model: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    model.respond_with(lambda request: text_reply(ANSWER))
    channel = set_up(owner, whatsapp_manifest(provider_api))
    refusals = SEND_ATTEMPTS - 1
    provider_api.refuse(refusals, 503, TEMPORARY)

    ask_once(channel, web)

    sent_replies(provider_api, refusals + 1)
    settled()
    sends = provider_api.sends
    assert [(send.to, send.text, send.status) for send in sends] == [(ADA, ANSWER, 503)] * refusals + [
        (ADA, ANSWER, 200)
    ]
    assert len(model.chat_requests) == 1  # a retry sends the stored answer again, it never asks again
    (message,) = messages_shown(owner, channel)
    assert message["status"] == "answered"
    assert message["replies"] == [
        {
            "part": 1,
            "status": "sent",
            "providerMessageId": sends[-1].provider_id,
            "attempts": refusals + 1,
            "errorCode": None,
            "error": None,
            "text": ANSWER,
        }
    ]


def test_a_send_refused_on_every_attempt_fails_with_the_providers_error_and_no_secret(
    worker: Worker, model: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    model.respond_with(lambda request: text_reply(ANSWER))
    channel = set_up(owner, whatsapp_manifest(provider_api))
    provider_api.refuse(SEND_ATTEMPTS + 2, 503, TEMPORARY)

    ask_once(channel, web)

    sent_replies(provider_api, SEND_ATTEMPTS)
    settled()
    assert [send.status for send in provider_api.sends] == [503] * SEND_ATTEMPTS
    (message,) = messages_shown(owner, channel)
    (reply,) = message["replies"]
    assert (reply["status"], reply["attempts"], reply["providerMessageId"]) == ("failed", SEND_ATTEMPTS, None)
    assert (reply["errorCode"], reply["error"]) == (
        "131000",
        "(#131000) Something went wrong sending with access token ***",
    )
    stored = InboundMessage.objects.get(channel=channel).replies.get()
    assert ACCESS_TOKEN not in stored.error and ACCESS_TOKEN not in stored.error_code


def test_a_send_refused_for_good_fails_after_one_attempt(
    worker: Worker, model: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    model.respond_with(lambda request: text_reply(ANSWER))
    channel = set_up(owner, whatsapp_manifest(provider_api))
    provider_api.refuse(1, 400, UNDELIVERABLE)

    ask_once(channel, web)

    sent_replies(provider_api, 1)
    settled()
    assert [(send.to, send.status) for send in provider_api.sends] == [(ADA, 400)]
    (message,) = messages_shown(owner, channel)
    (reply,) = message["replies"]
    assert (reply["status"], reply["attempts"]) == ("failed", 1)
    assert (reply["errorCode"], reply["error"]) == ("131026", "(#131026) Message undeliverable")


# --- 5. delivery statuses ------------------------------------------------------------------------
def test_delivery_statuses_only_move_a_reply_forward(
    worker: Worker, model: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    model.respond_with(echo)
    channel = set_up(owner, whatsapp_manifest(provider_api))
    questions = [wa_message("wamid.S1", ADA, "Hello"), wa_message("wamid.S2", BOB, "Hi")]
    assert post_whatsapp(web, channel, wa_delivery(wa_change(questions))).status_code == 200
    sent_replies(provider_api, 2)
    settled()
    reply_to = {send.to: send.provider_id for send in provider_api.sends}

    for status in ("read", "delivered", "sent"):  # out of order, as callbacks may arrive
        response = post_whatsapp(web, channel, wa_delivery(wa_change(statuses=[wa_status(reply_to[ADA], status)])))
        assert response.status_code == 200, response.text
    failed = wa_status(reply_to[BOB], "failed", code=131047, title="Re-engagement message")
    assert post_whatsapp(web, channel, wa_delivery(wa_change(statuses=[failed]))).status_code == 200

    shown = messages_shown(owner, channel)
    (ada,) = replies_of(shown, ADA)
    (bob,) = replies_of(shown, BOB)
    assert (ada["status"], ada["errorCode"], ada["error"]) == ("read", None, None)
    assert (bob["status"], bob["errorCode"], bob["error"]) == ("failed", "131047", "Re-engagement message")
    # A status is not a message: nothing more was asked or sent.
    settled()
    assert len(model.chat_requests) == len(provider_api.sends) == 2
    assert InboundMessage.objects.filter(channel=channel).count() == 2
