"""The deployed chatbot in a real browser (Chromium): its branded page, a streamed answer, the
history after a reload, the widget on another site, and the shared chat renderer: markdown
answers, untrusted prompts, answers and branding rendered inert, stop, regenerate, copy, new
conversation, feedback, the tool indicator, auto-scroll and the keyboard.

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
from smarter.apps.plugin.tests.servers import loopback_server
from smarter.testing.openai_stub import OpenAIStub, text_reply, tool_calls_reply

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


def open_shop(browser: Any, owner: Persona, asgi_server: Any, context: Any = None, **config: Any) -> Any:
    """The shop chatbot deployed (an OpenAI-compatible model, the stub), its page opened; every
    dialog a script might open is recorded in `page.dialogs` and dismissed."""
    apply(owner, chatbot_manifest("shop", deployed=True, defaultModel="gpt-4o-mini", **{**BRANDING, **config}))
    page = (context or browser).new_page()
    page.set_viewport_size({"width": 1100, "height": 800})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.dialogs = dialogs
    page.goto(shop_url(owner, asgi_server))
    page.wait_for_load_state("networkidle")
    return page


def ask(page: Any, prompt: str) -> Any:
    """Types `prompt`, sends it with Enter, waits for the whole answer; the answer's bubble."""
    before = page.locator(".message.assistant:not(.welcome)").count()
    page.fill("#prompt", prompt)
    page.press("#prompt", "Enter")
    page.wait_for_function(
        "count => document.querySelectorAll('.message.assistant:not(.welcome)').length > count"
        " && !document.querySelector('[aria-busy]')",
        arg=before,
    )
    return page.locator(".message.assistant:not(.welcome) .bubble").last


RICH_ANSWER = (
    "## Gizmo prices\n\n"
    "| Model | Price |\n|:--|--:|\n| Gizmo | $12.50 |\n| Gizmo Pro | $20.00 |\n\n"
    "- Colours\n  - red\n  - teal\n- Sizes\n\n"
    "```python\ndef price(model):\n    return PRICES[model]\n```\n\n"
    "See [the catalogue](https://example.com/catalogue) or https://example.com/faq."
)


def test_a_markdown_answer_shows_a_table_a_heading_nested_lists_highlighted_code_and_safe_links(
    owner: Persona, asgi_server: Any, browser: Any, upstream: OpenAIStub
) -> None:
    page = open_shop(browser, owner, asgi_server)
    assert page.evaluate("() => window.SmarterChat.rendersMarkdown()") is True
    upstream.enqueue(text_reply(RICH_ANSWER))
    bubble = ask(page, "What do Gizmos cost?")
    assert bubble.locator("h2").inner_text() == "Gizmo prices"
    assert bubble.locator("table thead th").all_inner_texts() == ["Model", "Price"]
    assert bubble.locator("table tbody td").all_inner_texts() == ["Gizmo", "$12.50", "Gizmo Pro", "$20.00"]
    # The alignment of the columns, as classes: the page's policy forbids style attributes.
    assert bubble.locator("table tbody td").nth(1).get_attribute("class") == "align-right"
    assert bubble.locator("ul > li > ul > li").all_inner_texts() == ["red", "teal"]
    code = bubble.locator("pre code")
    assert code.get_attribute("class") == "hljs language-python"
    assert code.inner_text() == "def price(model):\n    return PRICES[model]\n"
    assert code.locator("span.hljs-keyword").first.inner_text() == "def"
    links = bubble.locator("a")
    assert [links.nth(i).get_attribute("href") for i in range(links.count())] == [
        "https://example.com/catalogue",
        "https://example.com/faq",
    ]
    for index in range(links.count()):
        assert links.nth(index).get_attribute("target") == "_blank"
        assert links.nth(index).get_attribute("rel") == "noopener noreferrer"
    assert page.dialogs == []
    shot(page, "chatbot-markdown-answer.png")


HOSTILE_PAYLOADS = [
    "<script>alert('script')</script>",
    "<img src=x onerror=alert('img')>",
    "<svg onload=alert('svg')></svg>",
    "<iframe src=\"javascript:alert('iframe')\"></iframe>",
    "<a href=\"javascript:alert('html-link')\">html link</a>",
    "[markdown link](javascript:alert('md-link'))",
    "[mixed case](JaVaScRiPt:alert('case'))",
    "[entity](jav&#x09;ascript:alert('entity'))",
    "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![image](javascript:alert('image'))",
    "![pixel](https://example.com/pixel.png)",
    "<details open ontoggle=alert('details')>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert('mxss')>",
    "```html\n<script>alert('code')</script>\n```",
]


