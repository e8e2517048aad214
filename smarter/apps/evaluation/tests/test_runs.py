"""A suite run end to end: cases asked through the turn pipeline against a stub upstream on
loopback that answers per prompt, scored, counted; an upstream failure is an error, not a 0."""

from __future__ import annotations

from typing import Any

import pytest

from smarter.apps.account.tests.factories import Persona
from smarter.apps.chat.models import Chat
from smarter.apps.evaluation import services
from smarter.apps.evaluation.models import EvalResult, EvalRun, TestSuite
from smarter.apps.evaluation.tests.suites import (
    GOLDEN_CASES,
    chatbot_manifest,
    failing_upstream,
    golden_upstream,
    suite_manifest,
)
from smarter.testing.openai_stub import OpenAIStub

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def upstream(platform_upstream: OpenAIStub) -> OpenAIStub:
    return platform_upstream


def apply(persona: Persona, manifest: dict[str, Any]) -> None:
    response = persona.client.post("/api/v1/cli/apply/", manifest, format="json")
    assert response.status_code == 200, response.content


def start(persona: Persona, **options: Any) -> EvalRun:
    suite = TestSuite.objects.get(account=persona.account, name="support_golden")
    run = services.eval_run_start(account=persona.account, suite=suite, user=persona.user, **options)
    run.refresh_from_db()
    return run


def results(run: EvalRun) -> dict[str, EvalResult]:
    return {result.case: result for result in EvalResult.objects.filter(run=run)}


def test_a_run_asks_every_case_through_the_pipeline_scores_it_and_fails_below_its_threshold(
    upstream: OpenAIStub, owner: Persona
) -> None:
    upstream.respond_with(golden_upstream)
    apply(owner, chatbot_manifest())
    apply(owner, suite_manifest(GOLDEN_CASES, threshold=0.9))

    run = start(owner)

    assert run.status == "failed"  # 4 of 5 pass ("exact_colour" does not), below 0.9
    assert (run.cases, run.passed, run.failed, run.errors, run.completed) == (5, 4, 1, 0, 5)
    assert run.pass_rate == pytest.approx(0.8)
    found = results(run)
    assert found["price"].passed is True
    assert found["price"].scores == {"contains": 1.0}
    assert found["exact_colour"].passed is False
    assert found["exact_colour"].answer == "Red and teal."
    assert found["exact_colour"].details == {"exact": "expected 'Teal.'"}
    assert found["sum"].tool_calls == [{"name": "calculator", "arguments": {"expression": "17 + 25"}}]
    assert found["sum"].scores == {"contains": 1.0, "tools": 1.0}
    assert found["sum"].answer == "17 plus 25 is 42."
    assert found["no_refunds_talk"].scores == {"contains": 1.0, "tools": 1.0}
    assert found["follow_up"].answer == "Your name is Ada."
    assert found["follow_up"].scores == {"rouge": 1.0}
    assert all(result.tokens > 0 and result.latency_ms is not None for result in found.values())
    # Each attempt is its own conversation on the evaluation channel (6 turns: one case has two).
    assert Chat.objects.filter(account=owner.account, channel="evaluation").count() == 5
    assert run.model == "gpt-4o-mini"
    assert run.chatbot_version == 1
    assert len(run.config_hash) == 64


def test_a_run_at_its_threshold_passes_and_repeat_asks_each_case_k_times(upstream: OpenAIStub, owner: Persona) -> None:
    upstream.respond_with(golden_upstream)
    apply(owner, chatbot_manifest())
    apply(owner, suite_manifest(GOLDEN_CASES, threshold=0.8))

    run = start(owner, repeat=2)

    assert run.status == "passed"
    assert (run.passed, run.failed, run.errors) == (4, 1, 0)
    assert EvalResult.objects.filter(run=run).count() == 10
    assert sorted(EvalResult.objects.filter(run=run, case="price").values_list("attempt", flat=True)) == [1, 2]


def test_an_upstream_failure_mid_run_makes_errored_cases_and_an_error_run_never_a_score_of_zero(
    upstream: OpenAIStub, owner: Persona
) -> None:
    upstream.respond_with(failing_upstream)
    apply(owner, chatbot_manifest())
    apply(owner, suite_manifest(GOLDEN_CASES))

    run = start(owner)

    assert run.status == "error"
    assert (run.passed, run.failed, run.errors) == (3, 1, 1)
    errored = results(run)["no_refunds_talk"]
    assert errored.passed is None
    assert errored.score is None
    assert errored.scores == {}
    assert errored.error.startswith("502 ")
    assert run.pass_rate == pytest.approx(3 / 4)  # of the scored cases only

    # The upstream is back: a retry asks the errored case alone, and the run settles.
    upstream.respond_with(golden_upstream)
    asked_before = len(upstream.chat_requests)
    run = services.eval_run_retry(run=run)
    run.refresh_from_db()

    assert run.status == "passed"  # 4 of 5, the suite's 0.8
    assert (run.passed, run.failed, run.errors) == (4, 1, 0)
    assert len(upstream.chat_requests) == asked_before + 1


def test_a_run_pins_an_earlier_chatbot_version_as_that_versions_prompt_and_model(
    upstream: OpenAIStub, owner: Persona
) -> None:
    upstream.respond_with(golden_upstream)
    apply(owner, chatbot_manifest())
    apply(owner, chatbot_manifest(defaultSystemRole="You are terse.", defaultModel="stub-model"))
    apply(owner, suite_manifest(GOLDEN_CASES[:1]))

    run = start(owner, chatbot_version=1)

    assert (run.status, run.chatbot_version, run.model) == ("passed", 1, "gpt-4o-mini")
    sent = upstream.chat_requests[-1].body
    assert sent["model"] == "gpt-4o-mini"
    assert sent["messages"][0]["content"].startswith("You sell Gizmos.")


def test_a_runs_turns_are_billed_and_shown_apart_as_evaluation_traffic_in_usage(
    upstream: OpenAIStub, owner: Persona
) -> None:
    upstream.respond_with(golden_upstream)
    apply(owner, chatbot_manifest())
    apply(owner, suite_manifest(GOLDEN_CASES))
    chatted = owner.client.post("/api/v1/chatbots/support/chat/", {"prompt": "What does a Gizmo cost?"}, format="json")
    assert chatted.status_code == 200, chatted.content

    start(owner)
    usage = owner.client.get("/api/v1/usage/", {"group_by": "channel"}).json()["data"]

    requests_by_channel = {row["key"]: row["requests"] for row in usage["rows"]}
    assert requests_by_channel == {"api": 1, "evaluation": 6}  # 5 cases, one of two turns
    assert all(row["cost"] > 0 for row in usage["rows"])
