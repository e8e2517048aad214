"""A deployed chatbot's page resumes only the sessions it started for the same visitor: a session
made through the API, the cli, the sandbox or the OpenAI-compatible door, another chatbot's, or
another visitor's is never shown by `/config/` nor stored in the visitor's cookie, and `/chat/`
continues no session of another channel. Real HTTP through uvicorn on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.api.tests.helpers import database_snapshot
from smarter.apps.chat.models import Chat, ChatMessage
from smarter.apps.chatbot.public.views import visitor_uid
from smarter.apps.chatbot.tests.helpers import CATALOGUE, apply, chatbot_manifest
from smarter.apps.dashboard.tests.helpers import signed_in

pytestmark = pytest.mark.django_db(transaction=True)

CSRF_SECRET = "d" * 32
SECRET_PROMPT = "my account number is 4242, keep it private"


class Site:
    def __init__(self, server: Any, owner: Persona) -> None:
        self.server = server
        self.owner = owner
        self.host = f"shop.{owner.account.account_number}.api.example.com"

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, headers={"Authorization": f"Token {self.owner.key}"}, timeout=30)

    def console(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url,
            cookies={"sessionid": signed_in(self.owner).cookies["sessionid"].value, "csrftoken": CSRF_SECRET},
            headers={"X-CSRFToken": CSRF_SECRET},
            timeout=30,
        )

    def visitor(self, host: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, headers={"Host": host or self.host}, timeout=30)


@pytest.fixture
def site(asgi_server: Any, smarter_settings: Any) -> Site:
    smarter_settings.root_domain = "example.com"
    smarter_settings.llm_provider = "offline"
    owner = make_persona(make_account("Acme"), "owner", Role.ADMIN)
    apply(owner, CATALOGUE)
    apply(owner, chatbot_manifest("shop", plugins=["catalogue"], deployed=True))
    apply(owner, chatbot_manifest("other", deployed=True))
    return Site(asgi_server, owner)


def _key(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["session_key"])


def _via_api(site: Site) -> str:
    with site.api() as client:
        return _key(client.post("/api/v1/chatbots/shop/chat/", json={"prompt": SECRET_PROMPT}))


def _via_cli(site: Site) -> str:
    with site.api() as client:
        return str(_cli(client.post("/api/v1/cli/chat/shop/?uid=laptop", json={"prompt": SECRET_PROMPT})))


def _cli(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["session_key"])


def _via_sandbox(site: Site) -> str:
    with site.console() as client:
        client.post("/dashboard/chatbots/shop/sandbox/turn/", json={"prompt": SECRET_PROMPT}).raise_for_status()
    return Chat.objects.get(channel="sandbox").session_key


def _via_openai(site: Site) -> str:
    with site.api() as client:
        body = {"model": "shop", "messages": [{"role": "user", "content": SECRET_PROMPT}]}
        client.post("/api/v1/openai/chat/completions", json=body).raise_for_status()
    return Chat.objects.get(channel="openai").session_key


def _via_another_visitor(site: Site) -> str:
    with site.visitor() as client:
        return _key(client.post("/chat/", json={"prompt": SECRET_PROMPT}))


def _via_another_chatbots_page(site: Site) -> str:
    with site.visitor(f"other.{site.owner.account.account_number}.api.example.com") as client:
        return _key(client.post("/chat/", json={"prompt": SECRET_PROMPT}))


SESSIONS: dict[str, Callable[[Site], str]] = {
    "REST API": _via_api,
    "cli": _via_cli,
    "sandbox": _via_sandbox,
    "OpenAI-compatible door": _via_openai,
    "another visitor": _via_another_visitor,
    "another chatbot's page": _via_another_chatbots_page,
}


@pytest.fixture
def visitor(site: Site) -> Iterator[httpx.Client]:
    """A visitor who has chatted on the page already (so they have a visitor cookie)."""
    with site.visitor() as client:
        _key(client.post("/chat/", json={"prompt": "hello"}))
        client.cookies.delete("smarter_chat")
        yield client


def _stores_no_session(response: httpx.Response, session_key: str) -> None:
    cookies = response.headers.get_list("set-cookie")
    assert not any(cookie.startswith(f"smarter_chat={session_key}") for cookie in cookies), cookies
    assert SECRET_PROMPT not in response.text


@pytest.mark.parametrize("made_by", sorted(SESSIONS))
def test_config_never_resumes_a_session_the_page_did_not_start_for_this_visitor(
    site: Site, visitor: httpx.Client, made_by: str
) -> None:
    session_key = SESSIONS[made_by](site)
    for response in (
        visitor.get(f"/config/?session_key={session_key}"),
        visitor.post("/config/", json={"session_key": session_key}),
    ):
        assert response.status_code == 200, response.text
        assert (response.json()["session_key"], response.json()["history"]) == (None, [])
        _stores_no_session(response, session_key)
    assert "smarter_chat" not in visitor.cookies


@pytest.mark.parametrize("made_by", sorted(SESSIONS))
def test_a_cookie_naming_a_session_of_another_channel_or_visitor_starts_afresh(
    site: Site, visitor: httpx.Client, made_by: str
) -> None:
    session_key = SESSIONS[made_by](site)
    messages = ChatMessage.objects.filter(chat__session_key=session_key).count()
    visitor.cookies.set("smarter_chat", session_key)
    config = visitor.get("/config/")
    assert (config.json()["session_key"], config.json()["history"]) == (None, [])
    assert "smarter_chat=" in config.headers["set-cookie"] and "Max-Age=0" in config.headers["set-cookie"]

    visitor.cookies.set("smarter_chat", session_key)
    turn = visitor.post("/chat/", json={"prompt": "what did I tell you?"})

    assert turn.status_code == 200, turn.text
    assert turn.json()["session_key"] != session_key
    assert SECRET_PROMPT not in turn.text
    assert ChatMessage.objects.filter(chat__session_key=session_key).count() == messages


@pytest.mark.parametrize(
    "made_by", sorted(name for name in SESSIONS if name not in ("another visitor", "another chatbot's page"))
)
def test_chat_continues_no_session_of_another_channel(site: Site, visitor: httpx.Client, made_by: str) -> None:
    session_key = SESSIONS[made_by](site)
    before = database_snapshot()

    refused = visitor.post("/chat/", json={"prompt": "what did I tell you?", "session_key": session_key})

    assert refused.status_code == 404
    body = refused.json()
    assert (body["errorClass"], body["status"]) == ("NotFound", 404)
    assert body["description"] == "No such chat session for this chatbot; omit session_key to start a new one."
    assert body["context"]["kind"] == "Chat"
    assert SECRET_PROMPT not in refused.text
    assert database_snapshot() == before


@pytest.mark.parametrize("made_by", sorted(SESSIONS))
def test_a_link_naming_a_foreign_session_leaves_the_visitors_own_session_in_place(site: Site, made_by: str) -> None:
    foreign = SESSIONS[made_by](site)
    with site.visitor() as client:
        own = _key(client.post("/chat/", json={"prompt": "my own question"}))
        assert client.cookies["smarter_chat"] == own
        answer = client.get(f"/config/?session_key={foreign}")
        assert (answer.json()["session_key"], answer.json()["history"]) == (None, [])
        assert "set-cookie" not in answer.headers
        assert client.get("/config/").json()["session_key"] == own


def test_another_chatbots_session_is_not_found_either(site: Site, visitor: httpx.Client) -> None:
    session_key = _via_another_chatbots_page(site)
    assert visitor.post("/chat/", json={"prompt": "hi", "session_key": session_key}).status_code == 404


def test_a_public_session_named_by_its_key_continues_but_is_not_stored_for_another_visitor(
    site: Site, visitor: httpx.Client
) -> None:
    # A browser that refuses cookies keeps the key in the page and names it with each turn.
    session_key = _via_another_visitor(site)
    turn = visitor.post("/chat/", json={"prompt": "and then?", "session_key": session_key})
    assert turn.status_code == 200, turn.text
    assert turn.json()["session_key"] == session_key
    _stores_no_session(turn, session_key)


def test_the_visitor_resumes_their_own_sessions_after_a_reload(site: Site) -> None:
    with site.visitor() as client:
        streamed = client.post("/chat/", json={"prompt": "What does the Gizmo cost?", "stream": True})
        assert streamed.status_code == 200
        visitor_cookie = client.cookies["smarter_visitor"]
        assert len(visitor_cookie) >= 32
        session_key = streamed.text.rsplit('"session_key": "', 1)[1].split('"', 1)[0]
        named = client.post("/config/", json={"session_key": session_key})
        assert named.json()["session_key"] == session_key
        assert client.cookies["smarter_chat"] == session_key
        reloaded = client.get("/config/")
        assert [message["role"] for message in reloaded.json()["history"]] == ["user", "assistant"]
        assert client.cookies["smarter_visitor"] == visitor_cookie
    chat = Chat.objects.get(session_key=session_key)
    assert chat.channel == "public"
    assert chat.uid.startswith("visitor:") and visitor_cookie not in chat.uid  # a digest, not the cookie


@pytest.mark.parametrize("forged", ["short", "x" * 65, "bad chars!" * 4, ""])
def test_a_malformed_visitor_cookie_is_replaced(site: Site, forged: str) -> None:
    with site.visitor() as client:
        client.cookies.set("smarter_visitor", forged)
        answer = client.post("/chat/", json={"prompt": "hi"})
        assert answer.status_code == 200, answer.text
        (given,) = [cookie for cookie in answer.headers.get_list("set-cookie") if cookie.startswith("smarter_visitor=")]
        value = given.split(";", 1)[0].removeprefix("smarter_visitor=")
        assert value != forged and len(value) == 32
    assert Chat.objects.get().uid == visitor_uid(value)


def test_a_new_conversation_forgets_the_visitors_session_and_the_next_turn_starts_another(site: Site) -> None:
    with site.visitor() as client:
        first = client.post("/chat/", json={"prompt": "What does the Gizmo cost?"})
        session_key = _key(first)
        assert client.cookies["smarter_chat"] == session_key
        fresh = client.post("/config/", json={"new_session": True})
        assert fresh.status_code == 200
        assert fresh.json()["session_key"] is None and fresh.json()["history"] == []
        assert "smarter_chat" not in client.cookies
        assert client.get("/config/").json()["history"] == []
        second = client.post("/chat/", json={"prompt": "Which colours?"})
        assert _key(second) != session_key
    # The first conversation is kept, whole, in its own session.
    assert [message.content for message in ChatMessage.objects.filter(chat__session_key=session_key, role="user")] == [
        "What does the Gizmo cost?"
    ]
