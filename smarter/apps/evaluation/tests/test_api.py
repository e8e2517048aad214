"""`/api/v1/evals/<suite>/...` for an owner, a teammate and an outsider: starting runs, reading
them, comparing two, reviewing a result; bad bodies refused at their field, changing nothing."""

from __future__ import annotations

from typing import Any

import pytest

from smarter.apps.account.models import JournalEntry
from smarter.apps.account.tests.factories import Persona
from smarter.apps.evaluation.models import EvalRun
from smarter.apps.evaluation.tests.suites import GOLDEN_CASES, chatbot_manifest, golden_upstream, suite_manifest
from smarter.testing.openai_stub import OpenAIStub, RecordedRequest, ScriptedReply, text_reply

pytestmark = pytest.mark.django_db(transaction=True)
RUNS = "/api/v1/evals/support_golden/runs/"


@pytest.fixture
def upstream(platform_upstream: OpenAIStub) -> OpenAIStub:
    platform_upstream.respond_with(golden_upstream)
    return platform_upstream


@pytest.fixture
def suite(upstream: OpenAIStub, owner: Persona) -> None:
    for manifest in (chatbot_manifest(), suite_manifest(GOLDEN_CASES, threshold=0.8)):
        assert owner.client.post("/api/v1/cli/apply/", manifest, format="json").status_code == 200


def test_a_teammate_starts_a_run_and_reads_its_results(suite: None, teammate: Persona) -> None:
    started = teammate.client.post(RUNS, {"repeat": 1}, format="json")

    assert started.status_code == 202, started.content
    run_id = started.json()["data"]["id"]
    assert started.json()["data"]["status"] == "passed"  # tasks run in the web process here
    listed = teammate.client.get(RUNS).json()["data"]["items"]
    assert [(item["id"], item["status"], item["passed"], item["cases"]) for item in listed] == [
        (run_id, "passed", 4, 5)
    ]
    detail = teammate.client.get(f"{RUNS}{run_id}/").json()["data"]
    assert detail["passRate"] == 0.8
    assert detail["suiteVersion"] == 1
    assert detail["chatbotVersion"] == 1
    assert detail["model"] == "gpt-4o-mini"
    colour = next(result for result in detail["results"] if result["case"] == "exact_colour")
    assert colour["passed"] is False
    assert colour["answer"] == "Red and teal."
    assert colour["scores"] == {"exact": 0.0}
    assert colour["details"] == {"exact": "expected 'Teal.'"}
    total = next(result for result in detail["results"] if result["case"] == "sum")
    assert total["toolCalls"] == [{"name": "calculator", "arguments": {"expression": "17 + 25"}}]
    journaled = JournalEntry.objects.filter(account=teammate.account, command="eval")
    assert [(entry.kind, entry.name, entry.status_code) for entry in journaled] == [
        ("TestSuite", f"support_golden/{run_id}", 202)
    ]


def test_an_outsider_cannot_see_run_compare_or_review_another_accounts_suite(
    suite: None, owner: Persona, outsider: Persona
) -> None:
    run_id = owner.client.post(RUNS, {}, format="json").json()["data"]["id"]
    result_id = owner.client.get(f"{RUNS}{run_id}/").json()["data"]["results"][0]["id"]

    attempts = [
        outsider.client.get(RUNS),
        outsider.client.post(RUNS, {}, format="json"),
        outsider.client.get(f"{RUNS}{run_id}/"),
        outsider.client.post(f"{RUNS}{run_id}/cancel/"),
        outsider.client.post(f"{RUNS}{run_id}/retry/"),
        outsider.client.post(f"{RUNS}{run_id}/results/{result_id}/review/", {"rating": "good"}, format="json"),
        outsider.client.get(f"/api/v1/evals/support_golden/compare/?base={run_id}&head={run_id}"),
    ]

    assert [response.status_code for response in attempts] == [404] * 7
    assert EvalRun.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"repeat": 0}, "repeat"),
        ({"repeat": 11}, "repeat"),
        ({"temperature": 2.5}, "temperature"),
        ({"chatbotVersion": 7}, "chatbotVersion"),
        ({"model": ""}, "model"),
        ({"colour": "teal"}, "colour"),
        ([1, 2], "(root)"),
    ],
)
def test_a_run_asked_badly_is_refused_at_its_field_and_nothing_starts(
    suite: None, owner: Persona, upstream: OpenAIStub, body: Any, loc: str
) -> None:
    response = owner.client.post(RUNS, body, format="json")

    assert response.status_code == 400, response.content
    assert [error["loc"] for error in response.json()["errors"]] == [loc]
    assert EvalRun.objects.count() == 0
    assert upstream.chat_requests == []


def test_compare_lists_each_case_and_the_regressions_of_a_prompt_change(
    suite: None, owner: Persona, upstream: OpenAIStub
) -> None:
    base = owner.client.post(RUNS, {}, format="json").json()["data"]["id"]

    def worse(request: RecordedRequest) -> ScriptedReply | None:
        prompt = request.messages[-1].get("content") or ""
        if "Gizmo cost" in prompt:
            return text_reply("It is quite affordable.")  # lost the price
        if "colour" in prompt:
            return text_reply("Teal.")  # now right
        return golden_upstream(request)

    upstream.respond_with(worse)
    head = owner.client.post(RUNS, {}, format="json").json()["data"]["id"]

    compared = owner.client.get(f"/api/v1/evals/support_golden/compare/?base={base}&head={head}")

    assert compared.status_code == 200
    body = compared.json()["data"]
    assert body["regressions"] == ["price"]
    assert body["improvements"] == ["exact_colour"]
    price = next(case for case in body["cases"] if case["case"] == "price")
    assert price["base"] == {"passed": True, "score": 1.0}
    assert price["head"] == {"passed": False, "score": 0.0}
    assert price["scoreDelta"] == -1.0
    assert owner.client.get(f"/api/v1/evals/support_golden/compare/?base={base}").json()["errors"] == [
        {"loc": "head", "msg": "a run id is required"}
    ]


def test_a_reviewer_rates_a_result_once_and_may_change_the_rating(
    suite: None, owner: Persona, teammate: Persona
) -> None:
    run_id = owner.client.post(RUNS, {}, format="json").json()["data"]["id"]
    result_id = owner.client.get(f"{RUNS}{run_id}/").json()["data"]["results"][1]["id"]
    review = f"{RUNS}{run_id}/results/{result_id}/review/"

    assert (
        teammate.client.post(review, {"rating": "hallucinating", "note": "made up a colour"}, format="json").status_code
        == 200
    )
    changed = teammate.client.post(review, {"rating": "wrong", "note": "only the colour is wrong"}, format="json")
    refused = teammate.client.post(review, {"rating": "meh"}, format="json")

    assert changed.json()["data"]["reviews"] == [
        {"rating": "wrong", "note": "only the colour is wrong", "reviewer": teammate.username}
    ]
    assert refused.status_code == 400
    assert refused.json()["errors"] == [
        {"loc": "rating", "msg": "one of hallucinating, wrong, incomplete, acceptable, good, excellent"}
    ]


def test_a_finished_run_cannot_be_cancelled_and_one_without_errors_has_nothing_to_retry(
    suite: None, owner: Persona
) -> None:
    run_id = owner.client.post(RUNS, {}, format="json").json()["data"]["id"]

    cancel = owner.client.post(f"{RUNS}{run_id}/cancel/")
    retry = owner.client.post(f"{RUNS}{run_id}/retry/")

    assert (cancel.status_code, retry.status_code) == (409, 409)
    assert owner.client.get(f"{RUNS}{run_id}/").json()["data"]["status"] == "passed"
