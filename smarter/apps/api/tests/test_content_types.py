"""JSON doors that a browser reaches without credentials of its own take `application/json` only:
another site could send a `text/plain`, form or multipart body without a CORS preflight. They are
a deployed chatbot's `/chat/` and `/config/`, the sandbox and the cli chat of a console session.
API-key doors keep taking any type (no other site can send the key). Real HTTP through uvicorn."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.api.tests.helpers import database_snapshot
from smarter.apps.chat.models import Turn
from smarter.apps.chatbot.tests.helpers import apply, chatbot_manifest
from smarter.apps.dashboard.tests.helpers import signed_in

pytestmark = pytest.mark.django_db(transaction=True)

CSRF_SECRET = "e" * 32
BODY = json.dumps({"prompt": "hi"}).encode()

# (Content-Type header or None for none, body): what a page of another site can send as is.
REFUSED: dict[str, tuple[str | None, bytes]] = {
    "text/plain": ("text/plain", BODY),
    "text/plain with charset": ("text/plain;charset=UTF-8", BODY),
    "form": ("application/x-www-form-urlencoded", b'{"prompt": "hi"}'),
    "form field": ("application/x-www-form-urlencoded", b"prompt=hi"),
    "multipart": (
        "multipart/form-data; boundary=xyz",
        b'--xyz\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nhi\r\n--xyz--\r\n',
    ),
    "no type": (None, BODY),
    "text/json": ("text/json", BODY),
    "application/jsonp": ("application/jsonp", BODY),
    "json-ish suffix": ("application/x-json", BODY),
}
ACCEPTED = ["application/json", "application/json; charset=utf-8", "Application/JSON", "application/json;charset=UTF-8"]


@pytest.fixture
def owner(asgi_server: Any, smarter_settings: Any) -> Persona:
    smarter_settings.root_domain = "example.com"
    smarter_settings.llm_provider = "offline"
    persona = make_persona(make_account("Acme"), "owner", Role.ADMIN)
    apply(persona, chatbot_manifest("shop", deployed=True))
    return persona


def _public(server: Any, owner: Persona) -> httpx.Client:
    host = f"shop.{owner.account.account_number}.api.example.com"
    return httpx.Client(base_url=server.url, headers={"Host": host, "Origin": "https://evil.test"}, timeout=30)


def _console(server: Any, owner: Persona) -> httpx.Client:
    cookies = {"sessionid": signed_in(owner).cookies["sessionid"].value, "csrftoken": CSRF_SECRET}
    return httpx.Client(base_url=server.url, cookies=cookies, headers={"X-CSRFToken": CSRF_SECRET}, timeout=30)


DOORS = {
    "deployed chatbot /chat/": (_public, "/chat/"),
    "deployed chatbot /config/": (_public, "/config/"),
    "sandbox": (_console, "/dashboard/chatbots/shop/sandbox/turn/"),
    "cli chat of a console session": (_console, "/api/v1/cli/chat/shop/"),
}


def _send(client: httpx.Client, path: str, content_type: str | None, body: bytes) -> httpx.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    return client.post(path, content=body, headers=headers)


@pytest.mark.parametrize("form", sorted(REFUSED))
@pytest.mark.parametrize("door", sorted(DOORS))
def test_a_body_another_site_could_post_without_a_preflight_is_refused_with_415(
    asgi_server: Any, owner: Persona, door: str, form: str
) -> None:
    client_of, path = DOORS[door]
    with client_of(asgi_server, owner) as client:
        before = database_snapshot()
        refused = _send(client, path, *REFUSED[form])

    assert refused.status_code == 415, refused.text
    body = refused.json()
    assert (body["errorClass"], body["status"]) == ("UnsupportedMediaType", 415)
    if not door.startswith("cli"):  # the cli door's answer is Django REST framework's own sentence
        assert body["description"] == "Send the body as JSON, with the header 'Content-Type: application/json'."
        assert body["errors"] == [{"loc": "headers.Content-Type", "msg": "must be application/json"}]
    assert database_snapshot() == before


@pytest.mark.parametrize("content_type", ACCEPTED)
@pytest.mark.parametrize("door", sorted(DOORS))
def test_a_json_body_is_answered(asgi_server: Any, owner: Persona, door: str, content_type: str) -> None:
    client_of, path = DOORS[door]
    with client_of(asgi_server, owner) as client:
        answered = _send(client, path, content_type, BODY)
    assert answered.status_code == 200, answered.text


def test_config_read_with_get_needs_no_body(asgi_server: Any, owner: Persona) -> None:
    with _public(asgi_server, owner) as client:
        assert client.get("/config/").status_code == 200


@pytest.mark.parametrize("form", ["text/plain", "no type", "form"])
def test_api_key_doors_take_any_content_type(asgi_server: Any, owner: Persona, form: str) -> None:
    content_type, _ = REFUSED[form]
    headers = {"Authorization": f"Token {owner.key}"}
    with httpx.Client(base_url=asgi_server.url, headers=headers, timeout=30) as client:
        answered = _send(client, "/api/v1/chatbots/shop/chat/", content_type, BODY)
        openai = _send(
            client,
            "/api/v1/openai/chat/completions",
            content_type,
            json.dumps({"model": "shop", "messages": [{"role": "user", "content": "hi"}]}).encode(),
        )
    assert (answered.status_code, openai.status_code) == (200, 200), (answered.text, openai.text)
    assert Turn.objects.count() == 2
