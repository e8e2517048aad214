"""The operator reads turns and tool calls in the admin, filtered by account and status, and can
neither add, change nor delete one there; the accounts' own people cannot open it at all."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from smarter.apps.account.tests.factories import Persona
from smarter.apps.chat.models import Chat, ToolCall, Turn
from smarter.apps.chatbot import services as chatbot_services

pytestmark = pytest.mark.django_db


def _turn(persona: Persona, session: str, status: str, tool_error: str = "") -> Turn:
    chatbot = chatbot_services.chatbot_create(account=persona.account, name=f"bot_{session}", plugins=[])
    chat = Chat.objects.create(session_key=session, account=persona.account, chatbot=chatbot, channel="api")
    turn = Turn.objects.create(chat=chat, index=1, provider="openai", model="gpt-4o-mini", status=status)
    ToolCall.objects.create(
        turn=turn, chat=chat, round=1, call_id=f"call_{session}", tool_name=f"tool_{session}", error=tool_error
    )
    return turn


@pytest.fixture
def turns(owner: Persona, outsider: Persona) -> dict[str, Turn]:
    return {
        "acme_ok": _turn(owner, "acmeok", Turn.Status.OK),
        "acme_failed": _turn(owner, "acmefailed", Turn.Status.ERROR, tool_error="the plugin timed out"),
        "globex_ok": _turn(outsider, "globexok", Turn.Status.OK),
    }


@pytest.fixture
def operator(owner: Persona) -> Client:
    owner.user.is_staff = owner.user.is_superuser = True
    owner.user.save()
    client = Client()
    client.force_login(owner.user)
    return client


def _listed(client: Client, url: str, marker: str) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    page = response.content.decode()
    return {name for name in ("acmeok", "acmefailed", "globexok") if f"{marker}{name}<" in page}


def test_the_operator_lists_turns_of_every_account_and_filters_them_by_account_and_status(
    operator: Client, owner: Persona, outsider: Persona, turns: dict[str, Turn]
) -> None:
    page = "/admin/chat/turn/"
    assert _listed(operator, page, 'field-chatbot">bot_') == {"acmeok", "acmefailed", "globexok"}
    assert _listed(operator, f"{page}?chat__account__id__exact={owner.account.pk}", 'field-chatbot">bot_') == {
        "acmeok",
        "acmefailed",
    }
    assert _listed(operator, f"{page}?chat__account__id__exact={outsider.account.pk}", 'field-chatbot">bot_') == {
        "globexok"
    }
    assert _listed(operator, f"{page}?status__exact=error", 'field-chatbot">bot_') == {"acmefailed"}
    assert _listed(operator, f"{page}?status__exact=ok", 'field-chatbot">bot_') == {"acmeok", "globexok"}


def test_the_operator_lists_tool_calls_and_filters_them_by_account_and_outcome(
    operator: Client, owner: Persona, outsider: Persona, turns: dict[str, Turn]
) -> None:
    page = "/admin/chat/toolcall/"
    assert _listed(operator, page, 'field-tool_name">tool_') == {"acmeok", "acmefailed", "globexok"}
    assert _listed(operator, f"{page}?chat__account__id__exact={outsider.account.pk}", 'field-tool_name">tool_') == {
        "globexok"
    }
    assert _listed(operator, f"{page}?status=error", 'field-tool_name">tool_') == {"acmefailed"}
    assert _listed(operator, f"{page}?status=ok", 'field-tool_name">tool_') == {"acmeok", "globexok"}


@pytest.mark.parametrize("model", [Turn, ToolCall])
def test_no_turn_or_tool_call_can_be_added_changed_or_deleted_in_the_admin(
    operator: Client, turns: dict[str, Turn], model: Any
) -> None:
    row = model.objects.order_by("id").first()
    before = list(model.objects.order_by("id").values())
    base = f"/admin/chat/{model._meta.model_name}/"
    changelist = operator.get(base).content.decode()
    assert f'href="{base}add/"' not in changelist
    assert operator.get(f"{base}add/").status_code == 403
    assert operator.post(f"{base}add/", {"index": 9}).status_code == 403
    # The page of one row shows it, read-only: a post changes nothing.
    view = operator.get(f"{base}{row.pk}/change/")
    assert view.status_code == 200 and 'name="_save"' not in view.content.decode()
    assert operator.post(f"{base}{row.pk}/change/", {"error": "edited"}).status_code == 403
    assert operator.get(f"{base}{row.pk}/delete/").status_code == 403
    assert operator.post(f"{base}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = operator.post(base, {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"})
    assert bulk.status_code in (200, 302)
    assert list(model.objects.order_by("id").values()) == before


@pytest.mark.parametrize("who", ["owner", "teammate", "outsider"])
@pytest.mark.parametrize("path", ["/admin/chat/turn/", "/admin/chat/toolcall/"])
def test_the_accounts_own_people_cannot_open_the_pages(
    who: str, path: str, request: pytest.FixtureRequest, turns: dict[str, Turn]
) -> None:
    persona: Persona = request.getfixturevalue(who)
    client = Client()
    client.force_login(persona.user)
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
