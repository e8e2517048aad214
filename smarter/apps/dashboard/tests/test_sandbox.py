"""The sandbox's turn endpoint: one streamed turn through the turn pipeline, with the session's
overrides and never a change to the saved chatbot; and the inspector's view of a turn."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from django.test import Client

from smarter.apps.account.tests.factories import Persona
from smarter.apps.chat.models import Chat, Turn
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.dashboard.tests.helpers import shop, signed_in

# The endpoint does its database work in other threads, which see only committed rows.
pytestmark = pytest.mark.django_db(transaction=True)

TURN_URL = "/dashboard/chatbots/shop/sandbox/turn/"


CSRF_SECRET = "a" * 32


class Bench:
    """A signed-in console session against the platform served by uvicorn (real streaming)."""

    def __init__(self, server: Any, client: Client) -> None:
        self.server = server
        self.client = client
        self.cookies = {"sessionid": client.cookies["sessionid"].value, "csrftoken": CSRF_SECRET}

    def post(self, path: str, body: dict[str, Any], csrf: bool = True) -> httpx.Response:
        headers = {"X-CSRFToken": CSRF_SECRET} if csrf else {}
        with httpx.Client(base_url=self.server.url, cookies=self.cookies, timeout=30) as http:
            return http.post(path, json=body, headers=headers)

    def get(self, path: str) -> Any:
        return self.client.get(path)


@pytest.fixture
def bench(owner: Persona, smarter_settings: Any, asgi_server: Any) -> Bench:
    smarter_settings.llm_provider = "offline"
    shop(owner)
    return Bench(asgi_server, signed_in(owner))


def frames(response: httpx.Response) -> list[tuple[str, Any]]:
    """The server-sent events of a streamed response, as (event, data) pairs."""
    assert response.headers["content-type"] == "text/event-stream"
    text = response.text
    events = []
    for frame in text.strip().split("\n\n"):
        name, data = frame.split("\n", 1)
        events.append((name.removeprefix("event: "), json.loads(data.removeprefix("data: "))))
    return events


def ask(bench: Bench, body: dict[str, Any]) -> httpx.Response:
    return bench.post(TURN_URL, body)


def test_a_turn_streams_tokens_the_tool_call_and_the_turn_id(bench: Bench) -> None:
    events = frames(ask(bench, {"prompt": "What does the gizmo cost?"}))
    names = [name for name, _ in events]
    assert names[0] == "tool_call" and names[1] == "tool_result"
    assert names[-2:] == ["done", "turn"] and set(names[2:-2]) == {"token"}
    assert events[1][1]["plugin"] == "catalogue" and events[1][1]["result"] == "$12.50"
    done, summary = events[-2][1], events[-1][1]
    turn = Turn.objects.get()
    assert summary == {
        "turn_id": turn.pk,
        "model": "smarter-offline",
        "provider": "offline",
        "latency_ms": summary["latency_ms"],
        "cost": 0.0,
    }
    assert "".join(data["text"] for name, data in events if name == "token") == done["message"]["content"]
    assert Chat.objects.get().channel == "sandbox"


def test_overrides_apply_to_the_turn_and_not_to_the_chatbot(bench: Bench) -> None:
    body = {
        "prompt": "What does the gizmo cost?",
        "overrides": {"system_role": "Be brief.", "temperature": 0, "max_tokens": 64, "plugins": []},
    }
    events = frames(ask(bench, body))
    assert [name for name, _ in events if name.startswith("tool")] == []
    turn = Turn.objects.get()
    assert turn.request_messages[0] == {"role": "system", "content": "Be brief."}
    assert list(turn.selections.values_list("plugin_name", flat=True)) == []
    saved = Chatbot.objects.get(name="shop")
    assert (saved.default_system_role, saved.default_temperature, saved.default_max_tokens) == (
        "You are the Gizmo shop assistant.",
        0.5,
        1024,
    )
    assert [plugin.name for plugin in saved.plugins.all()] == ["catalogue"]


def test_a_session_continues_with_its_key(bench: Bench) -> None:
    first = frames(ask(bench, {"prompt": "Hello"}))[-2][1]["session_key"]
    second = frames(ask(bench, {"prompt": "What does the gizmo cost?", "session_key": first}))
    assert second[-2][1]["session_key"] == first
    assert list(Turn.objects.order_by("index").values_list("index", flat=True)) == [1, 2]


def test_invalid_overrides_are_refused_with_their_field_paths(bench: Bench) -> None:
    response = ask(bench, {"prompt": "hi", "overrides": {"temperature": 5, "plugins": ["nope"]}})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"loc": "overrides.temperature", "msg": "Input should be less than or equal to 2"}
    ]
    unknown = ask(bench, {"prompt": "hi", "overrides": {"plugins": ["nope"]}})
    assert (unknown.status_code, unknown.json()["errors"]) == (
        400,
        [{"loc": "overrides.plugins[0]", "msg": "no plugin named 'nope'"}],
    )
    assert Turn.objects.count() == 0


def test_a_turn_without_the_csrf_token_is_refused(bench: Bench) -> None:
    response = bench.post(TURN_URL, {"prompt": "hi"}, csrf=False)
    assert response.status_code == 403
    assert Turn.objects.count() == 0


def test_the_inspector_shows_what_the_turn_did(bench: Bench) -> None:
    frames(ask(bench, {"prompt": "What does the gizmo cost?", "overrides": {"system_role": "Be brief."}}))
    turn = Turn.objects.get()
    details = bench.get(f"/dashboard/chatbots/shop/sandbox/turns/{turn.pk}/").json()
    assert details["selections"] == [
        {"plugin": "catalogue", "selected": True, "rule": "search_terms", "term": "gizmo", "where": "prompt"}
    ]
    assert details["tool_calls"] == [
        {
            "round": 1,
            "tool": "catalogue",
            "plugin": "catalogue",
            "arguments": {"inquiry_type": "price"},
            "result": "$12.50",
            "error": "",
            "executed": {"inquiry_type": "price"},
            "ms": details["tool_calls"][0]["ms"],
        }
    ]
    assert details["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What does the gizmo cost?"},
    ]
    assert details["tokens"] == {
        "prompt": turn.prompt_tokens,
        "completion": turn.completion_tokens,
        "total": turn.total_tokens,
    }
    assert (details["model"], details["rounds"], details["cost"]) == ("smarter-offline", 2, 0.0)


def test_the_inspector_of_another_chatbots_turn_is_not_found(bench: Bench, owner: Persona) -> None:
    from smarter.apps.dashboard.tests.helpers import apply, chatbot

    apply(owner, chatbot("other"))
    frames(ask(bench, {"prompt": "Hello"}))
    turn = Turn.objects.get()
    response = bench.get(f"/dashboard/chatbots/other/sandbox/turns/{turn.pk}/")
    assert (response.status_code, response.json()["errorClass"]) == (404, "NotFound")
