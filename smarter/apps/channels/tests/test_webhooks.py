"""The channels door as Meta and Twilio use it, against the served platform (eager workers: the
turn and the reply run before the webhook answers here), a stub model and stand-in provider
APIs on loopback."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.channels import services
from smarter.apps.channels.answering import (
    DAILY_NOTICE,
    MEDIA_NOTICE,
    OPTED_IN_NOTICE,
    OPTED_OUT_NOTICE,
    RATE_NOTICE,
    UNAVAILABLE_NOTICE,
)
from smarter.apps.channels.models import Channel, InboundMessage, Reply
from smarter.apps.channels.selectors import webhook_url
from smarter.apps.channels.tests.support import (
    ACCESS_TOKEN,
    ACCOUNT_SID,
    APP_SECRET,
    AUTH_TOKEN,
    VERIFY_TOKEN,
    post_twilio,
    post_whatsapp,
    set_up,
    twilio_inbound,
    twilio_manifest,
    wa_change,
    wa_delivery,
    wa_message,
    wa_status,
    whatsapp_manifest,
)
from smarter.apps.chat.models import Chat
from smarter.testing.messaging_stub import MessagingStub, meta_signature, twilio_signature
from smarter.testing.openai_stub import OpenAIStub, RecordedRequest, ScriptedReply, error_reply, text_reply


@pytest.fixture
def acme(asgi_server: Any) -> Any:
    return make_account("Acme")


@pytest.fixture
def owner(acme: Any) -> Persona:
    return make_persona(acme, "owner", Role.ADMIN)


def echo(request: RecordedRequest) -> ScriptedReply:
    return text_reply(f"You said: {request.messages[-1]['content']}")


def test_a_whatsapp_message_gets_one_reply_with_the_answer(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    platform_upstream.respond_with(echo)
    channel = set_up(owner, whatsapp_manifest(provider_api))

    response = post_whatsapp(web, channel, wa_delivery(wa_change([wa_message("wamid.A1", "15551230001", "Hi")])))

    assert response.status_code == 200, response.text
    assert provider_api.wait_for(lambda: len(provider_api.sends) == 1)
    (send,) = provider_api.sends
    assert (send.provider, send.to, send.text) == ("whatsapp", "15551230001", "You said: Hi")
    assert send.authorization == f"Bearer {ACCESS_TOKEN}"
    assert send.body["context"] == {"message_id": "wamid.A1"}
    message = InboundMessage.objects.get(channel=channel)
    assert message.status == "answered"
    reply = Reply.objects.get(inbound=message)
    assert (reply.status, reply.provider_message_id) == ("sent", send.provider_id)
    assert Chat.objects.get(session_key=message.session_key).channel == "whatsapp"


def test_a_twilio_sms_gets_one_reply_with_the_answer(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    platform_upstream.respond_with(echo)
    channel = set_up(owner, twilio_manifest(provider_api))

    response = post_twilio(web, channel, twilio_inbound("SM" + "a" * 32, "+15550001111", "Hello"))

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    assert provider_api.wait_for(lambda: len(provider_api.sends) == 1)
    (send,) = provider_api.sends
    assert (send.provider, send.to, send.text) == ("twilio", "+15550001111", "You said: Hello")
    assert send.body["From"] == "+15557654321"
    assert Channel.objects.get(pk=channel.pk).type == "twilio"


# --- proof of origin: nothing is stored without it ------------------------------------------------
def nothing_stored(channel: Channel, provider_api: MessagingStub, upstream: OpenAIStub) -> None:
    assert InboundMessage.objects.filter(channel=channel).count() == 0
    assert Chat.objects.count() == 0
    assert provider_api.sends == []
    assert upstream.chat_requests == []


BODY = wa_delivery(wa_change([wa_message("wamid.S1", "15551230001", "Hi")]))


@pytest.mark.parametrize(
    "signature",
    [
        "",  # missing
        "sha256=",
        "sha256=zz" + "0" * 62,
        "sha1=" + meta_signature(BODY, APP_SECRET).removeprefix("sha256=")[:40],
        meta_signature(BODY, APP_SECRET).removeprefix("sha256="),  # without the scheme
        meta_signature(BODY, "another-apps-secret"),
        meta_signature(BODY + b" ", APP_SECRET),  # a signature of other bytes
        meta_signature(BODY, APP_SECRET)[:-1],  # one digit short
        meta_signature(BODY, APP_SECRET) + "0",
        meta_signature(BODY, APP_SECRET) + ",sha256=" + "0" * 64,
        meta_signature(BODY, ""),  # keyed by an empty secret
    ],
    # Named, not shown: the body (and so each signature) holds the time it was built.
    ids=[
        "missing",
        "empty-digest",
        "not-hex",
        "sha1",
        "no-scheme",
        "other-secret",
        "other-bytes",
        "short",
        "long",
        "two-signatures",
        "empty-key",
    ],
)
def test_a_whatsapp_delivery_without_a_valid_signature_is_refused_and_nothing_is_stored(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client, signature: str
) -> None:
    channel = set_up(owner, whatsapp_manifest(provider_api))

    response = post_whatsapp(web, channel, BODY, signature=signature)

    assert response.status_code == 403, response.text
    assert response.json()["errorClass"] == "PermissionDenied"
    nothing_stored(channel, provider_api, platform_upstream)


def test_a_tampered_body_is_refused_whatever_its_signature_said(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    channel = set_up(owner, whatsapp_manifest(provider_api))
    tampered = BODY.replace(b'"Hi"', b'"Ho"')

    response = post_whatsapp(web, channel, tampered, signature=meta_signature(BODY, APP_SECRET))

    assert response.status_code == 403
    nothing_stored(channel, provider_api, platform_upstream)


def test_a_channel_that_is_not_ready_refuses_every_delivery(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    document = whatsapp_manifest(provider_api)
    del document["spec"]["config"]["appSecret"]
    channel = set_up(owner, document)

    for signature in (meta_signature(BODY, ""), None, ""):
        response = post_whatsapp(web, channel, BODY, signature=signature, secret="")
        assert response.status_code == 403
        assert "not ready (it lacks spec.config.appSecret)" in response.json()["description"]
    nothing_stored(channel, provider_api, platform_upstream)


def test_a_flood_of_unsigned_posts_gets_429_and_never_spends_the_channels_own_limit(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client, smarter_settings: Any
) -> None:
    smarter_settings.rate_limit_channel_webhook_per_minute = 5
    smarter_settings.rate_limit_channel_refusals_per_minute = 3  # one every 20 s: none comes back here
    channel = set_up(owner, whatsapp_manifest(provider_api))

    answers = [post_whatsapp(web, channel, BODY, signature="sha256=" + "0" * 64) for _ in range(5)]

    assert [answer.status_code for answer in answers] == [403, 403, 403, 429, 429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert post_whatsapp(web, channel, BODY).status_code == 200  # a proven delivery still gets in
    assert InboundMessage.objects.filter(channel=channel).count() == 1


def test_a_malformed_whatsapp_delivery_is_a_400_at_its_field_and_nothing_is_stored(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    channel = set_up(owner, whatsapp_manifest(provider_api))
    good = wa_message("wamid.M1", "15551230001", "Hi")
    cases: list[tuple[bytes, str]] = [
        (b"{not json", "(root)"),
        (b"[]", "(root)"),
        (b'{"object": "page", "entry": []}', "object"),
        (b'{"object": "whatsapp_business_account", "entry": {}}', "entry"),
        (b'{"object": "whatsapp_business_account", "entry": [{"changes": [7]}]}', "entry[0].changes[0]"),
        (wa_delivery(wa_change([good, {**good, "id": None}])), "entry[0].changes[0].value.messages[1].id"),
        (wa_delivery(wa_change([{**good, "from": "9" * 65}])), "entry[0].changes[0].value.messages[0].from"),
        (b"\xff\xfe", "(root)"),
    ]
    for body, loc in cases:
        response = post_whatsapp(web, channel, body)
        assert response.status_code == 400, (body, response.text)
        assert [error["loc"] for error in response.json()["errors"]] == [loc]
    nothing_stored(channel, provider_api, platform_upstream)


def test_metas_subscription_handshake_echoes_the_challenge_only_for_the_verify_token(
    provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    channel = set_up(owner, whatsapp_manifest(provider_api))
    path = f"/webhooks/{channel.public_id}/"
    subscribe = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}

    accepted = web.get(path, params={**subscribe, "hub.verify_token": VERIFY_TOKEN})

    assert (accepted.status_code, accepted.text) == (200, "1158201444")
    assert accepted.headers["content-type"].startswith("text/plain")
    for params in (
        {**subscribe, "hub.verify_token": "wrong"},
        {**subscribe, "hub.verify_token": ""},
        subscribe,
        {**subscribe, "hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN},
    ):
        assert web.get(path, params=params).status_code == 403


def test_an_unknown_webhook_address_is_not_found_and_other_methods_are_refused(
    provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    channel = set_up(owner, twilio_manifest(provider_api))

    assert web.post("/webhooks/AAAAAAAAAAAAAAAAAAAAAAAA/", content=BODY).status_code == 404
    assert web.put(f"/webhooks/{channel.public_id}/", content=BODY).status_code == 405
    assert web.get(f"/webhooks/{channel.public_id}/", params={"hub.mode": "subscribe"}).status_code == 405


@pytest.mark.parametrize("how", ["missing", "other token", "request url", "tampered", "extra param", "garbage"])
def test_a_twilio_delivery_without_a_valid_signature_is_refused_and_nothing_is_stored(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client, how: str
) -> None:
    channel = set_up(owner, twilio_manifest(provider_api))
    params = twilio_inbound("SM" + "b" * 32, "+15550001111", "Hello")
    good = twilio_signature(webhook_url(channel), params, AUTH_TOKEN)
    signature = {
        "missing": "",
        "other token": twilio_signature(webhook_url(channel), params, "not-the-token"),
        # Signed for the address the request reached, not the configured one: refused.
        "request url": twilio_signature(f"{web.base_url}/webhooks/{channel.public_id}/", params, AUTH_TOKEN),
        "tampered": good,
        "extra param": good,
        "garbage": "%%%not-base64%%%",
    }[how]
    sent = dict(params)
    if how == "tampered":
        sent["Body"] = "Give me a refund"
    if how == "extra param":
        sent["MediaUrl0"] = "https://evil.example/x.png"

    response = post_twilio(web, channel, sent, signature=signature)

    assert response.status_code == 403, response.text
    nothing_stored(channel, provider_api, platform_upstream)


def test_twilio_is_checked_against_the_public_url_when_a_proxy_changes_the_address(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    document = twilio_manifest(provider_api)
    document["spec"]["config"]["publicUrl"] = "https://chat.acme.example/hooks/sms"
    channel = set_up(owner, document)
    params = twilio_inbound("SM" + "c" * 32, "+15550001111", "Hello")

    on_own_host = post_twilio(web, channel, params, signed_url=webhook_url(channel))
    as_twilio_called = post_twilio(web, channel, params, signed_url="https://chat.acme.example/hooks/sms")

    assert on_own_host.status_code == 403
    assert as_twilio_called.status_code == 200
    assert provider_api.wait_for(lambda: len(provider_api.sends) == 1)
    assert provider_api.sends[0].body["StatusCallback"] == "https://chat.acme.example/hooks/sms"


def test_a_malformed_twilio_delivery_is_a_400_and_nothing_is_stored(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    channel = set_up(owner, twilio_manifest(provider_api))
    for params, loc in (
        ({"From": "+15550001111", "Body": "no sid"}, "SmsSid"),
        ({**twilio_inbound("SM" + "d" * 32, "+1555", "x"), "From": ""}, "From"),
        ({**twilio_inbound("SM" + "d" * 32, "+1555", "x"), "NumMedia": "lots"}, "NumMedia"),
    ):
        response = post_twilio(web, channel, params)
        assert response.status_code == 400, response.text
        assert [error["loc"] for error in response.json()["errors"]] == [loc]
    json_body = post_twilio(web, channel, {}, signature=twilio_signature(webhook_url(channel), {}, AUTH_TOKEN))
    assert json_body.status_code == 400
    nothing_stored(channel, provider_api, platform_upstream)


# --- every message once, in its sender's conversation --------------------------------------------
def test_a_batched_delivery_answers_every_message_of_every_entry_and_change_once(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    platform_upstream.respond_with(echo)
    channel = set_up(owner, whatsapp_manifest(provider_api, limits={"perMinute": 0, "perDay": 0}))
    changes = [wa_change([wa_message(f"wamid.B{c}{m}", f"1555000{c}", f"q{c}{m}") for m in range(2)]) for c in range(4)]
    elsewhere = wa_change([wa_message("wamid.OTHER", "15559999", "not ours")], phone_number_id="999")
    body = wa_delivery(*changes, elsewhere, entries=2)

    first = post_whatsapp(web, channel, body)
    replayed = post_whatsapp(web, channel, body)

    assert (first.status_code, replayed.status_code) == (200, 200)
    assert provider_api.wait_for(lambda: len(provider_api.sends) == 8)
    assert sorted((send.to, send.text) for send in provider_api.sends) == sorted(
        (f"1555000{c}", f"You said: q{c}{m}") for c in range(4) for m in range(2)
    )
    assert InboundMessage.objects.filter(channel=channel).count() == 8
    assert len(platform_upstream.chat_requests) == 8
    # One conversation per sender: the second message of a sender continues the first.
    assert Chat.objects.filter(channel="whatsapp").count() == 4
    second = [r for r in platform_upstream.chat_requests if r.messages[-1]["content"] == "q01"]
    assert [m["content"] for m in second[0].messages if m["role"] != "system"] == ["q00", "You said: q00", "q01"]


def test_a_long_answer_is_sent_in_parts_no_longer_than_the_providers_limit(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    paragraph = "Gizmos are sturdy. " * 120  # 2,280 characters
    answer = "\n\n".join(paragraph.strip() for _ in range(4))
    platform_upstream.enqueue(text_reply(answer))
    channel = set_up(owner, whatsapp_manifest(provider_api))

    post_whatsapp(web, channel, wa_delivery(wa_change([wa_message("wamid.L1", "15551230001", "Tell me all")])))

    assert provider_api.wait_for(lambda: len(provider_api.sends) >= 3)
    texts = [send.text for send in provider_api.sends]
    assert all(len(text) <= 4096 for text in texts)
    assert "\n\n".join(texts) == answer
    assert [reply.part for reply in Reply.objects.filter(channel=channel)] == list(range(1, len(texts) + 1))
    assert [send.body.get("context") for send in provider_api.sends][1:] == [None] * (len(texts) - 1)


# --- what a sender can do, and what they are told ---------------------------------------------------
def deliver(web: httpx.Client, channel: Channel, wamid: str, text: str, **options: Any) -> None:
    message = wa_message(wamid, "15551230001", text, **options)
    assert post_whatsapp(web, channel, wa_delivery(wa_change([message]))).status_code == 200


def test_stop_stops_every_reply_and_start_resumes_them(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    platform_upstream.respond_with(echo)
    channel = set_up(owner, whatsapp_manifest(provider_api))

    deliver(web, channel, "wamid.O1", "stop")
    deliver(web, channel, "wamid.O2", "Are you there?")
    deliver(web, channel, "wamid.O3", "START")
    deliver(web, channel, "wamid.O4", "Hello again")

    assert provider_api.wait_for(lambda: len(provider_api.sends) == 3)
    stopped = f"{OPTED_OUT_NOTICE} Send START to get answers again."
    assert [send.text for send in provider_api.sends] == [stopped, OPTED_IN_NOTICE, "You said: Hello again"]
    assert [m["content"] for m in platform_upstream.chat_requests[0].messages if m["role"] == "user"] == ["Hello again"]
    statuses = dict(InboundMessage.objects.filter(channel=channel).values_list("provider_message_id", "status"))
    assert statuses == {"wamid.O1": "ignored", "wamid.O2": "ignored", "wamid.O3": "answered", "wamid.O4": "answered"}


def test_media_is_answered_from_its_caption_or_with_the_text_only_notice(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    platform_upstream.respond_with(echo)
    channel = set_up(owner, whatsapp_manifest(provider_api))

    deliver(web, channel, "wamid.P1", "", kind="image", id="img1", mime_type="image/jpeg")
    deliver(web, channel, "wamid.P2", "", kind="image", id="img2", caption="Is this a Gizmo?")
    deliver(web, channel, "wamid.P3", "", kind="reaction", emoji="👍")

    assert provider_api.wait_for(lambda: len(provider_api.sends) == 2)
    assert [send.text for send in provider_api.sends] == [MEDIA_NOTICE, "You said: Is this a Gizmo?"]
    assert len(platform_upstream.chat_requests) == 1


def test_a_sender_over_their_limits_is_told_once_and_not_answered(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    platform_upstream.respond_with(echo)
    channel = set_up(owner, whatsapp_manifest(provider_api, limits={"perMinute": 2, "perDay": 0}))

    for number in range(4):
        deliver(web, channel, f"wamid.R{number}", f"q{number}")

    assert provider_api.wait_for(lambda: len(provider_api.sends) == 3)
    assert [send.text for send in provider_api.sends] == ["You said: q0", "You said: q1", RATE_NOTICE]
    assert len(platform_upstream.chat_requests) == 2
    refused = InboundMessage.objects.filter(channel=channel, status="refused").count()
    assert refused == 2


def test_a_sender_past_the_daily_limit_is_told_once_a_day(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    platform_upstream.respond_with(echo)
    channel = set_up(owner, whatsapp_manifest(provider_api, limits={"perMinute": 0, "perDay": 1}))

    for number in range(3):
        deliver(web, channel, f"wamid.D{number}", f"q{number}")

    assert provider_api.wait_for(lambda: len(provider_api.sends) == 2)
    assert [send.text for send in provider_api.sends] == ["You said: q0", DAILY_NOTICE]
    assert len(platform_upstream.chat_requests) == 1


def test_a_reply_after_the_24_hour_window_is_refused_with_the_rule_named(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    platform_upstream.respond_with(echo)
    channel = set_up(owner, whatsapp_manifest(provider_api))

    # Meta redelivers for days: a message written 25 hours ago arrives now.
    deliver(web, channel, "wamid.W1", "Still there?", sent_at=time.time() - 25 * 3600)

    reply = Reply.objects.get(channel=channel)
    assert (reply.status, reply.error_code) == ("failed", "24h-window")
    assert "within 24 hours of the customer's last message" in reply.error
    assert provider_api.sends == []


def test_an_upstream_failure_tells_the_sender_and_marks_the_message_failed(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    platform_upstream.enqueue(error_reply(500, "the model fell over"))
    channel = set_up(owner, whatsapp_manifest(provider_api))

    deliver(web, channel, "wamid.U1", "Hello?")

    assert provider_api.wait_for(lambda: len(provider_api.sends) == 1)
    assert provider_api.sends[0].text == UNAVAILABLE_NOTICE
    message = InboundMessage.objects.get(channel=channel)
    assert message.status == "failed"
    assert message.detail.startswith("502")


def test_a_refused_send_is_failed_with_the_providers_code_and_no_secret_in_it(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    platform_upstream.respond_with(echo)
    channel = set_up(owner, whatsapp_manifest(provider_api))
    provider_api.refuse(
        1, 400, {"error": {"message": f"Invalid token {ACCESS_TOKEN}", "type": "OAuthException", "code": 190}}
    )

    deliver(web, channel, "wamid.F1", "Hi")

    reply = Reply.objects.get(channel=channel)
    assert (reply.status, reply.error_code, reply.attempts) == ("failed", "190", 1)
    assert ACCESS_TOKEN not in reply.error
    assert reply.error == "Invalid token ***"
    listed = owner.client.get(f"/api/v1/channels/{channel.name}/messages/").json()["data"]["items"]
    assert listed[0]["replies"][0]["errorCode"] == "190"
    assert ACCESS_TOKEN not in json.dumps(listed)


def test_status_callbacks_only_move_a_reply_forward(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    platform_upstream.respond_with(echo)
    channel = set_up(owner, whatsapp_manifest(provider_api))
    deliver(web, channel, "wamid.T1", "Hi")
    sent_id = provider_api.sends[0].provider_id

    for status in ("read", "delivered", "sent"):
        change = wa_change(statuses=[wa_status(sent_id, status)])
        assert post_whatsapp(web, channel, wa_delivery(change)).status_code == 200

    assert Reply.objects.get(channel=channel).status == "read"


def test_a_replayed_twilio_message_is_answered_once_and_its_status_callbacks_move_forward(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    platform_upstream.respond_with(echo)
    channel = set_up(owner, twilio_manifest(provider_api))
    params = twilio_inbound("SM" + "e" * 32, "+15550001111", "Hello")

    assert [post_twilio(web, channel, params).status_code for _ in range(3)] == [200, 200, 200]

    assert len(provider_api.sends) == 1
    sid = provider_api.sends[0].provider_id
    callbacks = [
        {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "MessageStatus": status, **extra}
        for status, extra in (("delivered", {}), ("sent", {}), ("queued", {}))
    ]
    for callback in callbacks:
        assert post_twilio(web, channel, callback).status_code == 200
    assert Reply.objects.get(channel=channel).status == "delivered"
    failed = {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    assert post_twilio(web, channel, failed).status_code == 200
    reply = Reply.objects.get(channel=channel)
    assert (reply.status, reply.error_code, reply.error) == ("failed", "30003", "Twilio error 30003")
    assert len(platform_upstream.chat_requests) == 1


def test_the_sweep_hands_over_what_no_worker_took_and_answers_it_once(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona
) -> None:
    platform_upstream.respond_with(echo)
    channel = set_up(owner, whatsapp_manifest(provider_api))
    long_ago = timezone.now() - timedelta(minutes=20)
    lost = InboundMessage.objects.create(
        channel=channel, provider_message_id="wamid.LOST", sender="15551230001", text="Lost?", received_at=long_ago
    )
    InboundMessage.objects.create(  # claimed by a worker that died 20 minutes ago
        channel=channel,
        provider_message_id="wamid.DEAD",
        sender="15551230002",
        text="Dead?",
        status="answering",
        claimed_at=long_ago,
        received_at=long_ago,
    )
    InboundMessage.objects.create(  # just received: its task is on its way
        channel=channel, provider_message_id="wamid.NEW", sender="15551230003", text="New?"
    )

    assert services.inbound_sweep() == 2
    assert services.inbound_sweep() == 0

    assert sorted((send.to, send.text) for send in provider_api.sends) == [
        ("15551230001", "You said: Lost?"),
        ("15551230002", "You said: Dead?"),
    ]
    assert InboundMessage.objects.get(pk=lost.pk).status == "answered"
    assert InboundMessage.objects.get(provider_message_id="wamid.NEW").status == "received"
