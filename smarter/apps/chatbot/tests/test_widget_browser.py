"""The widget with the one documented tag, on a site of another origin (a loopback server on
another port), in Chromium: it opens, chats, closes with Escape and gives focus back; on a site
the chatbot does not allow it says why instead of an empty frame; its data attributes are checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.chatbot.tests import test_browser as page_tests
from smarter.apps.chatbot.tests.helpers import apply, chatbot_manifest
from smarter.apps.chatbot.tests.servers import StaticPage
from smarter.apps.chatbot.tests.test_browser import BRANDING, CHROMIUM, shop_url, shot
from smarter.testing.openai_stub import OpenAIStub, text_reply

# The fixtures of the page's browser tests: Chromium, and an owner whose chatbots serve on loopback.
browser = page_tests.browser
owner = page_tests.owner

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium")

ANSWER = "The Gizmo costs $12.50 and comes in red or teal."


@pytest.fixture
def upstream(smarter_settings: Any) -> Iterator[OpenAIStub]:
    with OpenAIStub() as stub:
        smarter_settings.llm_provider = "openai"
        smarter_settings.openai_base_url = stub.url
        smarter_settings.openai_api_key = "sk-platform"
        smarter_settings.allow_private_hosts = True
        yield stub


def store(tag: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><title>Acme Store</title></head><body>"
        "<main><h1>Acme Store</h1><p>Questions? Use the chat button.</p>"
        f"<a href='#top' id='first-link'>Top</a></main>{tag}</body></html>"
    )


def in_widget(page: Any, script: str) -> Any:
    """Evaluate `script` (a function of the widget's shadow root) in the host page."""
    return page.evaluate(f"() => ({script})(document.querySelector('[data-smarter-widget]').shadowRoot)")


def focused_in_widget(page: Any) -> str:
    return str(in_widget(page, "root => root.activeElement ? root.activeElement.tagName.toLowerCase() : ''"))


def test_on_another_site_it_opens_chats_and_closes_with_escape_giving_focus_back(
    owner: Persona, asgi_server: Any, browser: Any, upstream: OpenAIStub
) -> None:
    url = shop_url(owner, asgi_server)
    upstream.enqueue(text_reply(ANSWER))
    with StaticPage(store(f'<script src="{url}widget.js" async></script>')) as site:
        apply(owner, chatbot_manifest("shop", deployed=True, allowedOrigins=[site.origin], **BRANDING))
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        warnings: list[str] = []
        page.on("console", lambda message: warnings.append(message.text) if message.type == "warning" else None)
        page.goto(site.origin)
        launcher = page.get_by_role("button", name="Chat with Sam")
        launcher.wait_for()
        assert launcher.get_attribute("aria-expanded") == "false"

        launcher.focus()
        page.keyboard.press("Enter")
        assert launcher.get_attribute("aria-expanded") == "true"
        frame = page.frame_locator("iframe[title='Gizmo Shop']")
        assert frame.locator("h1").inner_text() == "Gizmo Shop"
        # Focus moved into the panel, and on into the chatbot's message box.
        assert focused_in_widget(page) == "iframe"
        embedded = next(f for f in page.frames if f.url.startswith(url))
        embedded.wait_for_function("() => document.activeElement && document.activeElement.id === 'prompt'")

        page.keyboard.type("What does the Gizmo cost?")
        page.keyboard.press("Enter")
        frame.locator(".message.user").wait_for()
        embedded.wait_for_function(
            "() => !document.querySelector('[aria-busy]') && document.querySelectorAll('.message.assistant').length >= 2"
        )
        assert frame.locator(".message.assistant:not(.welcome) .bubble").last.inner_text() == ANSWER
        assert upstream.chat_requests[-1].body["messages"][-1] == {
            "role": "user",
            "content": "What does the Gizmo cost?",
        }
        shot(page, "widget-chat.png")

        # Escape inside the chatbot's frame closes the widget; focus goes back to the launcher.
        page.keyboard.press("Escape")
        page.wait_for_function(
            "() => document.querySelector('[data-smarter-widget]').shadowRoot.querySelector('iframe')"
            ".closest('[role=dialog]').style.display === 'none'"
        )
        assert launcher.get_attribute("aria-expanded") == "false"
        assert focused_in_widget(page) == "button"
        assert in_widget(page, "root => root.activeElement.getAttribute('aria-label')") == "Chat with Sam"

        # Opened again with the mouse and closed by its Close button, then by Escape on the page.
        launcher.click()
        page.get_by_role("button", name="Close the chat").click()
        assert launcher.get_attribute("aria-expanded") == "false"
        launcher.click()
        in_widget(page, "root => root.querySelector('[aria-label=\"Close the chat\"]').focus()")
        page.keyboard.press("Escape")
        assert launcher.get_attribute("aria-expanded") == "false"
        assert warnings == []


def test_on_a_site_not_allowed_it_says_why_and_names_the_origin_to_add(
    owner: Persona, asgi_server: Any, browser: Any
) -> None:
    apply(owner, chatbot_manifest("shop", deployed=True, **BRANDING))
    url = shop_url(owner, asgi_server)
    with StaticPage(store(f'<script src="{url}widget.js" async></script>')) as site:
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        warnings: list[str] = []
        page.on("console", lambda message: warnings.append(message.text) if message.type == "warning" else None)
        page.goto(site.origin)
        page.get_by_role("button", name="Chat with Sam").click()
        notice = page.locator("[data-smarter-notice]")
        notice.wait_for()
        assert notice.get_attribute("data-smarter-notice") == "refused"
        assert notice.get_attribute("role") == "alert"
        assert notice.inner_text() == (
            f"This chat is not available on this site yet: the site's address ({site.origin}) is not among "
            "the chatbot's allowed origins. The site's owner can add it in the console."
        )
        assert page.locator("iframe").count() == 0  # no empty frame
        assert focused_in_widget(page) == "button"  # the panel's Close button
        assert warnings == [
            f"Smarter widget: {site.origin} may not embed the chatbot shop. Add it to the chatbot's allowed "
            "origins: in the console, Publish / Embed on the chatbot's page, or spec.config.allowedOrigins "
            "in its manifest."
        ]
        shot(page, "widget-refused.png")
        page.keyboard.press("Escape")
        assert page.get_by_role("button", name="Chat with Sam").get_attribute("aria-expanded") == "false"


def launcher_style(page: Any) -> dict[str, str]:
    return dict(
        in_widget(
            page,
            "root => { const b = root.querySelector('button[aria-expanded]'); const s = getComputedStyle(b);"
            " return {background: s.backgroundColor, color: s.color, left: b.style.left, right: b.style.right}; }",
        )
    )


def test_colour_and_side_come_from_the_tag_and_bad_values_are_refused_with_a_warning(
    owner: Persona, asgi_server: Any, browser: Any
) -> None:
    url = shop_url(owner, asgi_server)
    with StaticPage(
        store(f'<script src="{url}widget.js" data-color="#FDE68A" data-position="left" async></script>')
    ) as site:
        apply(owner, chatbot_manifest("shop", deployed=True, allowedOrigins=[site.origin], **BRANDING))
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.goto(site.origin)
        page.get_by_role("button", name="Chat with Sam").wait_for()
        # A light colour gets dark text, so the initial stays readable.
        assert launcher_style(page) == {
            "background": "rgb(253, 230, 138)",
            "color": "rgb(15, 23, 42)",
            "left": "20px",
            "right": "",
        }

    bad = f'<script src="{url}widget.js" data-color="red;position:static" data-position="middle" async></script>'
    with StaticPage(store(bad)) as site:
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        warnings: list[str] = []
        page.on("console", lambda message: warnings.append(message.text) if message.type == "warning" else None)
        page.goto(site.origin)
        page.get_by_role("button", name="Chat with Sam").wait_for()
        assert launcher_style(page) == {
            "background": "rgb(79, 70, 229)",
            "color": "rgb(255, 255, 255)",
            "left": "",
            "right": "20px",
        }
        assert warnings == [
            'Smarter widget: data-color="red;position:static" is not a colour such as #0f766e; using #4f46e5.',
            'Smarter widget: data-position="middle" must be left or right; using right.',
        ]
