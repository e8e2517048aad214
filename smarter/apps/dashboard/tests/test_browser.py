"""The console in a real browser (Chromium, headless) against the platform served by uvicorn:
sign in, chat in the sandbox with an overridden prompt and watch the tool call in the inspector,
create an API key and see it once, apply an invalid manifest and see the field error, as a
member find the admin actions refused, and run an evaluation suite, review a failure and compare
two runs.

Screenshots go to `test-artifacts/` (ignored by git) for a look at the design.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smarter.apps.account.models import ApiKey
from smarter.apps.account.tests.factories import Persona
from smarter.apps.chat.models import Turn
from smarter.apps.chatbot.models import Chatbot, ChatbotVersion
from smarter.apps.dashboard.tests.helpers import PASSWORD, shop, with_password
from smarter.testing.openai_stub import OpenAIStub

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
TERSE = "You are terse. Quote prices exactly."

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium")


@pytest.fixture
def chromium(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # Playwright's sync API runs an event loop in this thread; the test's own database calls are safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def site(asgi_server: Any, smarter_settings: Any, owner: Persona, teammate: Persona) -> Any:
    smarter_settings.llm_provider = "offline"
    smarter_settings.platform_host = f"127.0.0.1:{asgi_server.port}"
    smarter_settings.root_domain = "localhost"
    with_password(owner)
    with_password(teammate)
    shop(owner)
    return asgi_server


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def sign_in(page: Any, site: Any, username: str, path: str = "/dashboard/") -> None:
    page.goto(site.url + path)
    assert page.url == f"{site.url}/login/?next={path}"
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(site.url + path)


def post_from_page(page: Any, path: str) -> int:
    """A POST the page itself sends, with the session cookie and the CSRF token."""
    return int(
        page.evaluate(
            """async (path) => {
                const token = document.querySelector('input[name=csrfmiddlewaretoken]').value;
                const response = await fetch(path, {method: 'POST', headers: {'X-CSRFToken': token}});
                return response.status;
            }""",
            path,
        )
    )


def test_an_admin_tries_a_prompt_in_the_sandbox_creates_a_key_and_is_shown_a_manifest_error(
    site: Any, chromium: Any, owner: Persona
) -> None:
    page = chromium.new_page(viewport={"width": 1360, "height": 900})
    page.goto(site.url + "/login/")
    shot(page, "console-login.png")
    sign_in(page, site, "owner")
    assert page.locator("#account-name").inner_text() == "Acme"
    assert page.locator("#chatbots tbody tr td a.strong").all_inner_texts() == ["shop"]
    shot(page, "console-chatbots.png")

    page.goto(site.url + "/dashboard/chatbots/shop/")
    assert page.locator("#preview-name").inner_text() == "Gizmo Shop"
    page.fill("#f-appWelcomeMessage", "Hi! Ask me about the Gizmo.")
    assert page.locator("#preview-welcome").inner_text() == "Hi! Ask me about the Gizmo."
    page.fill("#f-appInfoUrl", "not a url")
    page.click("#chatbot-form button[type=submit]")
    assert page.locator("#e-appInfoUrl").inner_text() == "must be an http:// or https:// URL"
    shot(page, "console-chatbot-field-error.png")
    assert Chatbot.objects.get(name="shop").app_welcome_message == ""

    # The sandbox: a session-only system prompt, then a question that needs the catalogue plugin.
    page.goto(site.url + "/dashboard/chatbots/shop/sandbox/")
    page.fill("#o-system", TERSE)
    assert page.locator("#overrides-badge").is_visible()
    with page.expect_response(lambda response: response.url.endswith("/sandbox/turn/")) as turn:
        page.fill("#prompt", "What does the gizmo cost?")
        page.click("#send")
    assert turn.value.headers["content-type"] == "text/event-stream"
    page.wait_for_selector(".turn .inspector-body .tool-call")
    answer = page.locator(".turn .bubble.assistant").last.inner_text()
    assert "$12.50" in answer
    assert page.locator(".tool-name").all_inner_texts() == ["catalogue"]
    assert page.locator(".tool-arguments").inner_text() == '{\n  "inquiry_type": "price"\n}'
    assert page.locator(".tool-result").inner_text() == "$12.50"
    assert page.locator(".selection.selected .why").inner_text() == "rule: search_terms · term: “gizmo” · in: prompt"
    stored = Turn.objects.get()
    assert page.locator(".stat-tokens").inner_text() == (
        f"{stored.prompt_tokens} prompt + {stored.completion_tokens} completion = {stored.total_tokens}"
    )
    assert stored.request_messages[0] == {"role": "system", "content": TERSE}
    page.locator(".messages summary").click()
    assert page.locator(".sent-message pre").first.inner_text() == TERSE
    stream = turn.value.text()
    assert stream.count("event: token") > 3 and "event: tool_call" in stream and "event: tool_result" in stream
    shot(page, "console-sandbox.png")
    # The override was for the session only.
    assert Chatbot.objects.get(name="shop").default_system_role == "You are the Gizmo shop assistant."

    # Save the override as a new version, then roll back to the previous one.
    versions_before = ChatbotVersion.objects.filter(chatbot__name="shop").count()
    page.click("#save-version")
    # A function, not an expression: Playwright evaluates an expression with eval, which the
    # console's Content-Security-Policy refuses as it should.
    page.wait_for_function("() => document.getElementById('version-result').textContent.startsWith('Saved as version')")
    saved = page.locator("#version-result").inner_text()
    assert saved == f"Saved as version {versions_before + 1}."
    assert Chatbot.objects.get(name="shop").default_system_role == TERSE
    assert not page.locator("#overrides-badge").is_visible()
    page.goto(site.url + "/dashboard/chatbots/shop/")
    page.click(f"#versions button[name=rollback][value='{versions_before}']")
    page.wait_for_selector("#versions")
    rows = page.locator("#versions tbody tr").all_inner_texts()
    assert f"rollback to version {versions_before}" in rows[0] and "current" in rows[0]
    assert Chatbot.objects.get(name="shop").default_system_role == "You are the Gizmo shop assistant."
    page.click("#versions a:has-text('Compare with current') >> nth=0")
    assert page.locator("#changes td.mono").first.inner_text() == "spec.config.defaultSystemRole"
    shot(page, "console-versions.png")

    # An API key, shown once.
    page.goto(site.url + "/dashboard/api-keys/")
    page.fill("#key-name", "ci_deploy")
    page.click("#create-key button[type=submit]")
    key = page.locator("#new-key-value").input_value()
    assert re.fullmatch(r"smarter_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", key)
    assert ApiKey.objects.get(name="ci_deploy").prefix == key.split("_")[1]
    shot(page, "console-api-key-created.png")
    page.goto(site.url + "/dashboard/api-keys/")
    assert page.locator("#new-key").count() == 0
    assert key not in page.content()

    # An invalid plugin manifest: the error names the field path and its line.
    page.goto(site.url + "/dashboard/plugins/catalogue/")
    text = page.locator("#manifest-text").input_value()
    page.fill("#manifest-text", text.replace("directive: search_terms", "directive: sometimes"))
    page.click("#apply-manifest")
    error = page.locator("#editor-errors li").first
    assert error.locator(".loc").inner_text() == "spec.selector.directive"
    assert error.locator(".line").inner_text() == f"line {text.splitlines().index('    directive: search_terms') + 1}"
    shot(page, "console-plugin-error.png")

    # The drop zone: a batch with a bad chatbot is applied in order, each with its own line.
    page.goto(site.url + "/dashboard/apply/")
    page.fill(
        "#manifests",
        "apiVersion: smarter.sh/v1\nkind: Chatbot\nmetadata:\n  name: kiosk\nspec:\n  plugins: [faq]\n"
        "---\napiVersion: smarter.sh/v1\nkind: Plugin\nmetadata:\n  name: faq\nspec:\n"
        "  selector:\n    directive: always\n  data:\n    description: FAQ\n    staticData:\n      hours: 9-5\n"
        "---\napiVersion: smarter.sh/v1\nkind: Chatbot\nmetadata:\n  name: broken\nspec:\n"
        "  config:\n    defaultTemperature: 7\n",
    )
    page.click("#apply-all")
    rows = page.locator("#apply-results li")
    assert [rows.nth(i).get_attribute("data-name") for i in range(3)] == ["faq", "kiosk", "broken"]
    assert rows.nth(0).locator(".action").inner_text() == "created"
    assert rows.nth(1).locator(".action").inner_text() == "created"
    assert "spec.config.defaultTemperature" in rows.nth(2).inner_text()
    shot(page, "console-apply.png")


def test_a_partial_manifest_on_the_apply_page_is_shown_as_a_diff_and_cancelling_changes_nothing(
    site: Any, chromium: Any, owner: Persona
) -> None:
    from smarter.apps.dashboard.tests.helpers import CATALOGUE, apply, chatbot

    apply(owner, CATALOGUE)
    apply(owner, chatbot("shop", plugins=["catalogue"], appName="Gizmo Shop", deployed=True))
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, site, "owner", "/dashboard/apply/")
    partial = "apiVersion: smarter.sh/v1\nkind: Chatbot\nmetadata:\n  name: shop\nspec:\n  config:\n"
    page.fill("#manifests", partial + "    allowedOrigins: ['https://www.example.com']\n")
    page.click("#apply-all")
    warning = page.locator("#apply-warning")
    assert warning.is_visible() and "Nothing has been applied" in warning.inner_text()
    row = page.locator("#preview-results li[data-name=shop]")
    assert row.locator(".action").inner_text() == "would be updated"
    assert "spec.config.deployed: true → false: it is taken offline" in row.inner_text()
    assert "spec.plugins: catalogue removed" in row.inner_text()
    diff = row.locator("pre.diff").inner_text().splitlines()
    assert "-    deployed: true" in diff and "+    deployed: false" in diff
    shot(page, "console-apply-review.png")
    page.click("#apply-cancel")
    page.wait_for_url(site.url + "/dashboard/apply/")
    assert page.locator("#apply-warning").count() == 0
    shop_row = Chatbot.objects.get(name="shop")
    assert (shop_row.deployed, [p.name for p in shop_row.plugins.all()], shop_row.allowed_origins) == (
        True,
        ["catalogue"],
        [],
    )


def test_a_member_uses_the_sandbox_but_is_refused_the_admin_actions(site: Any, chromium: Any) -> None:
    page = chromium.new_page(viewport={"width": 1280, "height": 860})
    sign_in(page, site, "teammate")
    page.goto(site.url + "/dashboard/chatbots/shop/sandbox/")
    page.fill("#prompt", "Which colours does the gizmo come in?")
    page.click("#send")
    page.wait_for_selector(".turn .inspector-body .tool-call")
    assert page.locator(".tool-arguments").inner_text() == '{\n  "inquiry_type": "colours"\n}'
    assert "red" in page.locator(".turn .bubble.assistant").inner_text()
    page.goto(site.url + "/dashboard/api-keys/")
    assert page.locator("#create-key").count() == 0
    assert post_from_page(page, "/dashboard/api-keys/teammate_key/revoke/") == 403
    assert post_from_page(page, "/dashboard/chatbots/shop/deploy/") == 403
    assert post_from_page(page, "/dashboard/members/owner/remove/") == 403
    page.goto(site.url + "/dashboard/chatbots/shop/")
    assert page.locator("#deploy").count() == 0
    assert page.locator("#deployment").inner_text().endswith("Only an account admin can deploy or undeploy.")
    shot(page, "console-member-chatbot.png")
    page.goto(site.url + "/dashboard/journal/")
    assert page.locator("h1").inner_text() == "Not allowed"
    shot(page, "console-member-refused.png")
    assert ApiKey.objects.get(name="teammate_key").revoked_at is None
    assert Chatbot.objects.get(name="shop").deployed is False


def test_the_operating_pages_read_well_on_a_laptop_and_a_phone(site: Any, chromium: Any, owner: Persona) -> None:
    from django.utils import timezone

    from smarter.apps.account import services as account_services
    from smarter.apps.account.billing import services as billing_services

    account_services.secret_create(account=owner.account, name="warehouse_password", value="s3cret", description="BI")
    for turn, (name, model, prompt, completion) in enumerate(
        [("shop", "gpt-4o-mini", 1200, 300), ("shop", "gpt-4o", 800, 200), ("kiosk", "gpt-4o-mini", 300, 90)], start=1
    ):
        event_id = billing_services.usage_event_record(
            account=owner.account,
            turn_id=turn,
            created_at=timezone.now(),
            user=None,
            api_key=None,
            chatbot_id=turn,
            chatbot_name=name,
            session_key=f"s{turn}",
            channel="api",
            provider="openai",
            model=model,
            prompt_tokens=prompt,
            completion_tokens=completion,
            tools=[],
        )
        billing_services.charges_record(usage_event_id=event_id)
    for index, (command, kind, status) in enumerate([("apply", "Chatbot", 200), ("apply", "Plugin", 400)]):
        account_services.journal_record(
            key=f"entry{index}",
            account=owner.account,
            user=owner.user,  # type: ignore[arg-type]
            api_key=owner.api_key,
            command=command,
            kind=kind,
            name="shop",
            status_code=status,
            duration_ms=12.5,
            request_id="",
        )
    page = chromium.new_page(viewport={"width": 1360, "height": 900})
    sign_in(page, site, "owner")
    page.goto(site.url + "/dashboard/usage/?days=7")
    assert page.locator("#kpi-tokens").inner_text() == "2890"
    assert page.locator("#usage-chatbots tbody tr td:first-child").all_inner_texts() == ["kiosk", "shop"]
    shot(page, "console-usage.png")
    for path, name in [
        ("/dashboard/members/", "console-members.png"),
        ("/dashboard/secrets/", "console-secrets.png"),
        ("/dashboard/journal/?command=apply", "console-journal.png"),
        ("/dashboard/plugins/", "console-plugins.png"),
    ]:
        page.goto(site.url + path)
        shot(page, name)
    assert "s3cret" not in page.content()
    phone = chromium.new_page(viewport={"width": 390, "height": 844})
    sign_in(phone, site, "owner", "/dashboard/chatbots/shop/sandbox/")
    assert not phone.locator("#sidebar").is_visible()
    phone.click(".menu-toggle")
    assert phone.locator("#sidebar").is_visible()
    shot(phone, "console-menu-phone.png")
    phone.click(".menu-close")
    assert not phone.locator("#sidebar").is_visible()
    shot(phone, "console-sandbox-phone.png")


def test_the_console_works_under_its_security_policy_without_one_violation(
    site: Any, chromium: Any, owner: Persona
) -> None:
    from smarter.apps.dashboard.tests.helpers import apply, chatbot

    background = f"{site.url}/static/dashboard/favicon.svg"
    apply(owner, chatbot("shop", plugins=["catalogue"], appName="Gizmo Shop", appBackgroundImageUrl=background))
    page = chromium.new_page(viewport={"width": 1360, "height": 900})
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text) if "Security Policy" in message.text else None)
    sign_in(page, site, "owner")
    for path in ("/dashboard/usage/", "/dashboard/api-keys/", "/dashboard/secrets/", "/dashboard/members/"):
        response = page.goto(site.url + path)
        assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
    # The preview's background comes from script, as data: the policy ignores style attributes.
    page.goto(site.url + "/dashboard/chatbots/shop/")
    computed = "() => getComputedStyle(document.getElementById('preview')).backgroundImage"
    assert page.evaluate(computed) == f'url("{background}")'
    page.fill("#f-appBackgroundImageUrl", "https://cdn.example.com/new.png")
    assert page.evaluate(computed) == 'url("https://cdn.example.com/new.png")'
    page.fill("#f-appName", "Gizmo Outlet")
    assert page.locator("#preview-name").inner_text() == "Gizmo Outlet"
    # The apply page's drop zone, once an inline script, runs from the console's script file.
    page.goto(site.url + "/dashboard/apply/")
    page.set_input_files("#files", files=[{"name": "shop.yaml", "mimeType": "text/yaml", "buffer": b"kind: Chatbot\n"}])
    assert page.locator("#file-names").inner_text() == "shop.yaml"
    # The sandbox's script runs too: a turn is answered.
    page.goto(site.url + "/dashboard/chatbots/shop/sandbox/")
    page.fill("#prompt", "What does the gizmo cost?")
    page.click("#send")
    page.wait_for_selector(".turn .inspector-body .tool-call")
    assert violations == []


@pytest.fixture
def evaluated(site: Any, smarter_settings: Any, owner: Persona) -> Iterator[OpenAIStub]:
    """The `support` chatbot on a stub upstream that answers per prompt, and its golden suite."""
    from smarter.apps.dashboard.tests.helpers import apply
    from smarter.apps.evaluation.tests.suites import GOLDEN_CASES, chatbot_manifest, golden_upstream, suite_manifest

    with OpenAIStub() as stub:
        smarter_settings.llm_provider = "openai"
        smarter_settings.openai_base_url = stub.url
        smarter_settings.openai_api_key = "sk-platform"
        smarter_settings.allow_private_hosts = True
        stub.respond_with(golden_upstream)
        apply(owner, chatbot_manifest())
        apply(owner, suite_manifest(GOLDEN_CASES, threshold=0.8))
        yield stub


def test_a_suite_is_run_its_failures_reviewed_and_two_runs_compared_on_a_chart(
    site: Any, chromium: Any, evaluated: OpenAIStub
) -> None:
    from smarter.apps.evaluation.models import EvalResult, EvalReview, EvalRun
    from smarter.apps.evaluation.tests.suites import failing_upstream, golden_upstream

    page = chromium.new_page(viewport={"width": 1440, "height": 900})
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text) if "Security Policy" in message.text else None)
    sign_in(page, site, "owner", "/dashboard/evals/")
    assert page.locator(".nav a.active").inner_text() == "Evaluations"
    suite_row = page.locator("#suites tr[data-suite=support_golden]")
    assert suite_row.locator(".last-run").inner_text() == "Never run"
    shot(page, "console-evals.png")

    # Run: the suite's cases are asked of the stub upstream, and the run's page opens.
    page.click("button[aria-label='Run support_golden']")
    page.wait_for_url(re.compile(r".*/dashboard/evals/support_golden/runs/\d+/$"))
    first = EvalRun.objects.get()
    assert page.locator("#run-status").inner_text() == "passed"
    assert page.locator("#kpi-pass-rate").inner_text() == "80%"
    assert page.locator("#kpi-counts").inner_text() == "4 / 1 / 0"
    assert page.locator("#results tbody th[scope=row]").all_inner_texts() == [
        "price", "exact_colour", "sum", "no_refunds_talk", "follow_up"
    ]  # fmt: skip
    assert "calculator" in page.locator("#results tr[data-case=sum] .tool-calls").inner_text()
    shot(page, "console-eval-run.png")

    # Only what failed, then a review of it.
    page.click("#show-failures")
    page.wait_for_url(f"{site.url}/dashboard/evals/support_golden/runs/{first.pk}/?show=failures")
    assert page.locator("#results tbody th[scope=row]").all_inner_texts() == ["exact_colour"]
    row = page.locator("#results tr[data-case=exact_colour]")
    assert row.locator(".outcome").inner_text() == "Failed"
    assert row.locator(".answer").inner_text() == "Red and teal."
    row.locator("summary").click()
    row.get_by_label("Rating").select_option("wrong")
    row.get_by_label("Note").fill("Teal only, not red.")
    row.get_by_role("button", name="Save review").click()
    colour = EvalResult.objects.get(run=first, case="exact_colour")
    page.wait_for_url(f"{site.url}/dashboard/evals/support_golden/runs/{first.pk}/?show=failures#result-{colour.pk}")
    assert page.locator(f"#result-{colour.pk} .review-line").inner_text() == "wrong owner: Teal only, not red."
    assert list(EvalReview.objects.values_list("result_id", "rating", "note")) == [
        (colour.pk, "wrong", "Teal only, not red.")
    ]
    shot(page, "console-eval-review.png")

    # A second run while the upstream fails one question: an errored case, a retry offered.
    evaluated.respond_with(failing_upstream)
    page.click("a:has-text('Compare')")
    assert page.locator("#comparison-missing").inner_text() == "Run the suite once more to compare two runs."
    page.click("#run-suite")
    page.wait_for_url(re.compile(r".*/runs/\d+/$"))
    second = EvalRun.objects.exclude(pk=first.pk).get()
    assert page.locator("#run-status").inner_text() == "error"
    assert page.locator("#kpi-counts").inner_text() == "3 / 1 / 1"
    assert page.locator("#retry-run").is_visible()

    # Compared: the case that errored is a regression, and the chart has a bar per run.
    page.click("a:has-text('Compare')")
    assert page.locator("#base").input_value() == str(first.pk)
    assert page.locator("#head").input_value() == str(second.pk)
    regressions = page.locator("#comparison tr.regression th[scope=row]").all_inner_texts()
    assert regressions == ["no_refunds_talk"]
    assert page.locator("#comparison tr.regression .change").inner_text() == "Regression"
    chart = page.locator("#pass-rate-chart svg.chart")
    box = chart.bounding_box()
    assert box is not None and box["width"] > 500 and box["height"] > 100
    assert chart.locator("rect.bar title").all_text_contents() == [f"#{first.pk}: 80%", f"#{second.pk}: 75%"]
    assert chart.locator("line.reference").count() == 1
    shot(page, "console-eval-compare.png")
    # The other way round, chosen in the form: nothing regressed.
    page.locator("#base").select_option(str(second.pk))
    page.locator("#head").select_option(str(first.pk))
    page.click("#compare-form button[type=submit]")
    assert page.locator("#comparison-summary .pill").first.inner_text() == "No regression"

    # The upstream is back: retrying asks the errored case again, and the run passes.
    evaluated.respond_with(golden_upstream)
    page.goto(f"{site.url}/dashboard/evals/support_golden/runs/{second.pk}/")
    page.click("#retry-run")
    page.wait_for_url(f"{site.url}/dashboard/evals/support_golden/runs/{second.pk}/")
    assert page.locator("#run-status").inner_text() == "passed"
    assert page.locator("#retry-run").count() == 0
    assert violations == []


def test_the_sandbox_renders_answers_with_the_chatbots_own_renderer_and_keeps_its_inspector(
    site: Any, chromium: Any, smarter_settings: Any
) -> None:
    from smarter.testing.openai_stub import text_reply, tool_calls_reply

    with OpenAIStub() as stub:
        smarter_settings.llm_provider = "openai"
        smarter_settings.openai_base_url = stub.url
        smarter_settings.openai_api_key = "sk-platform"
        smarter_settings.allow_private_hosts = True
        answer = (
            "## Price\n\n| Item | Price |\n|---|---|\n| Gizmo | $12.50 |\n\n- a\n  - b\n\n"
            "```js\nconst price = 12.5;\n```\n\n<img src=x onerror=alert(1)> [x](javascript:alert(2))"
        )
        stub.enqueue(
            tool_calls_reply(("catalogue", {"inquiry_type": "price"})),
            text_reply(answer),
            text_reply("Again: $12.50."),
        )
        page = chromium.new_page(viewport={"width": 1360, "height": 900})
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        sign_in(page, site, "owner", "/dashboard/chatbots/shop/sandbox/")
        page.fill("#prompt", "What does the gizmo cost?")
        page.press("#prompt", "Enter")
        page.wait_for_selector(".turn .inspector-body .tool-call")
        page.wait_for_function("() => !document.querySelector('[aria-busy]')")
        bubble = page.locator(".turn .bubble.assistant")
        assert bubble.locator("h2").inner_text() == "Price"
        assert bubble.locator("table th").all_inner_texts() == ["Item", "Price"]
        assert bubble.locator("table td").all_inner_texts() == ["Gizmo", "$12.50"]
        assert bubble.locator("ul > li > ul > li").all_inner_texts() == ["b"]
        assert bubble.locator("pre code.hljs.language-js span.hljs-keyword").first.inner_text() == "const"
        assert bubble.locator("img, a").count() == 0 and dialogs == []
        # The inspector is the sandbox's own, beside the shared renderer's answer.
        assert page.locator(".tool-name").all_inner_texts() == ["catalogue"]
        assert page.locator(".turn .answer-actions .copy").count() == 1
        page.locator(".turn .regenerate").click()
        page.wait_for_function(
            "() => document.querySelectorAll('.turn').length === 2 && !document.querySelector('[aria-busy]')"
        )
        assert page.locator(".turn .bubble.user").all_inner_texts() == ["What does the gizmo cost?"] * 2
        assert page.locator(".turn .bubble.assistant").last.inner_text() == "Again: $12.50."
        page.wait_for_selector(".turn >> nth=1 >> .inspector-meta:has-text('turn')")
        shot(page, "console-sandbox-markdown.png")
        page.click("#new-session")
        assert page.locator(".turn").count() == 0 and page.locator("#transcript-empty").is_visible()
