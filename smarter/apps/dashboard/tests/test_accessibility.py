"""Accessibility of every console page, the branded chatbot page and a site showing the widget:
axe-core (from npm, `npm install` at the repository's root) finds no serious or critical
violation on any of them; and the console reads on a 375 px phone without sideways scrolling.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from smarter.apps.account import services as account_services
from smarter.apps.account.billing import services as billing_services
from smarter.apps.account.tests.factories import Persona
from smarter.apps.chatbot.models import ChatbotVersion
from smarter.apps.chatbot.tests.servers import StaticPage
from smarter.apps.dashboard.tests import test_browser as console_tests
from smarter.apps.dashboard.tests.helpers import CATALOGUE, apply, chatbot
from smarter.apps.dashboard.tests.test_browser import CHROMIUM, sign_in
from smarter.lib.manifests import broker_for

AXE = Path(__file__).resolve().parents[4] / "node_modules" / "axe-core" / "axe.min.js"

# The fixtures of the console's browser tests: Chromium, the served platform, a suite to run.
chromium = console_tests.chromium
site = console_tests.site
evaluated = console_tests.evaluated

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium"),
    pytest.mark.skipif(not AXE.exists(), reason="needs axe-core: run `npm install` at the repository's root"),
]

SERIOUS = """async () => {
  const results = await axe.run(document, {resultTypes: ["violations"]});
  return results.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map((violation) => ({
      rule: violation.id,
      impact: violation.impact,
      help: violation.help,
      nodes: violation.nodes.map((node) => node.target.join(" ") + " :: " + node.failureSummary),
    }));
}"""


def violations(page: Any, *, idle: bool = True) -> list[dict[str, Any]]:
    if idle:  # a page whose frame keeps a request open never idles: its caller waits instead
        page.wait_for_load_state("networkidle")
    page.add_script_tag(path=str(AXE))
    return list(page.evaluate(SERIOUS))


def report(found: dict[str, list[dict[str, Any]]]) -> str:
    lines = []
    for name, problems in found.items():
        for problem in problems:
            lines.append(f"{name}: {problem['impact']} {problem['rule']} ({problem['help']})")
            lines.extend(f"    {node}" for node in problem["nodes"][:8])
    return "\n".join(lines)


@pytest.fixture
def account_in_use(site: Any, evaluated: Any, owner: Persona, smarter_settings: Any, tmp_path: Path) -> Persona:
    """An account with something on every page: a chatbot with versions and an allowed site,
    a SQL connection and plugin, a secret, usage, journal entries, two runs of a suite."""
    smarter_settings.plugin_data_dir = str(tmp_path)
    (tmp_path / owner.account.account_number).mkdir()
    with sqlite3.connect(tmp_path / owner.account.account_number / "course_catalogue.sqlite3") as database:
        database.execute("CREATE TABLE courses (title TEXT, description TEXT, cost REAL)")
    apply(owner, broker_for("SqlConnection").example())
    apply(owner, broker_for("SqlPlugin").example())
    apply(owner, CATALOGUE)
    apply(owner, chatbot("shop", plugins=["catalogue"], appName="Gizmo Shop", deployed=True))
    apply(owner, chatbot("shop", plugins=["catalogue"], appName="Gizmo Shop", deployed=True, appAssistant="Sam"))
    apply(owner, broker_for("KnowledgeBase").example())
    account_services.secret_create(account=owner.account, name="warehouse_password", value="s3cret", description="BI")
    for turn, (name, model) in enumerate([("shop", "gpt-4o-mini"), ("support", "gpt-4o")], start=1):
        event_id = billing_services.usage_event_record(
            account=owner.account,
            turn_id=None,
            key=f"earlier-{turn}",  # no turn of this test: the suite's runs make their own
            created_at=timezone.now(),
            user=None,
            api_key=None,
            chatbot_id=turn,
            chatbot_name=name,
            session_key=f"s{turn}",
            channel="api",
            provider="openai",
            model=model,
            prompt_tokens=1000,
            completion_tokens=250,
            tools=[],
        )
        billing_services.charges_record(usage_event_id=event_id)
    return owner


def test_every_console_page_has_no_serious_or_critical_violation(
    site: Any, chromium: Any, account_in_use: Persona
) -> None:
    from smarter.apps.evaluation.models import EvalRun

    context = chromium.new_context(viewport={"width": 1360, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.set_default_timeout(120_000)  # a suite's run is answered before its page opens
    found: dict[str, list[dict[str, Any]]] = {}
    page.goto(site.url + "/login/")
    found["login"] = violations(page)
    sign_in(page, site, "owner")

    # Two runs of the suite, for the run and comparison pages.
    page.goto(site.url + "/dashboard/evals/")
    for _ in range(2):
        page.goto(site.url + "/dashboard/evals/")
        page.click("button[aria-label='Run support_golden']")
        page.wait_for_url(re.compile(r".*/dashboard/evals/support_golden/runs/\d+/$"))
    first, second = EvalRun.objects.order_by("pk")
    versions = list(ChatbotVersion.objects.filter(chatbot__name="shop").order_by("number"))
    knowledge_base = broker_for("KnowledgeBase").example()["metadata"]["name"]
    pages = {
        "chatbots": "/dashboard/",
        "chatbot detail": "/dashboard/chatbots/shop/",
        "publish / embed": "/dashboard/chatbots/shop/embed/",
        "sandbox": "/dashboard/chatbots/shop/sandbox/",
        "plugins": "/dashboard/plugins/",
        "plugin detail": "/dashboard/plugins/course_catalogue/",
        "connections": "/dashboard/connections/",
        "connection detail": "/dashboard/connections/sql/course_catalogue_db/",
        "secrets": "/dashboard/secrets/",
        "api keys": "/dashboard/api-keys/",
        "members": "/dashboard/members/",
        "journal": "/dashboard/journal/",
        "apply": "/dashboard/apply/",
        "usage": "/dashboard/usage/",
        "evals": "/dashboard/evals/",
        "eval run": f"/dashboard/evals/support_golden/runs/{first.pk}/",
        "eval compare": f"/dashboard/evals/support_golden/compare/?base={first.pk}&head={second.pk}",
        "version diff": f"/dashboard/chatbots/shop/versions/{versions[0].number}/diff/{versions[-1].number}/",
        "providers": "/dashboard/providers/",
        "channels": "/dashboard/channels/",
        "knowledge": "/dashboard/knowledge/",
        "knowledge base": f"/dashboard/knowledge/{knowledge_base}/",
        "new chatbot form": "/dashboard/manifests/Chatbot/new/",
        "new SQL plugin form": "/dashboard/manifests/SqlPlugin/new/",
        "new channel form": "/dashboard/manifests/Channel/new/",
        "chatbot edit form": "/dashboard/manifests/Chatbot/shop/edit/",
        "chatbot manifest": "/dashboard/manifests/Chatbot/shop/manifest/",
        "chatbot delete": "/dashboard/manifests/Chatbot/shop/delete/",
        "conversations": "/dashboard/chatbots/shop/conversations/",
    }
    for name, path in pages.items():
        response = page.goto(site.url + path)
        assert response is not None and response.status == 200, (name, response and response.status)
        found[name] = violations(page)
    # The sandbox after a turn, with the inspector open; the chatbot page with its dialog open.
    page.goto(site.url + "/dashboard/chatbots/shop/sandbox/")
    page.fill("#prompt", "What does the gizmo cost?")
    page.click("#send")
    page.wait_for_selector(".turn .stat-tokens")
    found["sandbox after a turn"] = violations(page)
    page.goto(site.url + "/dashboard/chatbots/shop/conversations/")
    page.click("table a[href*='/conversations/']")
    found["conversation transcript"] = violations(page)
    # A form refused at its fields: the error summary and the field errors.
    page.goto(site.url + "/dashboard/manifests/Chatbot/new/")
    page.click("form.resource-form button[type=submit]")
    page.wait_for_selector(".error-summary")
    found["chatbot form with errors"] = violations(page)
    page.goto(site.url + "/dashboard/chatbots/shop/")
    page.click("#embed-open")
    found["publish / embed dialog"] = violations(page)
    print("\n".join(f"axe {name}: {len(problems)} serious or critical" for name, problems in found.items()))
    assert {name: len(problems) for name, problems in found.items()} == dict.fromkeys(found, 0), report(found)


def test_the_branded_page_and_a_site_with_the_widget_have_no_serious_or_critical_violation(
    site: Any, chromium: Any, owner: Persona
) -> None:
    url = f"http://shop.{owner.account.account_number}.api.localhost:{site.port}/"
    context = chromium.new_context(viewport={"width": 1100, "height": 800}, bypass_csp=True)
    page = context.new_page()
    found: dict[str, list[dict[str, Any]]] = {}
    html = (
        "<!doctype html><html lang='en'><head><title>Acme Store</title></head><body><main>"
        "<h1>Acme Store</h1><p>Questions? Use the chat button.</p></main>"
        f'<script src="{url}widget.js" async></script></body></html>'
    )
    with StaticPage(html) as store:
        apply(owner, chatbot("shop", plugins=["catalogue"], appName="Gizmo Shop", deployed=True,
                             allowedOrigins=[store.origin], appExamplePrompts=["What does the Gizmo cost?"]))  # fmt: skip
        page.goto(url)
        found["branded page"] = violations(page)
        page.fill("#prompt", "What does the gizmo cost?")
        page.press("#prompt", "Enter")
        page.wait_for_function(
            "() => !document.querySelector('[aria-busy]') && document.querySelectorAll('.message.user').length"
        )
        found["branded page after an answer"] = violations(page)
        page.goto(store.origin)
        page.get_by_role("button", name="Chat with Gizmo Shop").click()
        page.frame_locator("iframe").locator("h1").wait_for()
        found["widget host page, open"] = violations(page, idle=False)
        page.goto(url + "no-such-page", wait_until="load")
        found["chatbot host 404 page"] = violations(page)
    print("\n".join(f"axe {name}: {len(problems)} serious or critical" for name, problems in found.items()))
    assert {name: len(problems) for name, problems in found.items()} == dict.fromkeys(found, 0), report(found)


@pytest.mark.parametrize(
    "path",
    ["/dashboard/chatbots/shop/", "/dashboard/usage/", "/dashboard/journal/", "/dashboard/api-keys/", "version diff"],
)
def test_on_a_375_pixel_phone_no_console_page_scrolls_sideways(
    site: Any, chromium: Any, owner: Persona, path: str
) -> None:
    apply(
        owner, chatbot("shop", plugins=["catalogue"], appName="Gizmo Shop", allowedOrigins=["https://www.example.com"])
    )
    if path == "version diff":
        path = "/dashboard/chatbots/shop/versions/1/diff/2/"
    page = chromium.new_page(viewport={"width": 375, "height": 812})
    sign_in(page, site, "owner", path)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow == 0


def test_the_publish_dialog_keeps_the_keyboard_inside_closes_with_escape_and_gives_focus_back(
    site: Any, chromium: Any, owner: Persona
) -> None:
    page = chromium.new_page(viewport={"width": 1360, "height": 900})
    sign_in(page, site, "owner", "/dashboard/chatbots/shop/")
    page.focus("#embed-open")
    page.keyboard.press("Enter")
    dialog = page.locator("#embed-dialog")
    assert dialog.evaluate("element => element.open") is True
    # Tab goes round the dialog's controls and never reaches the page behind it.
    inside = []
    for _ in range(8):
        page.keyboard.press("Tab")
        inside.append(page.evaluate("() => !!document.activeElement.closest('#embed-dialog')"))
    assert all(inside)
    page.keyboard.press("Escape")
    assert dialog.evaluate("element => element.open") is False
    assert page.evaluate("() => document.activeElement.id") == "embed-open"
    # Its form previews the change on the page of its own, with the diff and nothing saved.
    page.click("#embed-open")
    page.fill("#embed-dialog #f-origin", "https://www.acme.test/shop/")
    page.click("#embed-dialog #origin-form button[type=submit]")
    page.wait_for_url(site.url + "/dashboard/chatbots/shop/embed/preview/")
    assert "+    - https://www.acme.test" in page.locator("#embed-diff").inner_text()
    page.click("#embed-confirm")
    page.wait_for_url(site.url + "/dashboard/chatbots/shop/embed/?added=https://www.acme.test")
    assert page.locator("#allowed-origins li").all_inner_texts() == ["https://www.acme.test"]
