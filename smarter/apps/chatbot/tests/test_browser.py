"""The deployed chatbot in a real browser (Chromium): its branded page, a streamed answer, the
history after a reload, the widget on another site, and untrusted model output rendered inert.

Screenshots go to `test-artifacts/` (ignored by git) for a look at the design.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chatbot.tests.helpers import CATALOGUE, apply, chatbot_manifest
from smarter.apps.chatbot.tests.servers import StaticPage
from smarter.testing.openai_stub import OpenAIStub, text_reply

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[4] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BRANDING = {
    "appName": "Gizmo Shop",
    "appAssistant": "Sam",
    "appWelcomeMessage": "Hi! I'm Sam. Ask me anything about the Gizmo.",
    "appExamplePrompts": ["What does the Gizmo cost?", "Which colours does the Gizmo come in?"],
    "appPlaceholder": "Ask about Gizmos…",
    "appInfoUrl": "https://example.com/about",
}

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium")


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread; the test's own database calls are safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def owner(asgi_server: Any, smarter_settings: Any) -> Persona:
    smarter_settings.root_domain = "localhost"
    smarter_settings.platform_host = f"127.0.0.1:{asgi_server.port}"
    return make_persona(make_account("Acme"), "owner", Role.ADMIN)


def shop_url(owner: Persona, asgi_server: Any, name: str = "shop") -> str:
    return f"http://{name}.{owner.account.account_number}.api.localhost:{asgi_server.port}/"


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_a_visitor_clicks_an_example_sees_the_answer_stream_in_and_finds_it_after_a_reload(
    owner: Persona, asgi_server: Any, browser: Any
) -> None:
    apply(owner, CATALOGUE)
    apply(owner, chatbot_manifest("shop", plugins=["catalogue"], deployed=True, **BRANDING))
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.goto(shop_url(owner, asgi_server))
    assert page.title() == "Gizmo Shop"
    assert page.locator("h1").inner_text() == "Gizmo Shop"
    assert page.locator("#assistant-name").inner_text() == "Sam"
    assert page.locator("#welcome").inner_text() == "Hi! I'm Sam. Ask me anything about the Gizmo."
    assert page.locator("#prompt").get_attribute("placeholder") == "Ask about Gizmos…"
    assert page.locator("#info-link").get_attribute("href") == "https://example.com/about"
    assert page.locator(".example").all_inner_texts() == BRANDING["appExamplePrompts"]
    page.wait_for_load_state("networkidle")
    shot(page, "chatbot-page.png")

    with page.expect_response(lambda response: response.url.endswith("/chat/")) as chat:
        page.locator(".example", has_text="What does the Gizmo cost?").click()
    assert chat.value.headers["content-type"] == "text/event-stream"
    answer = page.locator(".message.assistant:not(.welcome) .bubble").last
    page.wait_for_function("() => !document.querySelector('[aria-busy]')")
    assert "$12.50" in answer.inner_text()
    assert page.locator(".message.user .bubble").all_inner_texts() == ["What does the Gizmo cost?"]
    # The answer came as a stream of token events, which the page rendered as they came.
    stream = chat.value.text()
    # (A visitor's answer is the plugin's data alone, with no note for the operator: a few words.)
    assert stream.count("event: token") > 2 and stream.rstrip().split("\n\n")[-1].startswith("event: done")
    page.wait_for_load_state("networkidle")
    final = answer.inner_text()
    shot(page, "chatbot-answer.png")

    page.reload()
    page.wait_for_selector(".message.user")
    page.wait_for_load_state("networkidle")
    assert page.locator(".message.user .bubble").all_inner_texts() == ["What does the Gizmo cost?"]
    assert page.locator(".message.assistant:not(.welcome) .bubble").last.inner_text() == final
    shot(page, "chatbot-after-reload.png")


def test_the_widget_on_another_site_opens_a_branded_panel_and_chats(
    owner: Persona, asgi_server: Any, browser: Any
) -> None:
    apply(owner, CATALOGUE)
    url = shop_url(owner, asgi_server)
    html = (
        "<!doctype html><html><head><title>Acme Store</title></head>"
        "<body style='font-family:sans-serif;background:#f8fafc;margin:40px'>"
        "<h1>Acme Store</h1><p>Welcome to our shop. Questions? Use the chat button.</p>"
        f'<script src="{url}widget.js" async></script></body></html>'
    )
    with StaticPage(html) as site:
        apply(
            owner,
            chatbot_manifest("shop", plugins=["catalogue"], deployed=True, allowedOrigins=[site.origin], **BRANDING),
        )
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.goto(site.origin)
        launcher = page.get_by_role("button", name="Chat with Sam")
        launcher.wait_for()
        assert launcher.get_attribute("aria-expanded") == "false"
        shot(page, "widget-closed.png")
        launcher.click()
        assert launcher.get_attribute("aria-expanded") == "true"
        frame = page.frame_locator("iframe[title='Gizmo Shop']")
        assert frame.locator("h1").inner_text() == "Gizmo Shop"
        frame.locator(".example", has_text="What does the Gizmo cost?").click()
        frame.locator(".message.user").wait_for()
        page.wait_for_timeout(200)
        embedded = next(f for f in page.frames if f.url.startswith(url))
        embedded.wait_for_function("() => !document.querySelector('[aria-busy]')")
        assert "$12.50" in frame.locator(".message.assistant:not(.welcome) .bubble").last.inner_text()
        shot(page, "widget-open.png")
        launcher.click()
        assert page.locator("iframe").is_hidden()


def test_a_site_not_listed_cannot_frame_the_chatbot(owner: Persona, asgi_server: Any, browser: Any) -> None:
    apply(owner, chatbot_manifest("shop", deployed=True, **BRANDING))
    url = shop_url(owner, asgi_server)
    with StaticPage(f'<!doctype html><iframe src="{url}" title="framed"></iframe>') as site:
        page = browser.new_page()
        page.goto(site.origin)
        page.wait_for_timeout(500)
        framed = [f for f in page.frames if f.url.startswith(url)]
        # Chromium replaces a refused frame's document: the chatbot page never loads in it.
        assert all(f.evaluate("() => document.querySelector('h1') === null") for f in framed)


@pytest.fixture
def upstream(smarter_settings: Any) -> Iterator[OpenAIStub]:
    with OpenAIStub() as stub:
        smarter_settings.llm_provider = "openai"
        smarter_settings.openai_base_url = stub.url
        smarter_settings.openai_api_key = "sk-platform"
        smarter_settings.allow_private_hosts = True
        yield stub


HOSTILE_ANSWER = (
    "Here you go: <script>window.__pwned = 'script'</script>\n\n"
    '<img src="x" onerror="window.__pwned = \'img\'">\n\n'
    "[click me](javascript:window.__pwned='link') and [docs](https://example.com/docs?a=1&b=2)\n\n"
    "**bold** and *soft* and `<b>code</b>`\n\n"
    "- one\n- two <i>three</i>"
)


def test_a_hostile_model_answer_renders_inert(
    owner: Persona, asgi_server: Any, browser: Any, upstream: OpenAIStub
) -> None:
    apply(owner, chatbot_manifest("shop", deployed=True, defaultModel="gpt-4o-mini", **BRANDING))
    upstream.enqueue(text_reply(HOSTILE_ANSWER))
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(shop_url(owner, asgi_server))
    page.fill("#prompt", "Show me something")
    page.press("#prompt", "Enter")
    page.wait_for_function(
        "() => !document.querySelector('[aria-busy]') && document.querySelectorAll('.message').length >= 3"
    )
    bubble = page.locator(".message.assistant:not(.welcome) .bubble").last
    assert page.evaluate("window.__pwned") is None and dialogs == []
    assert bubble.locator("script, img, i, b").count() == 0
    links = bubble.locator("a")
    assert links.count() == 1
    assert links.first.get_attribute("href") == "https://example.com/docs?a=1&b=2"
    assert links.first.get_attribute("rel") == "noopener noreferrer"
    assert links.first.get_attribute("target") == "_blank"
    assert bubble.inner_html() == (
        "<p>Here you go: &lt;script&gt;window.__pwned = 'script'&lt;/script&gt;</p>"
        '<p>&lt;img src="x" onerror="window.__pwned = \'img\'"&gt;</p>'
        "<p>[click me](javascript:window.__pwned='link') and "
        '<a href="https://example.com/docs?a=1&amp;b=2" target="_blank" rel="noopener noreferrer">docs</a></p>'
        "<p><strong>bold</strong> and <em>soft</em> and <code>&lt;b&gt;code&lt;/b&gt;</code></p>"
        "<ul><li>one</li><li>two &lt;i&gt;three&lt;/i&gt;</li></ul>"
    )
    shot(page, "chatbot-hostile-answer.png")


@pytest.mark.parametrize(
    ("source", "html"),
    [
        ("plain **bold** _it_ *it*", "<p>plain <strong>bold</strong> <em>it</em> <em>it</em></p>"),
        ("a\nb\n\nc", "<p>a<br>b</p><p>c</p>"),
        ("1. first\n2. second", "<ol><li>first</li><li>second</li></ol>"),
        ("```\n<script>x</script>\n```", "<pre><code>&lt;script&gt;x&lt;/script&gt;</code></pre>"),
        ("[x](JAVASCRIPT:alert(1))", "<p>[x](JAVASCRIPT:alert(1))</p>"),
        ("[x](data:text/html,hi)", "<p>[x](data:text/html,hi)</p>"),
        (
            '[x](https://a.test/"onmouseover=")',
            '<p><a href="https://a.test/%22onmouseover=%22" target="_blank" rel="noopener noreferrer">x</a></p>',
        ),
        (
            "[**b**](http://a.test/p)",
            '<p><a href="http://a.test/p" target="_blank" rel="noopener noreferrer">**b**</a></p>',
        ),
        ("snake_case_name stays", "<p>snake_case_name stays</p>"),
        ("<a href='https://x.test'>x</a>", "<p>&lt;a href='https://x.test'&gt;x&lt;/a&gt;</p>"),
    ],
)
def test_the_markdown_subset(owner: Persona, asgi_server: Any, browser: Any, source: str, html: str) -> None:
    apply(owner, chatbot_manifest("shop", deployed=True))
    page = browser.new_page()
    page.goto(shop_url(owner, asgi_server))
    assert page.evaluate("source => window.SmarterMarkdown.toHtml(source)", source) == html
