"""docs/channels.md runs as written: its manifests, saved under the names the page gives them,
and every command, `smarter` and curl, in order, against the platform served on loopback (eager
tasks: the turn and the reply run before the webhook answers). Where the page has a person do
something in Meta's or Twilio's console (a message sent from a phone, a delivery status), the
test signs and posts that delivery as the provider would, with the provider's REST API a
stand-in on loopback; the outputs the page shows are the outputs the commands print."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from smarter.apps.account.tests.factories import Persona
from smarter.apps.channels.models import Channel, InboundMessage, Reply
from smarter.apps.channels.tests.support import (
    apply,
    chatbot_manifest,
    post_twilio,
    post_whatsapp,
    twilio_inbound,
    wa_change,
    wa_delivery,
    wa_message,
    wa_status,
)
from smarter.testing.messaging_stub import MessagingStub
from smarter.testing.openai_stub import OpenAIStub, text_reply

ROOT = Path(__file__).resolve().parents[4]
DOC = ROOT / "docs" / "channels.md"
# The files the page asks to save its manifests as, in the order it shows them.
MANIFEST_FILES = ("whatsapp-secrets.yaml", "whatsapp.yaml", "sms.yaml")
WEBHOOK_URL = re.compile(r"https?://[^\s/\"']+/webhooks/[A-Za-z0-9_-]{8,32}/")
SESSION_KEY = re.compile(r"^[0-9a-f]{48}$")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


def manifests() -> dict[str, list[dict[str, Any]]]:
    """Each manifest file of the page, as the documents it holds."""
    texts = blocks("yaml")
    assert len(texts) == len(MANIFEST_FILES), "the page's manifests and MANIFEST_FILES disagree"
    return {name: list(yaml.safe_load_all(text)) for name, text in zip(MANIFEST_FILES, texts, strict=True)}


def secret_value(name: str) -> str:
    for documents in manifests().values():
        for document in documents:
            if document["kind"] == "Secret" and document["metadata"]["name"] == name:
                return str(document["spec"]["config"]["value"])
    raise AssertionError(f"the page applies no Secret {name!r}")


def channel_manifest(file: str) -> dict[str, Any]:
    (channel,) = [document for document in manifests()[file] if document["kind"] == "Channel"]
    return channel


def same_text(printed: str, shown: str) -> bool:
    """Equal but for the webhook URL (its host is the test server's, its id random) and the
    width of a table, which follows the URL's length."""

    def words(text: str) -> list[str]:
        return [word for word in WEBHOOK_URL.sub("WEBHOOK_URL", text).split() if set(word) != {"─"}]

    return words(printed) == words(shown)


def without(document: Any, *volatile: str) -> Any:
    """The document with the values of `volatile` keys (ids, times) left out, at any depth."""
    if isinstance(document, dict):
        return {key: "…" if key in volatile else without(value, *volatile) for key, value in document.items()}
    if isinstance(document, list):
        return [without(item, *volatile) for item in document]
    return WEBHOOK_URL.sub("WEBHOOK_URL", document) if isinstance(document, str) else document


@pytest.fixture
def shell(asgi_server: Any, owner: Persona, tmp_path: Path, smarter_settings: Any) -> dict[str, str]:
    """The environment the page's commands run in, with this checkout's `smarter` client, and
    the platform host set to the served platform so that webhook URLs reach it."""
    smarter_settings.platform_host = f"127.0.0.1:{asgi_server.port}"
    home = tmp_path / "home"
    home.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "smarter").write_text(f'#!/bin/sh\nexec {sys.executable} -m smarter_cli "$@"\n')
    (bin_dir / "smarter").chmod(0o755)
    return {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "PYTHONPATH": str(ROOT / "cli"),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "COLUMNS": "120",
        "SMARTER": asgi_server.url,
        "KEY": owner.key,
        "SMARTER_BASE_URL": asgi_server.url,
        "SMARTER_API_KEY": owner.key,
    }


def run(command: str, environment: dict[str, str], cwd: Path) -> str:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, (command, result.stdout, result.stderr)
    return result.stdout


