"""A deployed chatbot's public endpoints on a real ASGI server: config, chat (JSON and SSE), the
session cookie, API key protection, CORS and framing rules, and the widget script."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest
from django.conf import settings

from smarter.apps.account import services as account_services
from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.api.tests.helpers import database_snapshot
from smarter.apps.chat.models import Chat
from smarter.apps.chatbot.tests.helpers import CATALOGUE, apply, chatbot_manifest

BRANDING = {
    "appName": "Gizmo Shop",
    "appAssistant": "Sam",
    "appWelcomeMessage": "Hi! Ask me about the Gizmo.",
    "appExamplePrompts": ["What does the Gizmo cost?"],
    "appPlaceholder": "Ask about Gizmos…",
    "appInfoUrl": "https://example.com/about",
}


@pytest.fixture
def owner(asgi_server: Any, smarter_settings: Any) -> Persona:
    smarter_settings.root_domain = "example.com"
    smarter_settings.platform_host = "platform.example.com"
    return make_persona(make_account("Acme"), "owner", Role.ADMIN)


@pytest.fixture
def shop(owner: Persona, asgi_server: Any) -> httpx.Client:
    """A client whose requests go to the deployed `shop` chatbot's host."""
    apply(owner, CATALOGUE)
    apply(
        owner,
        chatbot_manifest(
            "shop", plugins=["catalogue"], deployed=True, allowedOrigins=["https://www.acme.test"], **BRANDING
        ),
    )
    host = f"shop.{owner.account.account_number}.api.example.com"
    return httpx.Client(base_url=asgi_server.url, headers={"Host": host}, timeout=30)


def sse_events(text: str) -> list[tuple[str, Any]]:
    events = []
    for frame in text.strip().split("\n\n"):
        name = frame.split("\n")[0].removeprefix("event: ")
        events.append((name, json.loads(frame.split("\n")[1].removeprefix("data: "))))
    return events


def test_config_shows_the_branding_and_no_session_before_the_first_turn(shop: httpx.Client, owner: Persona) -> None:
    response = shop.get("/config/")
    assert response.status_code == 200
    body = response.json()
    assert body["session_key"] is None and body["history"] == []
    assert {key: body["chatbot"][key] for key in BRANDING} == BRANDING
    assert "set-cookie" not in response.headers
    assert "defaultSystemRole" not in json.dumps(body) and "You are" not in json.dumps(body)