def test_no_script_runs_from_a_hostile_prompt_answer_or_branding(
    owner: Persona, asgi_server: Any, browser: Any, upstream: OpenAIStub
) -> None:
    hostile = "<img src=x onerror=alert('brand')><script>alert('brand')</script>"
    page = open_shop(
        browser,
        owner,
        asgi_server,
        appName=f"Shop {hostile}",
        appAssistant=hostile,
        appWelcomeMessage=f"**Hi** {hostile}",
        appExamplePrompts=[hostile],
        appPlaceholder=hostile,
    )
    assert page.locator("h1").inner_text() == f"Shop {hostile}"
    assert page.locator(".example").inner_text() == hostile
    answer = "\n\n".join(HOSTILE_PAYLOADS)
    upstream.enqueue(text_reply(answer), text_reply(answer))
    # The example prompt, itself hostile, sent as a prompt; then every payload typed as one.
    page.locator(".example").click()
    page.wait_for_function("() => document.querySelector('.message.user') && !document.querySelector('[aria-busy]')")
    bubble = ask(page, "\n".join(HOSTILE_PAYLOADS))
    assert page.locator(".message.user .bubble").all_inner_texts() == [hostile, "\n".join(HOSTILE_PAYLOADS)]
    page.wait_for_timeout(300)
    assert page.dialogs == []
    everything = page.locator("#messages")
    assert everything.locator("script, img, svg, iframe, math, style, details").count() == 0
    assert (
        page.evaluate(
            "() => [...document.querySelectorAll('#messages *')].flatMap(node => [...node.attributes])"
            ".filter(attribute => attribute.name.startsWith('on') || attribute.name === 'style').length"
        )
        == 0
    )
    # Images are not shown: `![pixel](https://…)` becomes a link to it; no other link survives.
    hrefs = page.evaluate("() => [...document.querySelectorAll('#messages a')].map(a => a.getAttribute('href'))")
    assert hrefs == ["https://example.com/pixel.png"] * 2
    # The code block shows the HTML as text.
    assert bubble.locator("pre code").inner_text() == "<script>alert('code')</script>\n"
    assert "<img src=x onerror=alert('img')>" in bubble.inner_text()
    shot(page, "chatbot-hostile-answer.png")


def test_without_its_libraries_the_page_still_chats_in_plain_text(
    owner: Persona, asgi_server: Any, browser: Any, upstream: OpenAIStub
) -> None:
    context = browser.new_context()
    context.route("**/static/vendor/**", lambda route: route.abort())
    page = open_shop(browser, owner, asgi_server, context=context)
    assert page.evaluate("() => window.SmarterChat.rendersMarkdown()") is False
    upstream.enqueue(text_reply("**Bold** <b>and</b> `code`\n- item"))
    bubble = ask(page, "Hello")
    assert bubble.inner_text() == "**Bold** <b>and</b> `code`\n- item"
    assert bubble.locator("strong, b, code, li").count() == 0
    context.close()


LONG_ANSWER = " ".join(f"word{number}" for number in range(200))


def test_stopping_mid_stream_keeps_the_partial_answer_marked_as_cut_short(
    owner: Persona, asgi_server: Any, browser: Any, upstream: OpenAIStub
) -> None:
    page = open_shop(browser, owner, asgi_server)
    upstream.enqueue(text_reply(LONG_ANSWER, chunk_delay=0.05))
    page.fill("#prompt", "Talk for a while")
    page.press("#prompt", "Enter")
    stop = page.get_by_role("button", name="Stop generating")
    stop.wait_for()
    assert page.locator("#send").is_hidden()
    page.wait_for_function(
        "() => document.querySelector('.message.assistant:not(.welcome) .bubble').innerText.includes('word5')"
    )
    stop.click()
    page.wait_for_function("() => !document.querySelector('[aria-busy]')")
    answer = page.locator(".message.assistant:not(.welcome)").last
    assert answer.get_attribute("class") == "message assistant cut-short"
    assert answer.locator(".cut-short").inner_text() == "Stopped: the answer is incomplete."
    partial = answer.locator(".bubble").inner_text()
    assert partial.startswith("word0 word1 word2 word3 word4 word5") and len(partial) < len(LONG_ANSWER)
    assert stop.is_hidden() and page.locator("#send").is_visible()
    # Stopping closed the stream: the platform cancelled its call to the model.
    assert upstream.wait_for_disconnect() is not None
    shot(page, "chatbot-stopped.png")


