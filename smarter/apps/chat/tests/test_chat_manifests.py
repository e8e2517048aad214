"""Deleting a chat session (`delete chat`) follows roles: a member forgets only the sessions she
started; an admin any of the account's; another account's answers 404; a refusal deletes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_persona
from smarter.apps.api.tests.helpers import database_snapshot
from smarter.apps.chat.models import Chat, ChatMessage, Turn
from smarter.apps.chatbot.models import Chatbot

pytestmark = pytest.mark.django_db

FORBIDDEN = "Only an account admin may delete a chat session someone else started."


@pytest.fixture
def colleague(acme: Any) -> Persona:
    return make_persona(acme, "colleague", Role.MEMBER)


@pytest.fixture
def sessions(owner: Persona, teammate: Persona, colleague: Persona) -> dict[str, str]:
    """One session per author of the Acme chatbot, each with a turn and a message: whose → key."""
    from smarter.apps.dashboard.tests.helpers import apply, chatbot

    apply(owner, chatbot("support"))
    bot = Chatbot.objects.get(account=owner.account, name="support")
    authors = {
        "owner": (owner, "api"),
        "teammate": (teammate, "cli"),
        "colleague": (colleague, "sandbox"),
        "visitor": (None, "public"),
    }
    keys = {}
    for whose, (persona, channel) in authors.items():
        chat = Chat.objects.create(
            session_key=f"{whose:x<32}",
            account=owner.account,
            chatbot=bot,
            channel=channel,
            user=persona.user if persona else None,
            api_key=persona.api_key if persona else None,
        )
        turn = Turn.objects.create(chat=chat, index=1, provider="offline", model="smarter-offline")
        ChatMessage.objects.create(chat=chat, turn=turn, sequence=1, role="user", content=f"hello from {whose}")
        keys[whose] = chat.session_key
    return keys


def delete(persona: Persona, session_key: str) -> Any:
    return persona.client.post(f"/api/v1/cli/delete/chat/?name={session_key}")


@pytest.mark.parametrize("whose", ["owner", "colleague", "visitor"])
def test_a_member_may_not_delete_a_session_someone_else_started(
    teammate: Persona, sessions: dict[str, str], whose: str
) -> None:
    before = database_snapshot()
    response = delete(teammate, sessions[whose])
    assert response.status_code == 403
    assert response.json() == {
        "errorClass": "PermissionDenied",
        "status": 403,
        "description": FORBIDDEN,
        "context": {"kind": "Chat", "name": sessions[whose], "requestId": response["X-Request-ID"]},
    }
    assert database_snapshot() == before


def test_a_member_deletes_her_own_session_and_only_it(teammate: Persona, sessions: dict[str, str]) -> None:
    response = delete(teammate, sessions["teammate"])
    assert response.status_code == 200
    assert response.json()["data"] == {"deleted": True, "name": sessions["teammate"]}
    assert sorted(Chat.objects.values_list("session_key", flat=True)) == sorted(
        key for whose, key in sessions.items() if whose != "teammate"
    )
    assert not ChatMessage.objects.filter(content="hello from teammate").exists()
    assert Turn.objects.count() == 3


@pytest.mark.parametrize("whose", ["teammate", "colleague", "visitor", "owner"])
def test_an_admin_deletes_any_session_of_the_account(owner: Persona, sessions: dict[str, str], whose: str) -> None:
    assert delete(owner, sessions[whose]).status_code == 200
    assert not Chat.objects.filter(session_key=sessions[whose]).exists()
    assert Chat.objects.count() == 3


@pytest.mark.parametrize("whose", ["owner", "teammate", "visitor"])
def test_another_accounts_admin_gets_404_and_nothing_changes(
    outsider: Persona, sessions: dict[str, str], whose: str
) -> None:
    before = database_snapshot()
    response = delete(outsider, sessions[whose])
    assert response.status_code == 404
    assert response.json()["errorClass"] == "NotFound"
    assert database_snapshot() == before


def test_the_other_chat_kinds_cannot_be_deleted_by_anyone(
    owner: Persona, teammate: Persona, sessions: dict[str, str]
) -> None:
    before = database_snapshot()
    for persona in (owner, teammate):
        for kind in ("chathistory", "chattoolcall", "chatpluginusage"):
            response = persona.client.post(f"/api/v1/cli/delete/{kind}/?name={sessions['teammate']}")
            assert response.status_code == 400, (kind, response.content)
    assert database_snapshot() == before
