"""Applying TestSuite manifests: versions on change, bad manifests refused at their field path
with nothing stored, and another account's chatbot unknown."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.evaluation.models import TestSuite, TestSuiteVersion
from smarter.apps.evaluation.tests.suites import GOLDEN_CASES, chatbot_manifest, suite_manifest

pytestmark = pytest.mark.django_db


def apply(persona: Persona, manifest: dict[str, Any]) -> Any:
    return persona.client.post("/api/v1/cli/apply/", manifest, format="json")


def test_applying_a_suite_stores_it_and_each_change_is_a_new_version(owner: Persona) -> None:
    assert apply(owner, chatbot_manifest()).status_code == 200

    created = apply(owner, suite_manifest(GOLDEN_CASES))
    unchanged = apply(owner, suite_manifest(GOLDEN_CASES))
    changed = apply(owner, suite_manifest(GOLDEN_CASES[:2]))

    assert created.status_code == 200, created.content
    assert [response.json()["data"]["applied"] for response in (created, unchanged, changed)] == [
        "created",
        "unchanged",
        "updated",
    ]
    suite = TestSuite.objects.get(account=owner.account, name="support_golden")
    assert list(TestSuiteVersion.objects.filter(suite=suite).values_list("number", flat=True)) == [2, 1]
    described = owner.client.get("/api/v1/cli/describe/TestSuite/support_golden/").json()["data"]
    assert described["spec"]["chatbot"] == "support"
    assert [case["name"] for case in described["spec"]["cases"]] == ["price", "exact_colour"]
    assert described["spec"]["cases"][0]["mustContain"] == ["$12.50"]
    assert described["status"] == {"version": 2, "cases": 2}


@pytest.mark.parametrize(
    ("change", "loc", "message"),
    [
        (lambda spec: spec["cases"][0].pop("prompt"), "spec.cases[0]", "a case gives either prompt or turns"),
        (
            lambda spec: spec["cases"][1].update(scorers=["exact", "telepathy"]),
            "spec.cases[1].scorers[1]",
            "Input should be",
        ),
        (lambda spec: spec.update(threshold=1.5), "spec.threshold", "less than or equal to 1"),
        (lambda spec: spec["cases"][1].update(minScore=-0.1), "spec.cases[1].minScore", "greater than or equal to 0"),
        (lambda spec: spec["cases"][0].update(scorers=["bleu"]), "spec.cases[0]", "the scorer bleu needs expected"),
        (
            lambda spec: spec["cases"][1].update(scorers=["regex"], expected="(unclosed"),
            "spec.cases[1]",
            "not a valid regular expression",
        ),
        (lambda spec: spec["cases"].append(dict(spec["cases"][0])), "spec", "two cases are named 'price'"),
        (lambda spec: spec.update(cases=[]), "spec.cases", "at least 1 item"),
        (lambda spec: spec.update(chatbot="nobody"), "spec.chatbot", "no Chatbot named 'nobody' in your account"),
    ],
)
def test_a_bad_suite_is_refused_at_its_field_path_and_nothing_is_stored(
    owner: Persona, change: Any, loc: str, message: str
) -> None:
    apply(owner, chatbot_manifest())
    manifest = suite_manifest(copy.deepcopy(GOLDEN_CASES))
    change(manifest["spec"])

    response = apply(owner, manifest)

    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert any(error["loc"] == loc and message in error["msg"] for error in errors), errors
    assert not TestSuite.objects.filter(account=owner.account).exists()


def test_a_suite_cannot_name_another_accounts_chatbot(owner: Persona, outsider: Persona) -> None:
    apply(outsider, chatbot_manifest())

    response = apply(owner, suite_manifest(GOLDEN_CASES))

    assert response.status_code == 400
    assert response.json()["errors"] == [{"loc": "spec.chatbot", "msg": "no Chatbot named 'support' in your account"}]
    assert not TestSuite.objects.exists()


def test_another_accounts_suite_is_not_found(owner: Persona, teammate: Persona, outsider: Persona) -> None:
    apply(owner, chatbot_manifest())
    apply(owner, suite_manifest(GOLDEN_CASES))

    assert teammate.client.get("/api/v1/cli/describe/TestSuite/support_golden/").status_code == 200
    assert outsider.client.get("/api/v1/cli/describe/TestSuite/support_golden/").status_code == 404
    assert outsider.client.delete("/api/v1/cli/delete/TestSuite/support_golden/").status_code == 404
    assert TestSuite.objects.filter(account=owner.account).count() == 1
