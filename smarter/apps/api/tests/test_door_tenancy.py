"""The tenancy and role matrix over every door that is not a cli verb: plugin tests (every plugin
class), REST chat and config, the OpenAI door (its lean path and Django's), the cli chat verbs,
usage, chatbot versions, the journal, and the console's sandbox and version pages.

The owner (admin of Acme) and the teammate (member of Acme) are answered where their role
allows; the outsider (admin of Globex) gets 404 for every one of Acme's resources and changes
nothing; served by uvicorn, so the async doors run as in production.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import Client

from smarter.apps.account.tests.factories import Persona
from smarter.apps.api.tests.helpers import database_snapshot
from smarter.apps.api.tests.matrix import World, build_world, plugin_kinds
from smarter.apps.chat.models import Chat
from smarter.apps.chatbot import versions
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.plugin.tests.servers import loopback_server

pytestmark = pytest.mark.django_db(transaction=True)

CSRF = "c" * 32
CHATBOT = "support"
PROMPT = {"prompt": "What does an Everlasting Gobstopper cost?"}


@pytest.fixture
def world(
    asgi_server: Any, owner: Persona, teammate: Persona, outsider: Persona, smarter_settings: Any, tmp_path: Path
) -> Iterator[World]:
    smarter_settings.plugin_data_dir = str(tmp_path)
    smarter_settings.allow_private_hosts = True
    smarter_settings.llm_provider = "offline"
    with loopback_server() as server:
        yield build_world(owner, teammate, server.url)


@pytest.fixture
def http(asgi_server: Any) -> Iterator[Any]:
    clients: list[httpx.Client] = []

    def client_of(persona: Persona, console: bool = False) -> httpx.Client:
        headers = {"Authorization": f"Token {persona.key}"}
        cookies = {}
        if console:
            browser = Client()
            browser.force_login(persona.user)  # type: ignore[arg-type]
            headers = {"X-CSRFToken": CSRF}
            cookies = {"sessionid": browser.cookies["sessionid"].value, "csrftoken": CSRF}
        client = httpx.Client(base_url=asgi_server.url, headers=headers, cookies=cookies, timeout=30)
        clients.append(client)
        return client

    yield client_of
    for client in clients:
        client.close()


def not_found(response: httpx.Response) -> None:
    assert response.status_code == 404, (response.request.url, response.status_code, response.text[:300])
    assert response.json()["errorClass"] == "NotFound"


def outsider_changes_nothing(requests: list[Any]) -> None:
    """Each request of the outsider answers 404 and leaves every row as it was."""
    before = database_snapshot()
    for request in requests:
        not_found(request())
    assert database_snapshot() == before


@pytest.mark.parametrize("kind", plugin_kinds())
def test_a_plugin_test_is_run_for_the_account_and_404_for_another(
    world: World, outsider: Persona, http: Any, kind: str
) -> None:
    name = world.resources[kind].name
    path = f"/api/v1/plugins/{name}/test/"
    for persona in (world.owner, world.teammate):
        response = http(persona).post(path, json={})
        assert response.status_code == 200, response.text
        assert "result" in response.json() or "error" in response.json()
    outsider_changes_nothing([lambda: http(outsider).post(path, json={})])


def test_rest_chat_and_config_answer_the_account_and_404_another(world: World, outsider: Persona, http: Any) -> None:
    chat, config = f"/api/v1/chatbots/{CHATBOT}/chat/", f"/api/v1/chatbots/{CHATBOT}/config/"
    for persona in (world.owner, world.teammate):
        answered = http(persona).post(chat, json=PROMPT)
        assert answered.status_code == 200, answered.text
        assert http(persona).get(config).json()["chatbot"]["name"] == CHATBOT
    session = world.resources["Chat"].name
    foreign = http(outsider)
    outsider_changes_nothing(
        [
            lambda: foreign.post(chat, json=PROMPT),
            lambda: foreign.get(config),
            lambda: foreign.post(config, json={"session_key": session}),
            lambda: foreign.post(chat, json={**PROMPT, "stream": True}),
        ]
    )


def test_a_session_of_another_account_is_unknown_even_on_a_chatbot_of_the_same_name(
    world: World, outsider: Persona, http: Any
) -> None:
    foreign = http(outsider)
    created = foreign.post(
        "/api/v1/cli/apply/",
        json={"apiVersion": "smarter.sh/v1", "kind": "Chatbot", "metadata": {"name": CHATBOT}, "spec": {}},
    )
    assert created.status_code == 200, created.text
    session = world.resources["Chat"].name
    outsider_changes_nothing(
        [
            lambda: foreign.post(f"/api/v1/chatbots/{CHATBOT}/chat/", json={**PROMPT, "session_key": session}),
            lambda: foreign.post(f"/api/v1/cli/chat/{CHATBOT}/", json={**PROMPT, "session_key": session}),
        ]
    )
    config = foreign.get(f"/api/v1/chatbots/{CHATBOT}/config/", params={"session_key": session}).json()
    assert (config["session_key"], config["history"]) == (None, [])


@pytest.mark.parametrize("path", ["/api/v1/openai/chat/completions", "/api/v1/openai/chat/completions/"])
def test_the_openai_door_answers_the_account_and_404_another(
    world: World, outsider: Persona, http: Any, path: str
) -> None:
    body = {"model": CHATBOT, "messages": [{"role": "user", "content": PROMPT["prompt"]}]}
    for persona in (world.owner, world.teammate):
        response = http(persona).post(path, json=body)
        assert response.status_code == 200, response.text
        assert response.json()["object"] == "chat.completion"
        models = [model["id"] for model in http(persona).get("/api/v1/openai/models").json()["data"]]
        assert CHATBOT in models
    foreign = http(outsider)
    outsider_changes_nothing(
        [lambda: foreign.post(path, json=body), lambda: foreign.post(path, json=body | {"stream": True})]
    )
    assert CHATBOT not in [model["id"] for model in foreign.get("/api/v1/openai/models").json()["data"]]


def test_the_cli_chat_verbs_answer_the_account_and_404_another(world: World, outsider: Persona, http: Any) -> None:
    for persona in (world.owner, world.teammate):
        client = http(persona)
        response = client.post(f"/api/v1/cli/chat/{CHATBOT}/", json=PROMPT)
        assert response.status_code == 200, response.text
        assert client.get(f"/api/v1/cli/chat/config/{CHATBOT}/").status_code == 200
    foreign = http(outsider)
    outsider_changes_nothing(
        [
            lambda: foreign.post(f"/api/v1/cli/chat/{CHATBOT}/", json=PROMPT),
            lambda: foreign.get(f"/api/v1/cli/chat/config/{CHATBOT}/"),
        ]
    )


def test_usage_counts_only_the_callers_account(world: World, outsider: Persona, http: Any) -> None:
    for persona in (world.owner, world.teammate):
        assert http(persona).post(f"/api/v1/chatbots/{CHATBOT}/chat/", json=PROMPT).status_code == 200
    for group_by in ("day", "chatbot", "model", "api_key"):
        acme = http(world.owner).get("/api/v1/usage/", params={"group_by": group_by}).json()["data"]
        mate = http(world.teammate).get("/api/v1/usage/", params={"group_by": group_by}).json()["data"]
        globex = http(outsider).get("/api/v1/usage/", params={"group_by": group_by}).json()["data"]
        assert acme["totals"]["requests"] == mate["totals"]["requests"] == 2, group_by
        assert (globex["totals"]["requests"], globex["rows"]) == (0, []), group_by


def test_chatbot_versions_answer_the_account_and_404_another(world: World, outsider: Persona, http: Any) -> None:
    chatbot = Chatbot.objects.get(account=world.owner.account, name=CHATBOT)
    numbers = [version.number for version in versions.versions_of(chatbot)]
    assert len(numbers) >= 2  # made, then given its plugin
    first, last = min(numbers), max(numbers)
    base = f"/api/v1/chatbots/{CHATBOT}/versions/"
    reads = [base, f"{base}{first}/", f"{base}{first}/diff/{last}/"]
    for persona in (world.owner, world.teammate):
        for path in reads:
            assert http(persona).get(path).status_code == 200, path
    foreign = http(outsider)
    outsider_changes_nothing(
        [*(lambda path=path: foreign.get(path) for path in reads), lambda: foreign.post(f"{base}{first}/rollback/")]
    )
    # A chatbot's configuration is a member's to change: both may roll back.
    for persona in (world.teammate, world.owner):
        response = http(persona).post(f"{base}{first}/rollback/")
        assert response.status_code == 200, response.text


def test_the_journal_is_the_admins_and_shows_only_the_account(world: World, outsider: Persona, http: Any) -> None:
    http(world.owner).get(f"/api/v1/cli/describe/chatbot/?name={CHATBOT}")
    entries = http(world.owner).get("/api/v1/journal/").json()["data"]["entries"]
    assert any(entry["command"] == "describe" and entry["name"] == CHATBOT for entry in entries)
    before = database_snapshot()
    refused = http(world.teammate).get("/api/v1/journal/")
    assert (refused.status_code, refused.json()["errorClass"]) == (403, "PermissionDenied")
    assert database_snapshot() == before
    foreign = http(outsider).get("/api/v1/journal/").json()["data"]["entries"]
    assert all(entry["name"] != CHATBOT for entry in foreign)


def test_the_console_sandbox_and_version_pages_answer_the_account_and_404_another(
    world: World, outsider: Persona, http: Any
) -> None:
    sandbox = f"/dashboard/chatbots/{CHATBOT}/sandbox/turn/"
    save = f"/dashboard/chatbots/{CHATBOT}/versions/"
    for persona in (world.owner, world.teammate):
        console = http(persona, console=True)
        turn = console.post(sandbox, json=PROMPT)
        assert turn.status_code == 200 and turn.headers["content-type"] == "text/event-stream", turn.text
        saved = console.post(save, json={"temperature": 0.1 if persona is world.owner else 0.2})
        assert saved.status_code == 200 and saved.json()["saved"], saved.text
    chatbot = Chatbot.objects.get(account=world.owner.account, name=CHATBOT)
    numbers = sorted(version.number for version in versions.versions_of(chatbot))
    first, last = numbers[0], numbers[-1]
    pages = [f"/dashboard/chatbots/{CHATBOT}/versions/{first}/diff/{last}/", f"/dashboard/chatbots/{CHATBOT}/"]
    rollback = f"/dashboard/chatbots/{CHATBOT}/versions/{first}/rollback/"
    chat_count = Chat.objects.count()
    foreign = http(outsider, console=True)
    before = database_snapshot()
    for response in (foreign.post(sandbox, json=PROMPT), foreign.post(save, json={"temperature": 0.3})):
        assert response.status_code == 404, response.text
    for path in pages:
        assert foreign.get(path).status_code == 404, path
    assert foreign.post(rollback).status_code == 404
    assert database_snapshot() == before and Chat.objects.count() == chat_count
    # The same pages, for the account's own people.
    for persona in (world.teammate, world.owner):
        console = http(persona, console=True)
        for path in pages:
            assert console.get(path).status_code == 200, path
        assert console.post(rollback).status_code == 302
