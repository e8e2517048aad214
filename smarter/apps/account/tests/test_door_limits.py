"""Every door that runs a turn or costs the platform has a per-minute limit, counted for the one
who knocks: the API key, the signed-in console user, the visitor's address, or the address and
the account name of a sign-in. Over it: 429 with Retry-After, the error envelope (a page on the
console's forms), and nothing run or written. Real HTTP through uvicorn on loopback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from django.core import mail
from django.test import Client

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chat.models import Turn
from smarter.apps.chatbot.tests.helpers import CATALOGUE, apply, chatbot_manifest
from smarter.apps.dashboard.tests.helpers import PASSWORD, signed_in, with_password

pytestmark = pytest.mark.django_db(transaction=True)

CSRF_SECRET = "c" * 32
LIMIT = 2


class World:
    """Acme's owner and teammate, the `shop` chatbot (deployed, with a static plugin), served."""

    def __init__(self, server: Any, owner: Persona, teammate: Persona) -> None:
        self.server = server
        self.owner = owner
        self.teammate = teammate
        self.sessions = {
            persona.user.pk: signed_in(persona).cookies["sessionid"].value for persona in (owner, teammate)
        }
        self.chatbot_host = f"shop.{owner.account.account_number}.api.example.com"

    def with_key(self, persona: Persona) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, headers={"Authorization": f"Token {persona.key}"}, timeout=30)

    def with_session(self, persona: Persona) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url,
            cookies={"sessionid": self.sessions[persona.user.pk], "csrftoken": CSRF_SECRET},
            headers={"X-CSRFToken": CSRF_SECRET},
            timeout=30,
        )

    def visitor(self) -> httpx.Client:
        return httpx.Client(base_url=self.server.url, headers={"Host": self.chatbot_host}, timeout=30)


@pytest.fixture
def world(asgi_server: Any, smarter_settings: Any) -> World:
    smarter_settings.root_domain = "example.com"
    smarter_settings.llm_provider = "offline"
    acme = make_account("Acme")
    owner = make_persona(acme, "owner", Role.ADMIN)
    teammate = make_persona(acme, "teammate", Role.MEMBER)
    apply(owner, CATALOGUE)
    apply(owner, chatbot_manifest("shop", plugins=["catalogue"], deployed=True))
    for field in (
        "rate_limit_api_key_per_minute",
        "rate_limit_user_per_minute",
        "rate_limit_chatbot_ip_per_minute",
        "rate_limit_plugin_test_per_minute",
        "rate_limit_login_per_minute",
    ):
        setattr(smarter_settings, field, LIMIT)
    return World(asgi_server, owner, teammate)