def test_regenerate_sends_the_same_prompt_again(
    owner: Persona, asgi_server: Any, browser: Any, upstream: OpenAIStub
) -> None:
    page = open_shop(browser, owner, asgi_server)
    upstream.enqueue(text_reply("The Gizmo costs $12.50."), text_reply("It is $12.50, tax included."))
    ask(page, "What does the Gizmo cost?")
    regenerate = page.locator(".message.assistant:not(.welcome) .regenerate")
    assert regenerate.count() == 1
    regenerate.click()
    page.wait_for_function(
        "() => document.querySelectorAll('.message.assistant:not(.welcome)').length === 2"
        " && !document.querySelector('[aria-busy]')"
    )
    assert page.locator(".message.user .bubble").all_inner_texts() == ["What does the Gizmo cost?"] * 2
    assert page.locator(".message.assistant:not(.welcome) .bubble").all_inner_texts() == [
        "The Gizmo costs $12.50.",
        "It is $12.50, tax included.",
    ]
    assert [request.messages[-1] for request in upstream.chat_requests] == [
        {"role": "user", "content": "What does the Gizmo cost?"}
    ] * 2
    # Only the last answer can be regenerated.
    assert [button.is_visible() for button in regenerate.all()] == [False, True]


def test_copy_puts_the_answers_markdown_in_the_clipboard(
    owner: Persona, asgi_server: Any, browser: Any, upstream: OpenAIStub
) -> None:
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = open_shop(browser, owner, asgi_server, context=context)
    upstream.enqueue(text_reply(RICH_ANSWER))
    ask(page, "What do Gizmos cost?")
    copy = page.locator(".message.assistant:not(.welcome) .copy")
    copy.click()
    assert copy.inner_text() == "Copied"
    assert page.evaluate("() => navigator.clipboard.readText()") == RICH_ANSWER
    context.close()


def test_the_page_says_which_plugin_is_running_while_a_slow_one_answers(
    owner: Persona, asgi_server: Any, browser: Any, upstream: OpenAIStub
) -> None:
    with loopback_server() as site:
        apply(
            owner,
            {
                "apiVersion": "smarter.sh/v1",
                "kind": "ApiConnection",
                "metadata": {"name": "warehouse"},
                "spec": {"connection": {"baseUrl": site.url, "timeout": 10}},
            },
        )
        apply(
            owner,
            {
                "apiVersion": "smarter.sh/v1",
                "kind": "ApiPlugin",
                "metadata": {"name": "inventory"},
                "spec": {
                    "selector": {"directive": "always"},
                    "connection": "warehouse",
                    "apiData": {"description": "Stock levels", "endpoint": "/slow", "method": "GET", "parameters": []},
                },
            },
        )
        page = open_shop(browser, owner, asgi_server)
        apply(
            owner,
            chatbot_manifest("shop", plugins=["inventory"], deployed=True, defaultModel="gpt-4o-mini", **BRANDING),
        )
        upstream.enqueue(tool_calls_reply(("inventory", {})), text_reply("Plenty in stock."))
        page.fill("#prompt", "Is the Gizmo in stock?")
        page.press("#prompt", "Enter")
        status = page.locator(".message.assistant:not(.welcome) .tool-status")
        status.wait_for(state="visible")
        assert status.inner_text() == "Using inventory…"
        page.wait_for_function("() => !document.querySelector('[aria-busy]')", timeout=15000)
        assert status.is_hidden()
        assert page.locator(".message.assistant:not(.welcome) .bubble").inner_text() == "Plenty in stock."


def test_following_the_answer_stops_when_the_reader_scrolls_up_and_resumes_at_the_bottom(
    owner: Persona, asgi_server: Any, browser: Any, upstream: OpenAIStub
) -> None:
    page = open_shop(browser, owner, asgi_server)
    page.set_viewport_size({"width": 800, "height": 500})
    lines = "\n\n".join(f"Paragraph {number} of a long answer." for number in range(120))
    upstream.enqueue(text_reply(lines, chunk_delay=0.02))
    page.fill("#prompt", "Tell me everything")
    page.press("#prompt", "Enter")
    at_bottom = "() => { const box = document.getElementById('messages'); return box.scrollHeight - box.scrollTop - box.clientHeight < 50; }"
    page.wait_for_function("() => document.getElementById('messages').scrollHeight > 1500")
    assert page.evaluate(at_bottom) is True
    page.locator("#messages").hover()
    page.mouse.wheel(0, -800)
    page.wait_for_timeout(300)
    held = page.evaluate("() => document.getElementById('messages').scrollTop")
    page.wait_for_timeout(800)
    # Tokens kept coming, the reader's place did not move.
    assert page.evaluate("() => document.getElementById('messages').scrollTop") == held
    assert page.evaluate(at_bottom) is False
    page.evaluate("() => { const box = document.getElementById('messages'); box.scrollTop = box.scrollHeight; }")
    page.wait_for_timeout(500)
    assert page.evaluate(at_bottom) is True
    page.wait_for_function("() => !document.querySelector('[aria-busy]')", timeout=20000)
    assert page.evaluate(at_bottom) is True


