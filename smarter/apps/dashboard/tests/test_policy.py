"""Every console page carries the console's Content-Security-Policy, and no page writes a style
attribute or an inline script, so a tenant's value can never become CSS or script."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.utils.html import escape

from smarter.apps.account.tests.factories import Persona
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.dashboard.policy import CONSOLE_POLICY
from smarter.apps.dashboard.tests.helpers import apply, chatbot, shop, signed_in

pytestmark = pytest.mark.django_db

PAGES = [
    "/dashboard/",
    "/dashboard/chatbots/shop/",
    "/dashboard/chatbots/shop/sandbox/",
    "/dashboard/plugins/",
    "/dashboard/plugins/catalogue/",
    "/dashboard/connections/",
    "/dashboard/secrets/",
    "/dashboard/api-keys/",
    "/dashboard/members/",
    "/dashboard/journal/",
    "/dashboard/apply/",
    "/dashboard/usage/",
    "/dashboard/evals/",
]
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)


def assert_strict_page(response: Any) -> None:
    assert response["Content-Security-Policy"] == CONSOLE_POLICY
    html = response.content.decode()
    assert STYLE_ATTRIBUTE.search(html) is None
    assert INLINE_SCRIPT.search(html) is None
    assert EVENT_HANDLER.search(html) is None


def test_the_policy_allows_only_the_platforms_own_scripts_and_styles() -> None:
    directives = dict(part.strip().split(" ", 1) for part in CONSOLE_POLICY.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in CONSOLE_POLICY


@pytest.mark.parametrize("path", PAGES)
def test_an_admins_console_page_carries_the_policy_and_no_inline_style_or_script(owner: Persona, path: str) -> None:
    shop(owner)
    response = signed_in(owner).get(path)
    assert response.status_code == 200
    assert_strict_page(response)


@pytest.mark.parametrize("path", ["/login/", "/password-reset/", "/password-reset/sent/", "/password-reset/complete/"])
def test_the_signed_out_pages_carry_the_policy(db: Any, path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 200
    assert_strict_page(response)


def test_refusals_carry_the_policy_too(owner: Persona, teammate: Persona, outsider: Persona) -> None:
    shop(owner)
    assert_strict_page(signed_in(teammate).get("/dashboard/chatbots/shop/"))
    refused = signed_in(teammate).get("/dashboard/journal/")  # admins only
    assert refused.status_code == 403
    assert_strict_page(refused)
    missing = signed_in(outsider).get("/dashboard/chatbots/shop/")  # another account's: not found
    assert missing.status_code == 404
    assert_strict_page(missing)
    redirected = Client().get("/dashboard/")
    assert redirected.status_code == 302
    assert redirected["Content-Security-Policy"] == CONSOLE_POLICY


def test_the_background_image_reaches_the_preview_as_data_never_as_css(owner: Persona) -> None:
    apply(owner, chatbot("shop", appBackgroundImageUrl="https://cdn.example.com/bg.png"))
    response = signed_in(owner).get("/dashboard/chatbots/shop/")
    assert_strict_page(response)
    assert 'id="preview" data-background="https://cdn.example.com/bg.png"' in response.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.example.com/bg.png');background:url('https://evil.example/x",
        'https://cdn.example.com/bg.png");background:url("https://evil.example/x',
        'https://cdn.example.com/"><script>alert(1)</script>',
        "https://cdn.example.com/bg.png) ;x:url(https://evil.example/x",
    ],
)
def test_a_background_url_that_would_escape_css_is_refused_and_shown_back_only_as_data(
    owner: Persona, teammate: Persona, url: str
) -> None:
    apply(owner, chatbot("shop", appBackgroundImageUrl="https://cdn.example.com/bg.png"))
    form = {key: "" for key in ("provider", "defaultModel", "appAssistant", "appWelcomeMessage", "appInfoUrl")}
    form |= {"defaultSystemRole": "You sell Gizmos.", "defaultTemperature": "0.5", "defaultMaxTokens": "512"}
    form |= {"appName": "Gizmo Shop", "appLogoUrl": "", "appBackgroundImageUrl": url}
    for persona in (owner, teammate):
        response = signed_in(persona).post("/dashboard/chatbots/shop/", form)
        assert response.status_code == 400
        assert_strict_page(response)
        html = response.content.decode()
        assert re.search(r'id="e-appBackgroundImageUrl">must not contain (quotes or angle brackets|a space)', html)
        # Shown back to its author only as an escaped attribute value, which script reads as data.
        assert f'id="preview" data-background="{escape(url)}"' in html
        assert "<script>alert(1)</script>" not in html
    assert Chatbot.objects.get().app_background_image_url == "https://cdn.example.com/bg.png"