def test_a_turn_quotes_the_plugin_data_and_the_cookie_brings_the_history_back(shop: httpx.Client) -> None:
    response = shop.post("/chat/", json={"prompt": "What does the Gizmo cost?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert "$12.50" in body["message"]["content"]
    assert [call["plugin"] for call in body["tool_calls"]] == ["catalogue"]
    session_key = body["session_key"]
    assert shop.cookies["smarter_chat"] == session_key
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    chat = Chat.objects.get(session_key=session_key)
    assert (chat.channel, chat.user_id, chat.api_key_id) == ("public", None, None)
    # A reload: the cookie names the session, the config returns its history.
    config = shop.post("/config/", json={}).json()
    assert config["session_key"] == session_key
    assert config["history"] == [
        {"role": "user", "content": "What does the Gizmo cost?"},
        {"role": "assistant", "content": body["message"]["content"]},
    ]
    # The next turn continues the same session without naming it.
    second = shop.post("/chat/", json={"prompt": "And its colours?"}).json()
    assert second["session_key"] == session_key


def test_a_streamed_turn_arrives_as_server_sent_events_and_config_then_stores_the_session(shop: httpx.Client) -> None:
    response = shop.post("/chat/", json={"prompt": "What does the Gizmo cost?", "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    events = sse_events(response.text)
    names = [name for name, _ in events]
    assert names[0] == "tool_call" and names[1] == "tool_result" and names[-1] == "done"
    assert set(names[2:-1]) == {"token"}
    done = events[-1][1]
    assert "".join(data["text"] for name, data in events if name == "token") == done["message"]["content"]
    assert "smarter_chat" not in shop.cookies  # a new session's key is known only at the end
    remembered = shop.post("/config/", json={"session_key": done["session_key"]})
    assert remembered.json()["session_key"] == done["session_key"]
    assert shop.cookies["smarter_chat"] == done["session_key"]
    assert len(shop.get("/config/").json()["history"]) == 2


def test_an_unknown_session_named_in_the_body_is_404_but_a_stale_cookie_starts_afresh(shop: httpx.Client) -> None:
    before = database_snapshot()
    response = shop.post("/chat/", json={"prompt": "hi", "session_key": "not-a-session"})
    assert response.status_code == 404
    assert response.json()["errorClass"] == "NotFound"
    assert database_snapshot() == before
    shop.cookies.set("smarter_chat", "stale-session")
    config = shop.get("/config/")
    assert config.json()["session_key"] is None
    assert "smarter_chat=" in config.headers["set-cookie"] and "Max-Age=0" in config.headers["set-cookie"]
    shop.cookies.set("smarter_chat", "stale-session")
    fresh = shop.post("/chat/", json={"prompt": "hi"})
    assert fresh.status_code == 200 and fresh.json()["session_key"] != "stale-session"


def test_bad_bodies_get_the_api_error_envelope(shop: httpx.Client) -> None:
    response = shop.post("/chat/", json={"prompt": ""})
    assert response.status_code == 400
    assert [error["loc"] for error in response.json()["errors"]] == ["prompt"]
    assert shop.get("/chat/").status_code == 405


def test_a_chatbot_with_an_api_key_answers_only_to_that_key(
    owner: Persona, shop: httpx.Client, asgi_server: Any
) -> None:
    issued = account_services.api_key_create(account=owner.account, user=owner.user, name="widget_key")
    apply(
        owner,
        {
            **chatbot_manifest(
                "shop", plugins=["catalogue"], deployed=True, allowedOrigins=["https://www.acme.test"], **BRANDING
            ),
            "spec": {
                "config": {"deployed": True, "allowedOrigins": ["https://www.acme.test"], **BRANDING},
                "plugins": ["catalogue"],
                "apiKey": "widget_key",
            },
        },
    )
    before = database_snapshot()
    for headers in ({}, {"Authorization": f"Token {owner.key}"}, {"Authorization": "Token smarter_nope"}):
        refused = shop.post("/chat/", json={"prompt": "hi"}, headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json()["errorClass"] == "NotAuthenticated"
        assert shop.get("/config/", headers=headers).status_code == 401
    assert database_snapshot() == before
    assert shop.get("/").status_code == 200  # the page itself is public
    allowed = shop.post("/chat/", json={"prompt": "hi"}, headers={"Authorization": f"Bearer {issued.plaintext}"})
    assert allowed.status_code == 200
    assert Chat.objects.get(session_key=allowed.json()["session_key"]).api_key_id == issued.api_key.pk


def test_cors_and_framing_allow_only_the_chatbots_hosts_and_its_allowed_origins(
    shop: httpx.Client, owner: Persona
) -> None:
    own = f"http://shop.{owner.account.account_number}.api.example.com"
    listed = shop.options("/chat/", headers={"Origin": "https://www.acme.test"})
    assert listed.status_code == 204
    assert listed.headers["access-control-allow-origin"] == "https://www.acme.test"
    assert listed.headers["access-control-allow-headers"] == "Authorization, Content-Type"
    assert listed.headers["access-control-allow-methods"] == "GET, POST, OPTIONS"
    assert shop.get("/config/", headers={"Origin": own}).headers["access-control-allow-origin"] == own
    stranger = shop.post("/chat/", json={"prompt": "hi"}, headers={"Origin": "https://evil.test"})
    assert "access-control-allow-origin" not in stranger.headers
    page = shop.get("/")
    assert page.headers["content-security-policy"] == (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: http: data:; "
        f"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self' {own} https://www.acme.test"
    )
    assert "x-frame-options" not in page.headers
    assert "<title>Gizmo Shop</title>" in page.text
    scripts = [
        "/static/vendor/markdown-it/markdown-it.umd.min.js",
        "/static/vendor/dompurify/purify.min.js",
        "/static/vendor/highlight/highlight.min.js",
        "/static/chatbot/chat-ui.js",
        "/static/chatbot/public/chat.js",
    ]
    assert re.findall(r'<script src="([^"]+)" defer></script>', page.text) == scripts
    assert shop.get("/static/chatbot/chat-ui.js").status_code == 200
    assert shop.get("/static/chatbot/public/chat.js").status_code == 200


def test_the_chat_renderers_libraries_are_served_from_the_npm_packages(shop: httpx.Client) -> None:
    """`npm ci` installs them (package.json); without it the chat shows plain text, and this fails."""
    if not (settings.NODE_MODULES / "markdown-it").is_dir():
        pytest.skip("needs the npm packages: run `npm ci` at the repository's root")
    page = shop.get("/").text
    for path in re.findall(r'(?:src|href)="(/static/vendor/[^"]+)"', page):
        response = shop.get(path)
        assert response.status_code == 200, path
        assert len(response.content) > 1_000, path
    assert len(re.findall(r'(?:src|href)="/static/vendor/', page)) == 4
    # The browser builds, which set the globals the renderer looks for.
    assert "e.markdownit=t()" in shop.get("/static/vendor/markdown-it/markdown-it.umd.min.js").text[:400]
    assert "@license DOMPurify 3." in shop.get("/static/vendor/dompurify/purify.min.js").text[:100]
    assert "var hljs=" in shop.get("/static/vendor/highlight/highlight.min.js").text[:400]


def test_the_widget_script_points_at_the_chatbots_own_page(shop: httpx.Client, owner: Persona) -> None:
    response = shop.get("/widget.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    host = f"shop.{owner.account.account_number}.api.example.com"
    assert f'"pageUrl": "http://{host}/?embedded=1"' in response.text
    assert '"appName": "Gizmo Shop"' in response.text


def test_the_widget_options_cannot_close_the_script(owner: Persona, asgi_server: Any) -> None:
    apply(owner, chatbot_manifest("tricky", deployed=True, appName="</script><script>alert(1)</script>"))
    host = f"tricky.{owner.account.account_number}.api.example.com"
    script = httpx.get(f"{asgi_server.url}/widget.js", headers={"Host": host}).text
    assert "alert(1)</script>" not in script
    assert '"appName": "\\u003c/script>\\u003cscript>alert(1)\\u003c/script>"' in script
    page = httpx.get(f"{asgi_server.url}/", headers={"Host": host}).text
    assert "<script>alert(1)" not in page
