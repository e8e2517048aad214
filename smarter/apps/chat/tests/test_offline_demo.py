"""With no key and no network, `make run`'s demo chatbot answers from its plugins' data."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from smarter.apps.chat.models import Turn

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(smarter_settings: Any, tmp_path: Path) -> APIClient:
    smarter_settings.llm_provider = "offline"
    smarter_settings.state_dir = tmp_path
    smarter_settings.plugin_data_dir = str(tmp_path / "plugin-data")
    call_command("seed_demo", stdout=StringIO())
    credentials = json.loads((tmp_path / "demo-credentials.json").read_text())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {credentials['apiKey']}")
    return client


def ask(client: APIClient, prompt: str) -> dict[str, Any]:
    response = client.post("/api/v1/chatbots/demo/chat/", {"prompt": prompt}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def test_the_demo_chatbot_quotes_the_product_plugin(demo: APIClient) -> None:
    body = ask(demo, "What is the price of the Everlasting Gobstopper?")
    assert [(call["plugin"], call["arguments"]) for call in body["tool_calls"]] == [
        ("everlasting_gobstopper", {"inquiry_type": "price"})
    ]
    content = body["message"]["content"]
    assert "$1.00" in content and "$10.00" in content
    assert "smarter-offline" in content
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"] > 0
    assert body["usage"]["cost"] == 0.0
    assert Turn.objects.get().model == "smarter-offline"


def test_the_demo_chatbot_queries_the_course_catalogue(demo: APIClient, tmp_path: Path) -> None:
    # The catalogue is in the demo account's own folder of the plugin data folder, nowhere else.
    account_number = json.loads((tmp_path / "demo-credentials.json").read_text())["accountNumber"]
    files = sorted(path.relative_to(tmp_path / "plugin-data") for path in (tmp_path / "plugin-data").rglob("*.*"))
    assert files == [Path(account_number) / "demo_courses.sqlite3"]
    body = ask(demo, "Which courses cost at most 300 dollars?")
    call = body["tool_calls"][0]
    assert (call["plugin"], call["arguments"]) == ("course_catalogue", {"max_cost": 300})
    assert [row["title"] for row in call["result"]["rows"]] == ["Modern web apps", "SQL for analysts", "Intro to AI"]
    assert "Modern web apps" in body["message"]["content"]


def test_without_a_matching_plugin_the_offline_model_says_how_to_configure_one(demo: APIClient) -> None:
    body = ask(demo, "Hello there")
    assert body["tool_calls"] == []
    assert "SMARTER_OPENAI_API_KEY" in body["message"]["content"]


def test_seeding_twice_changes_nothing(demo: APIClient, settings: Any) -> None:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "Account number" in out.getvalue()
    chatbots = demo.get("/api/v1/cli/get/chatbots/").json()["data"]["items"]
    assert [item["name"] for item in chatbots] == ["demo"]
