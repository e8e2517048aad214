"""`make run`'s demo suite: seeded with the demo chatbot, it runs and passes on the offline
provider, with no key and no network, so a new user's first `smarter eval` is a green one."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from smarter.apps.api.demo import DEMO_SUITE, DEMO_SUITE_MANIFEST
from smarter.apps.evaluation.models import TestSuiteVersion

pytestmark = pytest.mark.django_db(transaction=True)
RUNS = f"/api/v1/evals/{DEMO_SUITE}/runs/"


@pytest.fixture
def demo(smarter_settings: Any, tmp_path: Path) -> APIClient:
    smarter_settings.llm_provider = "offline"
    smarter_settings.state_dir = tmp_path
    smarter_settings.plugin_data_dir = str(tmp_path / "plugin-data")
    smarter_settings.knowledge_dir = str(tmp_path / "knowledge")
    call_command("seed_demo", stdout=StringIO())
    credentials = json.loads((tmp_path / "demo-credentials.json").read_text())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {credentials['apiKey']}")
    return client


def test_the_seeded_suite_passes_on_the_offline_provider(demo: APIClient) -> None:
    started = demo.post(RUNS, {}, format="json")

    assert started.status_code == 202, started.content
    detail = demo.get(f"{RUNS}{started.json()['data']['id']}/").json()["data"]
    assert (detail["status"], detail["passRate"], detail["threshold"]) == ("passed", 1.0, 1.0)
    assert (detail["cases"], detail["passed"], detail["failed"], detail["errors"]) == (4, 4, 0, 0)
    assert (detail["chatbot"], detail["provider"], detail["model"]) == ("demo", "offline", "smarter-offline")
    results = {result["case"]: result for result in detail["results"]}
    assert [case["name"] for case in DEMO_SUITE_MANIFEST["spec"]["cases"]] == list(results)
    assert {name: result["scores"] for name, result in results.items() if name != "ingredients"} == {
        "product_price": {"contains": 1.0, "tools": 1.0},
        "courses_within_budget": {"contains": 1.0, "tools": 1.0},
        "warranty_from_the_manual": {"contains": 1.0, "tools": 1.0},
    }
    assert [call["name"] for call in results["warranty_from_the_manual"]["toolCalls"]] == ["gobstopper_manual_search"]
    ingredients = results["ingredients"]
    assert ingredients["scores"]["tools"] == 1.0
    # The offline answer lists the ingredients under a long footnote: similar enough, not more.
    assert 0.5 <= ingredients["scores"]["similarity"] < 0.8
    assert all(result["passed"] is True and result["error"] is None for result in results.values())


def test_seeding_again_keeps_the_suite_at_its_first_version(demo: APIClient) -> None:
    out = StringIO()
    call_command("seed_demo", stdout=out)

    listed = demo.get("/api/v1/cli/get/testsuites/").json()["data"]["items"]
    assert [(item["name"], item["chatbot"], item["cases"]) for item in listed] == [(DEMO_SUITE, "demo", 4)]
    assert TestSuiteVersion.objects.filter(suite__name=DEMO_SUITE).count() == 1
    assert f"smarter eval {DEMO_SUITE} --wait" in out.getvalue()