def test_every_documented_command_runs_as_written_and_prints_what_the_page_shows(
    platform_upstream: OpenAIStub,
    provider_api: MessagingStub,
    owner: Persona,
    web: httpx.Client,
    shell: dict[str, str],
    tmp_path: Path,
) -> None:
    for tool in ("curl", "jq"):
        if shutil.which(tool, path="/usr/bin:/bin") is None:
            pytest.skip(f"needs {tool} in /usr/bin or /bin")
    for name, text in zip(MANIFEST_FILES, blocks("yaml"), strict=True):
        (tmp_path / name).write_text(text, encoding="utf-8")
    apply(owner, chatbot_manifest("demo"))  # what `make run` seeds
    shown_messages = json.loads(blocks("json")[1])["data"]["items"][0]
    platform_upstream.respond_with(lambda request: text_reply(shown_messages["replies"][0]["text"]))

    commands = blocks("bash")
    assert len(commands) == 9, "a command was added or removed: say here what the test does before it"
    printed = []
    for command in commands:
        if "/messages/" in command:
            the_customer_writes_and_reads_the_answer(web, provider_api, shown_messages)
        if "/usage/" in command:
            an_sms_is_answered(web, provider_api)
        printed.append(run(command, shell, tmp_path))
    applied, described, listed, handshake, unsigned, messages, sms_applied, sms_status, usage = printed

    texts = blocks("text")
    jsons = [json.loads(text) for text in blocks("json")]
    assert applied == texts[0]
    assert same_text(described, texts[1])
    assert yaml.safe_load(described)["status"]["missing"] == []
    assert same_text(listed, texts[2])
    assert handshake.strip() == texts[3].strip() == "1158201444"
    assert without(json.loads(unsigned), "requestId") == without(jsons[0], "requestId")
    volatile = ("id", "providerMessageId", "sessionKey", "receivedAt", "answeredAt")
    (item,) = json.loads(messages)["data"]["items"]
    assert without(item, *volatile) == without(shown_messages, *volatile)
    assert SESSION_KEY.match(item["sessionKey"])
    assert sms_applied == texts[4]
    assert without(json.loads(sms_status)) == without(jsons[2])
    report, shown_report = json.loads(usage)["data"], jsons[3]["data"]
    assert [(row["key"], row["requests"]) for row in report["rows"]] == [
        (row["key"], row["requests"]) for row in shown_report["rows"]
    ]
    assert report["totals"]["requests"] == shown_report["totals"]["requests"] == 2
    assert report["group_by"] == "channel"
    assert [list(row) for row in report["rows"]] == [list(row) for row in shown_report["rows"]]
    assert list(report["totals"]) == list(shown_report["totals"])
    assert Channel.objects.filter(account=owner.account).count() == 2


def the_customer_writes_and_reads_the_answer(
    web: httpx.Client, provider_api: MessagingStub, shown: dict[str, Any]
) -> None:
    """A message from WhatsApp, as Meta delivers it, then the statuses of the reply (the last one
    late: a status only moves forward)."""
    channel = Channel.objects.get(name=channel_manifest("whatsapp.yaml")["metadata"]["name"])
    # The page's channel sends to Meta's Graph API; here, to its stand-in.
    Channel.objects.filter(pk=channel.pk).update(graph_base_url=provider_api.graph_url)
    app_secret = secret_value(channel_manifest("whatsapp.yaml")["spec"]["config"]["appSecret"])
    phone_number_id = channel_manifest("whatsapp.yaml")["spec"]["config"]["phoneNumberId"]
    message = wa_message(shown["providerMessageId"], shown["sender"], shown["text"])
    response = post_whatsapp(
        web, channel, wa_delivery(wa_change([message], phone_number_id=phone_number_id)), secret=app_secret
    )
    assert (response.status_code, response.json()) == (200, {"received": True})
    (send,) = provider_api.sends
    assert (send.to, send.text) == (shown["sender"], shown["replies"][0]["text"])
    for status in ("delivered", "read", "delivered"):
        delivery = wa_delivery(
            wa_change(statuses=[wa_status(send.provider_id, status)], phone_number_id=phone_number_id)
        )
        assert post_whatsapp(web, channel, delivery, secret=app_secret).status_code == 200
    assert Reply.objects.get(channel=channel).status == "read"


def an_sms_is_answered(web: httpx.Client, provider_api: MessagingStub) -> None:
    config = channel_manifest("sms.yaml")["spec"]["config"]
    channel = Channel.objects.get(name=channel_manifest("sms.yaml")["metadata"]["name"])
    Channel.objects.filter(pk=channel.pk).update(api_base_url=provider_api.twilio_url)
    params = twilio_inbound("SM" + "5" * 32, "+16505550123", "Do you ship to Canada?", AccountSid=config["accountSid"])
    response = post_twilio(web, channel, params, token=secret_value(config["authToken"]))
    assert response.status_code == 200, response.text
    assert InboundMessage.objects.get(channel=channel).status == "answered"
    assert provider_api.sends[-1].to == "+16505550123"


def describe(persona: Persona, name: str) -> dict[str, Any]:
    response = persona.client.get(f"/api/v1/cli/describe/channel/?name={name}")
    assert response.status_code == 200, response.content
    return dict(response.json()["data"])


def without_secrets(channel: dict[str, Any]) -> dict[str, Any]:
    config = {
        key: value
        for key, value in channel["spec"]["config"].items()
        if key not in ("accessToken", "appSecret", "verifyToken", "authToken")
    }
    return {**channel, "spec": {**channel["spec"], "config": config}}


