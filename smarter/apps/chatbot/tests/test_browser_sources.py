"""Answers from a knowledge base in a real browser (Chromium), with the offline model: the branded
page and the widget show the sources under the answer, and again after a reload, and the
sandbox's inspector shows the chunks the knowledge plugin retrieved, with their scores.

Screenshots go to `test-artifacts/` (ignored by git).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smarter.apps.account.models import Role
from smarter.apps.account.tests.factories import Persona, make_account, make_persona
from smarter.apps.chat.models import ToolCall
from smarter.apps.chatbot.tests.helpers import apply, chatbot_manifest
from smarter.apps.chatbot.tests.servers import StaticPage

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[4] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync"]
PASSWORD = "correct horse battery staple 42"
QUESTION = "What does the warranty cover?"
MANUAL = """# Gizmo manual

## Charging

Charge the Gizmo for two hours before its first use. A full charge lasts a week.

## Warranty

The Gizmo carries a two-year warranty covering the battery and the casing. Dropping it is not covered.
"""

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
def owner(asgi_server: Any, smarter_settings: Any, tmp_path: Path) -> Persona:
    smarter_settings.llm_provider = "offline"
    smarter_settings.root_domain = "localhost"
    smarter_settings.platform_host = f"127.0.0.1:{asgi_server.port}"
    smarter_settings.knowledge_dir = str(tmp_path / "knowledge")
    persona = make_persona(make_account("Acme"), "owner", Role.ADMIN)
    persona.user.set_password(PASSWORD)
    persona.user.save(update_fields=["password"])
    return persona


def manual_chatbot(owner: Persona, **config: Any) -> None:
    """The `shop` chatbot, deployed, answering from a knowledge base holding the Gizmo manual."""
    apply(
        owner,
        {
            "apiVersion": "smarter.sh/v1",
            "kind": "KnowledgeBase",
            "metadata": {"name": "gizmo_docs"},
            "spec": {"embedding": {"provider": "local"}, "retrieval": {"mode": "hybrid", "topK": 2}},
        },
    )
    added = owner.client.post(
        "/api/v1/knowledge/gizmo_docs/documents/", {"name": "gizmo-manual.md", "text": MANUAL}, format="json"
    )
    assert added.status_code == 202, added.content
    path = f"/api/v1/knowledge/gizmo_docs/documents/{added.json()['id']}/"
    deadline = time.monotonic() + 60
    while owner.client.get(path).json()["data"]["status"] not in ("ready", "failed") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert owner.client.get(path).json()["data"]["status"] == "ready"
    apply(
        owner,
        {
            "apiVersion": "smarter.sh/v1",
            "kind": "KnowledgePlugin",
            "metadata": {"name": "manual_search", "pluginClass": "knowledge"},
            "spec": {
                "selector": {"directive": "always"},
                "knowledge": {"knowledgeBase": "gizmo_docs", "topK": 2, "description": "Searches the Gizmo manual"},
            },
        },
    )
    apply(
        owner,
        chatbot_manifest(
            "shop",
            plugins=["manual_search"],
            deployed=True,
            appName="Gizmo Shop",
            appExamplePrompts=[QUESTION],
            **config,
        ),
    )


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def expected_sources() -> list[str]:
    """The sources line of the one answer: its document and the chunks the plugin retrieved."""
    cited = ToolCall.objects.get().result["results"]
    chunks = ", ".join(str(result["chunk"]) for result in cited)
    label = "chunks" if len(cited) > 1 else "chunk"
    return [f"gizmo-manual.md · {label} {chunks}"]


def test_the_branded_page_shows_the_answer_from_the_manual_and_its_source_under_it(
    owner: Persona, asgi_server: Any, browser: Any
) -> None:
    manual_chatbot(owner)
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.goto(f"http://shop.{owner.account.account_number}.api.localhost:{asgi_server.port}/")
    page.locator(".example", has_text=QUESTION).click()
    page.wait_for_selector(".message.assistant .sources")
    page.wait_for_function("() => !document.querySelector('[aria-busy]')")
    answer = page.locator(".message.assistant:not(.welcome) .bubble").last
    assert "two-year warranty covering the battery and the casing" in answer.inner_text()
    assert "From \u201cgizmo-manual.md\u201d" in answer.inner_text()
    assert answer.locator(".sources-label").inner_text().lower() == "sources"
    assert answer.locator(".source").all_inner_texts() == expected_sources()
    shot(page, "chatbot-answer-sources.png")


def test_after_a_reload_the_page_shows_the_answer_with_its_sources_again(
    owner: Persona, asgi_server: Any, browser: Any
) -> None:
    manual_chatbot(owner)
    page = browser.new_page(viewport={"width": 1100, "height": 800})
    page.goto(f"http://shop.{owner.account.account_number}.api.localhost:{asgi_server.port}/")
    page.locator(".example", has_text=QUESTION).click()
    page.wait_for_selector(".message.assistant .sources")
    page.wait_for_function("() => !document.querySelector('[aria-busy]')")
    answered = page.locator(".message.assistant:not(.welcome) .bubble").last.inner_text()

    page.reload()
    page.wait_for_selector(".message.user")
    page.wait_for_load_state("networkidle")
    assert page.locator(".message.user .bubble").all_inner_texts() == [QUESTION]
    answer = page.locator(".message.assistant:not(.welcome) .bubble").last
    assert answer.inner_text() == answered
    assert answer.locator(".sources-label").inner_text().lower() == "sources"
    assert answer.locator(".source").all_inner_texts() == expected_sources()
    shot(page, "chatbot-sources-after-reload.png")


def test_after_a_reload_of_the_site_the_widget_shows_the_answer_with_its_sources_again(
    owner: Persona, asgi_server: Any, browser: Any
) -> None:
    """The company's site on the chatbot's own domain (the widget's cookies are first-party
    there; a site of another domain gets the history only where the browser sends them)."""
    url = f"http://shop.{owner.account.account_number}.api.localhost:{asgi_server.port}/"
    html = f'<!doctype html><html><body><h1>Acme Store</h1><script src="{url}widget.js" async></script></body></html>'
    with StaticPage(html) as site:
        site_url = site.origin.replace("127.0.0.1", "www.api.localhost")
        manual_chatbot(owner, allowedOrigins=[site_url])
        page = browser.new_page(viewport={"width": 1100, "height": 800})
        page.goto(site_url)
        launcher = page.get_by_role("button", name="Chat with Gizmo Shop")
        launcher.click()
        frame = page.frame_locator("iframe[title='Gizmo Shop']")
        frame.locator(".example", has_text=QUESTION).click()
        frame.locator(".message.assistant .sources").wait_for()
        embedded = next(f for f in page.frames if f.url.startswith(url))
        embedded.wait_for_function("() => !document.querySelector('[aria-busy]')")
        answered = frame.locator(".message.assistant:not(.welcome) .bubble").last.inner_text()
        # The widget names the new session to /config/ once the answer has ended (that stores
        # the cookie the reload sends): let that request finish first.
        page.wait_for_load_state("networkidle")

        page.reload()
        page.get_by_role("button", name="Chat with Gizmo Shop").click()
        frame = page.frame_locator("iframe[title='Gizmo Shop']")
        frame.locator(".message.user").wait_for()
        assert frame.locator(".message.user .bubble").all_inner_texts() == [QUESTION]
        answer = frame.locator(".message.assistant:not(.welcome) .bubble").last
        assert answer.inner_text() == answered
        assert answer.locator(".source").all_inner_texts() == expected_sources()
        shot(page, "widget-sources-after-reload.png")


def test_the_sandbox_inspector_shows_the_retrieved_chunks_with_their_scores(
    owner: Persona, asgi_server: Any, browser: Any
) -> None:
    manual_chatbot(owner)
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    page.goto(asgi_server.url + "/login/?next=/dashboard/chatbots/shop/sandbox/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(asgi_server.url + "/dashboard/chatbots/shop/sandbox/")
    page.fill("#prompt", QUESTION)
    page.click("#send")
    page.wait_for_selector(".turn .inspector-body .retrieved-chunk")
    results = ToolCall.objects.get().result["results"]
    assert page.locator(".tool-name").all_inner_texts() == ["manual_search"]
    assert page.locator(".chunk-score").all_inner_texts() == [f"score {result['score']:.4f}" for result in results]
    assert page.locator(".chunk-document").all_inner_texts() == ["gizmo-manual.md"] * len(results)
    assert page.locator(".chunk-number").all_inner_texts() == [f"chunk {result['chunk']}" for result in results]
    assert page.locator(".chunk-text").all_inner_texts() == [result["text"] for result in results]
    assert "two-year warranty" in page.locator(".chunk-text").first.inner_text()
    shot(page, "console-sandbox-chunks.png")
