"""What a chatbot's host answers when it has nothing to serve: a short branded page for a browser,
the API's error envelope for any other client, on the real ASGI server."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import make_account, make_persona
from smarter.apps.chatbot.tests.helpers import apply, chatbot_manifest

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.fixture
def acme(asgi_server: Any, smarter_settings: Any) -> str:
    smarter_settings.root_domain = "example.com"
    smarter_settings.platform_host = "platform.example.com"
    owner = make_persona(make_account("Acme"), "owner", Role.ADMIN)
    apply(owner, chatbot_manifest("support", appName="Acme Support", deployed=True))
    apply(owner, chatbot_manifest("draft", appName="Acme Draft"))
    return owner.account.account_number


def get(server: Any, host: str, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.get(f"{server.url}{path}", headers={"Host": host, **(headers or {})}, timeout=10)


CASES = {
    # (host, path): (status, title of the page, the envelope's class and description)
    ("support", "/nothing-here"): (404, "Page not found", "NotFound", "There is nothing at this address."),
    ("draft", "/"): (404, "Page not found", "NotFound", "This chatbot is not deployed."),
    ("nobody", "/"): (400, "This address is not served here", "ValidationError", "This host is not served here."),
}


@pytest.mark.parametrize(("name", "path"), list(CASES))
def test_a_browser_gets_a_branded_page_and_any_other_client_the_envelope(
    asgi_server: Any, acme: str, name: str, path: str
) -> None:
    status, title, error_class, description = CASES[(name, path)]
    host = f"{name}.{acme}.api.example.com"

    page = get(asgi_server, host, path, BROWSER)
    assert (page.status_code, page.headers["content-type"]) == (status, "text/html; charset=utf-8")
    assert f"<title>{title}</title>" in page.text
    assert f'<p id="message">{description}</p>' in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]

    envelope = get(asgi_server, host, path)  # curl's Accept: */*
    assert (envelope.status_code, envelope.headers["content-type"]) == (status, "application/json")
    assert envelope.json()["errorClass"] == error_class
    assert envelope.json()["description"] == description
    assert envelope.json()["status"] == status
