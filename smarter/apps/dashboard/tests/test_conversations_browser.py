"""In Chromium: a visitor of the deployed page rates an answer with the thumbs under it and leaves a
comment, and the owner finds the rating and comment on the conversations page.

Screenshots go to `test-artifacts/` (ignored by git) for a look at the design.
"""

from __future__ import annotations

from typing import Any

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.chat.models import Feedback
from smarter.apps.dashboard.tests.helpers import apply, chatbot
from smarter.apps.dashboard.tests.test_browser import CHROMIUM, chromium, shot, sign_in, site  # noqa: F401

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium")


def test_a_visitors_thumbs_down_from_the_page_shows_on_the_conversations_page(
    site: Any,  # noqa: F811
    chromium: Any,  # noqa: F811
    owner: Persona,
) -> None:
    apply(owner, chatbot("shop", plugins=["catalogue"], appName="Gizmo Shop", deployed=True))
    visitor = chromium.new_page(viewport={"width": 1100, "height": 800})
    visitor.goto(f"http://shop.{owner.account.account_number}.api.localhost:{site.port}/")
    visitor.fill("#prompt", "How much is a Gizmo?")
    visitor.keyboard.press("Enter")
    visitor.wait_for_selector(".message.user")
    visitor.wait_for_function("() => !document.querySelector('[aria-busy]')")
    visitor.wait_for_load_state("networkidle")

    # The buttons under the (only) answer.
    visitor.locator(".feedback-down").click()
    visitor.locator(".feedback-note", has_text="Thanks for your feedback.").wait_for()
    assert visitor.locator(".feedback-down").get_attribute("aria-pressed") == "true"
    visitor.locator(".feedback-comment-toggle").click()
    visitor.locator(".feedback-text").fill("Too vague")
    with visitor.expect_response("**/feedback/") as posted:
        visitor.locator(".feedback-send").click()
    assert posted.value.status == 200
    rated = posted.value.json()["data"]
    session_key = rated["session_key"]
    assert rated == {"session_key": session_key, "turn": 1, "rating": "down", "comment": "Too vague"}
    assert list(Feedback.objects.values_list("rating", "comment")) == [("down", "Too vague")]

    console = chromium.new_page(viewport={"width": 1360, "height": 900})
    sign_in(console, site, "owner", "/dashboard/chatbots/shop/conversations/")
    row = console.locator(f'#conversations tr[data-session="{session_key}"]')
    assert row.locator("td.mono").inner_text() == "public"
    assert row.locator("td.rating").inner_text() == "0 up 1 down"
    assert row.locator("td.preview-text").inner_text() != ""
    shot(console, "console-conversations.png")

    console.select_option("#c-rating", "up")
    console.click("#conversation-filters button[type=submit]")
    console.wait_for_url("**rating=up**")
    assert console.locator("#conversations tbody").inner_text() == "No sessions match."
    console.select_option("#c-rating", "down")
    console.click("#conversation-filters button[type=submit]")
    console.wait_for_url("**rating=down**")
    console.locator(f'#conversations tr[data-session="{session_key}"] a').click()
    console.wait_for_url(f"**/conversations/{session_key}/")
    assert console.locator("#turn-1 .message.user .content").inner_text() == "How much is a Gizmo?"
    assert console.locator("#turn-1 .feedback-rating").inner_text() == "Thumbs down"
    assert console.locator("#turn-1 .feedback-comment").inner_text() == "Too vague"
    shot(console, "console-conversation.png")