def test_new_conversation_clears_the_page_and_the_next_question_starts_a_new_session(
    owner: Persona, asgi_server: Any, browser: Any, upstream: OpenAIStub
) -> None:
    page = open_shop(browser, owner, asgi_server)
    upstream.enqueue(text_reply("First answer."), text_reply("Second answer."))
    ask(page, "First question")
    page.click("#new-conversation")
    assert page.locator(".message.user").count() == 0
    assert page.locator("#welcome").is_visible() and page.locator("#examples").is_visible()
    page.wait_for_load_state("networkidle")
    page.reload()
    page.wait_for_load_state("networkidle")
    assert page.locator(".message.user").count() == 0
    ask(page, "Second question")
    assert [message["content"] for message in upstream.chat_requests[-1].messages if message["role"] == "user"] == [
        "Second question"
    ]


def test_the_keyboard_sends_with_enter_and_breaks_lines_with_shift_enter(
    owner: Persona, asgi_server: Any, browser: Any, upstream: OpenAIStub
) -> None:
    page = open_shop(browser, owner, asgi_server)
    page.keyboard.press("Tab")
    skip = page.locator(".skip-link")
    assert page.evaluate("() => document.activeElement.className") == "skip-link" and skip.is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "prompt"
    upstream.enqueue(text_reply("Noted."))
    page.keyboard.type("first line")
    page.keyboard.press("Shift+Enter")
    page.keyboard.type("second line")
    assert page.locator(".message.user").count() == 0
    page.keyboard.press("Enter")
    page.wait_for_function("() => !document.querySelector('[aria-busy]') && document.querySelector('.message.user')")
    assert page.locator(".message.user .bubble").inner_text() == "first line\nsecond line"
    # The finished answer is announced to screen readers, and the focus is back in the box.
    assert page.locator(".chat-announcer").inner_text() == "Noted."
    assert page.locator(".chat-announcer").get_attribute("aria-live") == "polite"
    assert page.evaluate("() => document.activeElement.id") == "prompt"


def test_feedback_buttons_post_the_rating_and_comment_for_a_numbered_turn(
    owner: Persona, asgi_server: Any, browser: Any, upstream: OpenAIStub
) -> None:
    from smarter.apps.chat.models import Feedback

    page = open_shop(browser, owner, asgi_server)
    upstream.enqueue(text_reply("The first answer."), text_reply("The second answer."))
    ask(page, "First")
    posted: list[dict[str, Any]] = []
    page.on("request", lambda request: request.url.endswith("/feedback/") and posted.append(request.post_data_json))
    ask(page, "Second")
    answer = page.locator(".message.assistant:not(.welcome)").last
    with page.expect_response("**/feedback/") as rated:
        answer.locator(".feedback-up").click()
    assert rated.value.status == 200
    assert answer.locator(".feedback-up").get_attribute("aria-pressed") == "true"
    answer.locator(".feedback-note", has_text="Thanks for your feedback.").wait_for()
    answer.locator(".feedback-comment-toggle").click()
    answer.locator(".feedback-text").fill("Short and right.")
    with page.expect_response("**/feedback/"):
        answer.locator(".feedback-send").click()
    with page.expect_response("**/feedback/"):
        answer.locator(".feedback-down").click()
    session_key = posted[0]["session_key"]
    # The second answer is turn 2 of the visitor's session, as the chat body numbered it.
    assert posted == [
        {"session_key": session_key, "turn": 2, "rating": "up", "comment": ""},
        {"session_key": session_key, "turn": 2, "rating": "up", "comment": "Short and right."},
        {"session_key": session_key, "turn": 2, "rating": "down", "comment": "Short and right."},
    ]
    assert answer.locator(".feedback-up").get_attribute("aria-pressed") == "false"
    assert answer.locator(".feedback-down").get_attribute("aria-pressed") == "true"
    stored = Feedback.objects.values_list("turn__index", "rating", "comment")
    assert list(stored) == [(2, "down", "Short and right.")]
    shot(page, "chatbot-feedback.png")


AXE = Path(__file__).resolve().parents[4] / "node_modules" / "axe-core" / "axe.min.js"


def test_the_page_with_an_answer_has_no_accessibility_violation_axe_finds(
    owner: Persona, asgi_server: Any, browser: Any, upstream: OpenAIStub
) -> None:
    if not AXE.exists():
        pytest.skip("needs axe-core: run `npm ci` at the repository's root")
    # axe is injected as an inline script, which the page's policy rightly refuses.
    context = browser.new_context(bypass_csp=True)
    page = open_shop(browser, owner, asgi_server, context=context)
    upstream.enqueue(text_reply(RICH_ANSWER))
    ask(page, "What do Gizmos cost?")
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}))
            .violations.map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"""
    )
    assert violations == []
    context.close()
