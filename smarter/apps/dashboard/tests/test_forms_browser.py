"""The console's forms in a real browser (Chromium, headless) against the platform served by
uvicorn: a SQL connection on a SQLite file, a SQL plugin, a knowledge base and its plugin, and a
chatbot are made through forms only, the plugins attached and the chatbot deployed from its
form, then a visitor chats with it on its branded page, answered by a stub upstream."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.chatbot.models import Chatbot
from smarter.apps.dashboard.tests.test_browser import CHROMIUM, chromium, shot, sign_in, site
from smarter.apps.plugin.models import Plugin
from smarter.testing.openai_stub import OpenAIStub, RecordedRequest, ScriptedReply, text_reply

__all__ = ["chromium", "site"]  # the fixtures, shared with the console's other browser tests

TABLE = "| Course | Cost |\n|---|---|\n| Python | 300 |\n| SQL | 200 |"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Chromium at /usr/bin/chromium")


@pytest.fixture
def upstream(site: Any, smarter_settings: Any, tmp_path: Path, owner: Persona) -> Iterator[OpenAIStub]:
    """The platform's OpenAI provider on a stub that answers with a markdown table, and the
    account's plugin data folder holding `courses.sqlite3`."""
    root = tmp_path / "plugin-data"
    smarter_settings.plugin_data_dir = str(root)
    folder = root / owner.account.account_number
    folder.mkdir(parents=True)
    database = sqlite3.connect(folder / "courses.sqlite3")
    database.execute("CREATE TABLE courses (id INTEGER PRIMARY KEY, title TEXT, cost INTEGER)")
    database.executemany("INSERT INTO courses VALUES (?, ?, ?)", [(1, "Python", 300), (2, "SQL", 200)])
    database.commit()
    database.close()

    def answer(request: RecordedRequest) -> ScriptedReply:
        return text_reply(TABLE)

    with OpenAIStub() as stub:
        smarter_settings.llm_provider = "openai"
        smarter_settings.openai_base_url = stub.url
        smarter_settings.openai_api_key = "sk-platform"
        smarter_settings.allow_private_hosts = True
        stub.respond_with(answer)
        yield stub


def test_a_chatbot_with_a_sql_plugin_and_a_knowledge_base_is_built_from_forms_deployed_and_answers(
    site: Any, chromium: Any, owner: Persona, upstream: OpenAIStub
) -> None:
    page = chromium.new_page(viewport={"width": 1360, "height": 900})
    violations: list[str] = []
    page.on("console", lambda message: violations.append(message.text) if "Security Policy" in message.text else None)
    sign_in(page, site, "owner", "/dashboard/connections/")

    # A SQL connection on the account's SQLite file.
    page.click("#new-sql-connection")
    page.wait_for_url(site.url + "/dashboard/manifests/SqlConnection/new/")
    page.get_by_label("Name", exact=True).fill("courses_db")
    page.get_by_label("Engine").select_option("sqlite")
    page.get_by_label("Database").fill("courses.sqlite3")
    page.click("#save")
    page.wait_for_url(site.url + "/dashboard/connections/sql/courses_db/")

    # A SQL plugin on it: first a query the guard refuses, shown at the query's field.
    page.goto(site.url + "/dashboard/plugins/")
    page.click("#new-sql-plugin")
    page.get_by_label("Name", exact=True).fill("course_prices")
    page.get_by_label("Connection").select_option("courses_db")
    page.locator("#f-spec-sqlData-description").fill("Prices of our courses")
    page.get_by_label("SQL query").fill("DELETE FROM courses")
    page.click("#save")
    assert page.locator("#e-f-spec-sqlData-sqlQuery .loc").inner_text() == "spec.sqlData.sqlQuery"
    assert page.locator("#f-spec-sqlData-sqlQuery").get_attribute("aria-describedby") == (
        "e-f-spec-sqlData-sqlQuery h-f-spec-sqlData-sqlQuery"
    )
    assert page.locator("#form-errors").is_visible()
    shot(page, "console-form-error.png")
    assert not Plugin.objects.filter(name="course_prices").exists()
    page.get_by_label("SQL query").fill("SELECT title, cost FROM courses")
    page.click("#save")
    page.wait_for_url(site.url + "/dashboard/plugins/course_prices/")
    page.click("#run-test")
    assert "Python" in page.locator("#test-output").inner_text()

    # A knowledge base, and a plugin that searches it.
    page.goto(site.url + "/dashboard/manifests/KnowledgeBase/new/")
    page.get_by_label("Name", exact=True).fill("handbook")
    page.get_by_label("Chunking").select_option("markdown")
    page.click("#save")
    page.wait_for_url(site.url + "/dashboard/knowledge/handbook/")
    assert page.locator("#setting-chunking").inner_text().startswith("markdown ·")
    page.goto(site.url + "/dashboard/plugins/")
    page.click("#new-knowledge-plugin")
    page.get_by_label("Name", exact=True).fill("handbook_search")
    page.get_by_label("Knowledge base").select_option("handbook")
    page.locator("#f-spec-knowledge-description").fill("The course handbook")
    page.click("#save")
    page.wait_for_url(site.url + "/dashboard/plugins/handbook_search/")

    # The chatbot: created, then its plugins attached and deployed from its form.
    page.goto(site.url + "/dashboard/")
    page.click("#new-chatbot")
    page.get_by_label("Name", exact=True).fill("courses")
    page.get_by_label("Provider").select_option("openai")
    page.get_by_label("Model", exact=True).fill("gpt-4o-mini")
    page.get_by_label("Page title").fill("Course Desk")
    shot(page, "console-form-new-chatbot.png")
    page.click("#save")
    page.wait_for_url(site.url + "/dashboard/chatbots/courses/")
    page.click("#edit-resource")
    page.wait_for_url(site.url + "/dashboard/manifests/Chatbot/courses/edit/")
    page.get_by_label("course_prices (sql)").check()
    page.get_by_label("handbook_search (knowledge)").check()
    page.get_by_label("Deployed").check()
    page.click("#save")
    page.wait_for_url(site.url + "/dashboard/chatbots/courses/")
    courses = Chatbot.objects.get(name="courses")
    assert (courses.deployed, [plugin.name for plugin in courses.plugins.all()]) == (
        True,
        ["course_prices", "handbook_search"],
    )
    assert violations == []

    # A visitor chats on the branded page; the stub's markdown table arrives as a table.
    branded = chromium.new_page(viewport={"width": 1100, "height": 800})
    branded.goto(f"http://courses.{owner.account.account_number}.api.localhost:{site.port}/")
    assert branded.title() == "Course Desk"
    branded.fill("#prompt", "What do the courses cost?")
    branded.click("#send")
    branded.wait_for_function(
        "() => document.body.innerText.includes('Python') && !document.querySelector('[aria-busy]')"
    )
    # The answer's markdown table is drawn as a table, not as pipes.
    table = branded.locator(".message.assistant table").last
    assert table.locator("th").all_inner_texts() == ["Course", "Cost"]
    assert table.locator("tbody td").all_inner_texts() == ["Python", "300", "SQL", "200"]
    assert "|" not in branded.locator(".message.assistant").last.inner_text()
    shot(branded, "console-form-chatbot-answer.png")
    tools = [tool["function"]["name"] for tool in upstream.chat_requests[-1].tools]
    assert sorted(tools) == ["course_prices", "handbook_search"]