def test_a_channel_applied_without_its_secrets_says_what_it_lacks_and_refuses_every_delivery(
    asgi_server: Any, owner: Persona, web: httpx.Client
) -> None:
    apply(owner, chatbot_manifest("demo"))
    channel = without_secrets(channel_manifest("whatsapp.yaml"))
    assert apply(owner, channel)["applied"] == "created"

    status = describe(owner, "demo_whatsapp")["status"]
    assert (status["ready"], status["missing"]) == (
        False,
        ["spec.config.accessToken", "spec.config.appSecret", "spec.config.verifyToken"],
    )
    stored = Channel.objects.get(name="demo_whatsapp")
    body = wa_delivery(wa_change([wa_message("wamid.X1", "16505551234", "Hi")]))
    refused = post_whatsapp(web, stored, body, secret="anything")
    assert refused.status_code == 403
    assert refused.json()["description"] == (
        "This channel is not ready (it lacks spec.config.accessToken, spec.config.appSecret, "
        "spec.config.verifyToken): it takes no delivery until then."
    )
    handshake = web.get(
        f"/webhooks/{stored.public_id}/",
        params={"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"},
    )
    assert handshake.status_code == 403
    assert not InboundMessage.objects.exists()


def test_a_twilio_channel_checks_signatures_against_public_url_and_sends_status_callbacks_there(
    platform_upstream: OpenAIStub, provider_api: MessagingStub, owner: Persona, web: httpx.Client
) -> None:
    platform_upstream.respond_with(lambda request: text_reply("We ship to Canada."))
    secret, channel = manifests()["sms.yaml"]
    public_url = "https://sms.example.com/smarter/webhooks/Qm7cT0pW4xVb9nKs2LhRz8dA/"
    channel["spec"]["config"].update(publicUrl=public_url, apiBaseUrl=provider_api.twilio_url)
    apply(owner, chatbot_manifest("demo"))
    apply(owner, secret)
    apply(owner, channel)
    stored = Channel.objects.get(name="demo_sms")
    token = secret_value("twilio_auth_token")
    account_sid = channel["spec"]["config"]["accountSid"]

    seen_by_the_platform = describe(owner, "demo_sms")["status"]["webhookUrl"]
    params = twilio_inbound("SM" + "1" * 32, "+16505550123", "Do you ship?", AccountSid=account_sid)
    refused = post_twilio(web, stored, params, token=token, signed_url=seen_by_the_platform)
    assert refused.status_code == 403
    assert refused.json()["description"] == (
        "The delivery is not signed by the provider: X-Twilio-Signature does not match publicUrl and the body."
    )
    assert not InboundMessage.objects.exists()

    taken = post_twilio(web, stored, params, token=token, signed_url=public_url)
    assert (taken.status_code, taken.headers["content-type"].split(";")[0]) == (200, "text/xml")
    (send,) = provider_api.sends
    assert (send.to, send.text, send.body["StatusCallback"]) == ("+16505550123", "We ship to Canada.", public_url)


def test_a_member_changes_what_the_page_says_a_member_may_and_nothing_else(
    asgi_server: Any, owner: Persona, teammate: Persona
) -> None:
    apply(owner, chatbot_manifest("demo"))
    for document in [*manifests()["whatsapp-secrets.yaml"], channel_manifest("whatsapp.yaml")]:
        apply(owner, document)
    channel = channel_manifest("whatsapp.yaml")

    slower = {**channel, "spec": {**channel["spec"], "limits": {"perMinute": 3, "perDay": 50}}}
    assert apply(teammate, slower)["applied"] == "updated"
    elsewhere = json.loads(json.dumps(slower))
    elsewhere["spec"]["config"]["phoneNumberId"] = "999999999999999"
    refusals = [
        teammate.client.post("/api/v1/cli/apply/", elsewhere, format="json"),
        teammate.client.post("/api/v1/cli/apply/", without_secrets(slower), format="json"),
        teammate.client.post("/api/v1/cli/delete/channel/?name=demo_whatsapp"),
    ]
    assert [response.status_code for response in refusals] == [403, 403, 403]
    assert [error["loc"] for error in refusals[0].json()["errors"]] == ["spec.config.phoneNumberId"]
    assert describe(owner, "demo_whatsapp")["spec"]["limits"] == {"perMinute": 3, "perDay": 50}
    assert describe(owner, "demo_whatsapp")["spec"]["config"]["phoneNumberId"] == "106540352242922"

    own = without_secrets({**channel, "metadata": {"name": "members_whatsapp"}})
    assert apply(teammate, own)["applied"] == "created"
    assert teammate.client.post("/api/v1/cli/delete/channel/?name=members_whatsapp").status_code == 200
    in_use = owner.client.post("/api/v1/cli/delete/secret/?name=wa_app_secret")
    assert in_use.status_code == 409
    assert in_use.json()["context"]["usedBy"] == ["Channel demo_whatsapp"]
