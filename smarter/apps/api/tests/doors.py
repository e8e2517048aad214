"""Every door that reads a body a client sends, reachable as a served platform: the bad-input tests
send each door the same attacks through real HTTP (uvicorn on loopback, the lean OpenAI route
included), and a door added later is added here once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from django.test import Client

from smarter.apps.account.tests.factories import Persona
from smarter.apps.chatbot.tests.helpers import CATALOGUE, apply, chatbot_manifest
from smarter.lib.http.body import MAX_CHAT_BODY_BYTES
from smarter.lib.json_input import MAX_JSON_BYTES
from smarter.lib.manifests import MAX_MANIFEST_BYTES

CSRF_SECRET = "a" * 32
ROOT_DOMAIN = "example.com"


@dataclass(frozen=True)
class Door:
    """One endpoint that parses a body: where it is, how it authenticates, its size limit."""

    name: str
    path: str
    limit: int
    auth: str  # "key" (API key), "public" (the chatbot's host) or "console" (a signed-in session)
    openai: bool = False  # errors also carry OpenAI's `error` object
    # DRF reads no body without a Content-Length (a chunked body is an empty one there).
    reads_chunked: bool = True
    content_type: str = "application/json"


DOORS = [
    Door("rest-chat", "/api/v1/chatbots/shop/chat/", MAX_CHAT_BODY_BYTES, "key"),
    Door("rest-config", "/api/v1/chatbots/shop/config/", MAX_CHAT_BODY_BYTES, "key"),
    Door("openai", "/api/v1/openai/chat/completions", MAX_CHAT_BODY_BYTES, "key", openai=True),
    # The same door inside Django: the lean route answers the exact path only.
    Door("openai-django", "/api/v1/openai/chat/completions/", MAX_CHAT_BODY_BYTES, "key", openai=True),
    Door("public-chat", "/chat/", MAX_CHAT_BODY_BYTES, "public"),
    Door("public-config", "/config/", MAX_CHAT_BODY_BYTES, "public"),
    Door("cli-chat", "/api/v1/cli/chat/shop/", MAX_CHAT_BODY_BYTES, "key", reads_chunked=False),
    Door("sandbox", "/dashboard/chatbots/shop/sandbox/turn/", MAX_CHAT_BODY_BYTES, "console"),
    Door("plugin-test", "/api/v1/plugins/catalogue/test/", MAX_JSON_BYTES, "key", reads_chunked=False),
    Door("apply", "/api/v1/cli/apply/", MAX_MANIFEST_BYTES, "key"),
    Door("console-version", "/dashboard/chatbots/shop/versions/", MAX_JSON_BYTES, "console"),
]
CHAT_DOORS = [door for door in DOORS if door.limit == MAX_CHAT_BODY_BYTES]


class Platform:
    """The owner's account with the `catalogue` plugin and the deployed `shop` chatbot, served."""

    def __init__(self, server: Any, owner: Persona) -> None:
        apply(owner, CATALOGUE)
        apply(owner, chatbot_manifest("shop", plugins=["catalogue"], deployed=True))
        self.server = server
        self.owner = owner
        console = Client()
        console.force_login(owner.user)  # type: ignore[arg-type]
        self.session = console.cookies["sessionid"].value
        self.chatbot_host = f"shop.{owner.account.account_number}.api.{ROOT_DOMAIN}"
        self.http = httpx.Client(base_url=server.url, timeout=60)

    def headers(self, door: Door, **more: str) -> dict[str, str]:
        headers = {"Content-Type": door.content_type, **more}
        if door.auth == "key":
            headers["Authorization"] = f"Token {self.owner.key}"
        elif door.auth == "public":
            headers["Host"] = self.chatbot_host
        else:
            headers["X-CSRFToken"] = CSRF_SECRET
            headers["Cookie"] = f"sessionid={self.session}; csrftoken={CSRF_SECRET}"
        return headers

    def post(self, door: Door, body: bytes | Iterable[bytes], **headers: str) -> httpx.Response:
        return self.http.post(door.path, content=body, headers=self.headers(door, **headers))

    def close(self) -> None:
        self.http.close()