def _post(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    with client:
        return client.post(path, json=body)


PROMPT = {"prompt": "What does the Gizmo cost?"}
OPENAI_BODY = {"model": "shop", "messages": [{"role": "user", "content": "hi"}]}

# door -> (one request by the owner, whether it runs a turn)
DOORS: dict[str, tuple[Callable[[World], httpx.Response], bool]] = {
    "OpenAI-compatible, API key": (
        lambda w: _post(w.with_key(w.owner), "/api/v1/openai/chat/completions", OPENAI_BODY),
        True,
    ),
    "REST chat, API key": (lambda w: _post(w.with_key(w.owner), "/api/v1/chatbots/shop/chat/", PROMPT), True),
    "REST chat streamed, API key": (
        lambda w: _post(w.with_key(w.owner), "/api/v1/chatbots/shop/chat/", {**PROMPT, "stream": True}),
        True,
    ),
    "cli chat, API key": (lambda w: _post(w.with_key(w.owner), "/api/v1/cli/chat/shop/", PROMPT), True),
    "cli chat, console session": (
        lambda w: _post(w.with_session(w.owner), "/api/v1/cli/chat/shop/", PROMPT),
        True,
    ),
    "sandbox, console session": (
        lambda w: _post(w.with_session(w.owner), "/dashboard/chatbots/shop/sandbox/turn/", PROMPT),
        True,
    ),
    "deployed chatbot, visitor": (lambda w: _post(w.visitor(), "/chat/", PROMPT), True),
    "deployed chatbot streamed, visitor": (lambda w: _post(w.visitor(), "/chat/", {**PROMPT, "stream": True}), True),
    "plugin test, API key": (lambda w: _post(w.with_key(w.owner), "/api/v1/plugins/catalogue/test/", {}), False),
    "plugin test, console session": (
        lambda w: _post(w.with_session(w.owner), "/api/v1/plugins/catalogue/test/", {}),
        False,
    ),
}


@pytest.mark.parametrize("door", sorted(DOORS))
def test_every_door_answers_429_with_retry_after_and_the_envelope_once_over_its_limit(world: World, door: str) -> None:
    knock, runs_a_turn = DOORS[door]
    for _ in range(LIMIT):
        allowed = knock(world)
        assert allowed.status_code == 200, allowed.text
    turns = Turn.objects.count()

    refused = knock(world)

    assert refused.status_code == 429
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 31  # one more request every 60/LIMIT seconds
    body = refused.json()
    if door.startswith("OpenAI"):
        assert body["error"]["code"] == "RateLimited"
        assert "at most 2 per minute" in body["error"]["message"]
    else:
        assert (body["errorClass"], body["status"], body["context"]["limit"]) == ("RateLimited", 429, LIMIT)
        assert body["context"]["retryAfter"] == retry_after
        assert "at most 2 per minute" in body["description"]
        assert {"errorClass", "status", "description", "context"} <= set(body)
    assert Turn.objects.count() == turns  # the refused request reached no model and wrote nothing
    if runs_a_turn:
        assert turns == LIMIT


def test_console_turns_count_per_user_and_apart_from_the_users_api_key(world: World) -> None:
    sandbox = "/dashboard/chatbots/shop/sandbox/turn/"
    statuses = [_post(world.with_session(world.owner), sandbox, PROMPT).status_code for _ in range(LIMIT + 1)]
    assert statuses == [200] * LIMIT + [429]
    # The same user's cli chats from the console share that allowance ...
    assert _post(world.with_session(world.owner), "/api/v1/cli/chat/shop/", PROMPT).status_code == 429
    # ... a teammate has their own, and the owner's API key is counted apart.
    assert _post(world.with_session(world.teammate), sandbox, PROMPT).status_code == 200
    assert _post(world.with_key(world.owner), "/api/v1/cli/chat/shop/", PROMPT).status_code == 200


def test_the_console_plugin_test_page_answers_429_with_retry_after(world: World) -> None:
    client = signed_in(world.owner)
    pages = [client.post("/dashboard/plugins/catalogue/test/", {"arguments": ""}) for _ in range(LIMIT + 1)]

    assert [page.status_code for page in pages] == [200] * LIMIT + [429]
    assert 1 <= int(pages[-1]["Retry-After"]) <= 31
    assert b"Too many requests to test plugins: at most 2 per minute." in pages[-1].content
    # API key and console user count apart: the owner's key still tests.
    assert _post(world.with_key(world.owner), "/api/v1/plugins/catalogue/test/", {}).status_code == 200


# --- signing in and resetting a password ------------------------------------------------------------
def _sign_in(address: str, username: str, password: str) -> Any:
    return Client(REMOTE_ADDR=address).post("/login/", {"username": username, "password": password})


def _signed_in(response: Any) -> bool:
    return response.status_code == 302 and "sessionid" in response.cookies


@pytest.mark.parametrize(
    "attempt",
    [
        pytest.param(lambda i: ("198.51.100.7", "owner"), id="one address, one user"),
        pytest.param(lambda i: (f"198.51.100.{i}", "owner"), id="many addresses, one user"),
        pytest.param(lambda i: (f"198.51.100.{i}", " OWNER "), id="many addresses, the user spelt otherwise"),
        pytest.param(lambda i: ("198.51.100.7", f"guess{i}"), id="one address, many users"),
        pytest.param(lambda i: (f"2001:db8::{i:x}", f"guess{i}"), id="one IPv6 network, many users"),
    ],
)
def test_sign_in_attempts_are_limited_and_the_right_password_does_not_pass_the_limit(
    world: World, attempt: Callable[[int], tuple[str, str]]
) -> None:
    with_password(world.owner)
    for i in range(LIMIT):
        address, username = attempt(i)
        refused = _sign_in(address, username, "wrong password")
        assert refused.status_code == 200 and not _signed_in(refused)

    address, _ = attempt(LIMIT)
    over = _sign_in(address, "owner", PASSWORD)

    assert over.status_code == 429
    assert not _signed_in(over)
    assert 1 <= int(over["Retry-After"]) <= 31
    assert b"Too many requests" in over.content and b"at most 2 per minute" in over.content
    with_password(world.teammate)
    assert _signed_in(_sign_in("203.0.113.2", "teammate", PASSWORD))  # others still sign in


@pytest.mark.parametrize(
    "request_of",
    [
        pytest.param(lambda i: ("198.51.100.7", "owner@example.test"), id="one address, one e-mail"),
        pytest.param(lambda i: (f"198.51.100.{i}", "Owner@Example.test"), id="many addresses, one e-mail"),
        pytest.param(lambda i: ("198.51.100.7", f"someone{i}@example.test"), id="one address, many e-mails"),
    ],
)
def test_password_reset_mails_are_limited_per_address_and_per_e_mail(
    world: World, request_of: Callable[[int], tuple[str, str]]
) -> None:
    with_password(world.owner)  # Django mails only users who have a password
    for i in range(LIMIT):
        address, email = request_of(i)
        sent = Client(REMOTE_ADDR=address).post("/password-reset/", {"email": email})
        assert sent.status_code == 302
    mails = len(mail.outbox)

    address, _ = request_of(LIMIT)
    over = Client(REMOTE_ADDR=address).post("/password-reset/", {"email": "owner@example.test"})

    assert over.status_code == 429
    assert 1 <= int(over["Retry-After"]) <= 31
    assert b"Too many requests" in over.content
    assert len(mail.outbox) == mails
