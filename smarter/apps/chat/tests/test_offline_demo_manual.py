"""`make run`'s first question: with no key and no network, the demo chatbot answers it from the
product manual in its knowledge base, quoting the manual and citing it; seeding again embeds
nothing."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from smarter.apps.api.demo import MANUAL_DOCUMENT, MANUAL_QUESTION
from smarter.apps.knowledge.models import Document

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(smarter_settings: Any, tmp_path: Path) -> tuple[APIClient, str]:
    smarter_settings.llm_provider = "offline"
    smarter_settings.state_dir = tmp_path
    smarter_settings.plugin_data_dir = str(tmp_path / "plugin-data")
    smarter_settings.knowledge_dir = str(tmp_path / "knowledge")
    out = StringIO()
    call_command("seed_demo", stdout=out)
    credentials = json.loads((tmp_path / "demo-credentials.json").read_text())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {credentials['apiKey']}")
    return client, out.getvalue()


def test_the_first_question_make_run_prints_is_answered_from_the_manual_with_a_citation(
    demo: tuple[APIClient, str],
) -> None:
    client, banner = demo
    assert f'{{"prompt": "{MANUAL_QUESTION}"}}' in banner
    response = client.post("/api/v1/chatbots/demo/chat/", {"prompt": MANUAL_QUESTION}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    manual = Document.objects.get()
    assert (manual.name, manual.status) == (MANUAL_DOCUMENT, "ready")
    [call] = body["tool_calls"]
    assert (call["plugin"], call["arguments"]) == ("gobstopper_manual_search", {"query": MANUAL_QUESTION})
    results = call["result"]["results"]
    assert body["citations"] == [
        {key: result[key] for key in ("document", "documentId", "chunk", "score")} for result in results
    ]
    assert {citation["documentId"] for citation in body["citations"]} == {manual.pk}
    best = results[0]["text"]
    assert "two-year warranty" in best
    content = body["message"]["content"]
    # The offline model quotes what it read and names where it read it.
    assert f"From \u201c{MANUAL_DOCUMENT}\u201d:" in content
    assert " ".join(best.split()) in content
    assert "smarter-offline" in content


def test_seeding_again_keeps_the_one_manual_without_ingesting_it_again(demo: tuple[APIClient, str]) -> None:
    before = Document.objects.get()
    call_command("seed_demo", stdout=StringIO())
    after = Document.objects.get()
    assert (after.pk, after.status, after.chunks, after.attempts, after.updated_at) == (
        before.pk,
        "ready",
        before.chunks,
        before.attempts,
        before.updated_at,
    )
