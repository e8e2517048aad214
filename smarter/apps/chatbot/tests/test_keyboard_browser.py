"""The branded chatbot page with the keyboard alone, in Chromium: a skip link first, a focus order
that follows the page, a visible focus ring on each stop, and a whole turn asked and answered
without the mouse."""

from __future__ import annotations

from typing import Any

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.chatbot.tests import test_browser as page_tests
from smarter.apps.chatbot.tests.helpers import CATALOGUE, apply, chatbot_manifest
from smarter.apps.chatbot.tests.test_browser import BRANDING, CHROMIUM, shop_url

# The fixtures of the page's browser tests: Chromium, and an owner whose chatbots serve on loopback.
browser = page_tests.browser
owner = page_tests.owner

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium")

FOCUSED = """() => {
  const element = document.activeElement;
  const style = getComputedStyle(element);
  return {
    stop: element.id || element.className + ": " + element.textContent.trim(),
    visible: style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2,
  };
}"""


def test_a_visitor_chats_with_the_keyboard_alone(owner: Persona, asgi_server: Any, browser: Any) -> None:
    apply(owner, CATALOGUE)
    apply(owner, chatbot_manifest("shop", plugins=["catalogue"], deployed=True, **BRANDING))
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.goto(shop_url(owner, asgi_server))
    page.wait_for_load_state("networkidle")

    stops = []
    for _ in range(7):
        page.keyboard.press("Tab")
        stops.append(page.evaluate(FOCUSED))
    assert stops == [
        {"stop": "skip-link: Skip to the message box", "visible": True},
        {"stop": "new-conversation", "visible": True},
        {"stop": "info-link", "visible": True},
        {"stop": "example: What does the Gizmo cost?", "visible": True},
        {"stop": "example: Which colours does the Gizmo come in?", "visible": True},
        {"stop": "prompt", "visible": True},
        {"stop": "send", "visible": True},
    ]

    # From the top again: the skip link goes straight to the message box.
    page.reload()
    page.wait_for_load_state("networkidle")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "prompt"
    page.keyboard.type("What does the Gizmo cost?")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => !document.querySelector('[aria-busy]') && document.querySelectorAll('.message.user').length === 1"
    )
    assert page.locator(".message.user .bubble").all_inner_texts() == ["What does the Gizmo cost?"]
    assert "$12.50" in page.locator(".message.assistant:not(.welcome) .bubble").last.inner_text()
