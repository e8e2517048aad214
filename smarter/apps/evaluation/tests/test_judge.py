"""The judge scorer: a model asked k times per answer against the suite's rubric, through the
platform's provider or one of the account's, reported as the mean and spread of its samples; a
malformed verdict asked once more, a second one an errored case (never a 0); every judge call
charged on the evaluation channel as a turn is."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from smarter.apps.account.billing.models import Charge, UsageEvent
from smarter.apps.account.tests.factories import Persona
from smarter.apps.evaluation import services
from smarter.apps.evaluation.models import EvalRun, TestSuite
from smarter.apps.evaluation.scorers.judge import MalformedVerdict, read_verdict
from smarter.apps.evaluation.tests.judging import ScriptedJudge, is_judge_call, judge_section, verdict
from smarter.apps.evaluation.tests.suites import chatbot_manifest, golden_upstream, suite_manifest
from smarter.testing.openai_stub import OpenAIStub

pytestmark = pytest.mark.django_db(transaction=True)

PRICE_ANSWER = "A Gizmo costs $12.50."
RETURNS_ANSWER = "You can return a Gizmo within 30 days."
COLOUR_ANSWER = "Red and teal."
JUDGED_CASES: list[dict[str, Any]] = [
    {"name": "price", "prompt": "What does a Gizmo cost?", "scorers": ["judge"]},
    {
        "name": "returns",
        "prompt": "Tell me about returns.",
        "scorers": ["judge"],
        "rubric": "It names the return period.",
        "minScore": 0.7,
    },
    {"name": "colour", "prompt": "Which colour is the Gizmo?", "expected": "Teal.", "scorers": ["judge", "exact"]},
]


@pytest.fixture
def upstream(platform_upstream: OpenAIStub) -> OpenAIStub:
    return platform_upstream


def apply(persona: Persona, manifest: dict[str, Any]) -> Any:
    return persona.client.post("/api/v1/cli/apply/", {"apiVersion": "smarter.sh/v1", **manifest}, format="json")


def own_provider(persona: Persona, base_url: str, key: str = "sk-g", name: str = "grader") -> None:
    """A Provider of the persona's account (and the Secret holding its key)."""
    secret = apply(persona, {"kind": "Secret", "metadata": {"name": f"{name}_key"}, "spec": {"config": {"value": key}}})
    assert secret.status_code == 200, secret.content
    provider = {"baseUrl": base_url, "apiKey": f"{name}_key", "defaultModel": "stub-model"}
    applied = apply(persona, {"kind": "Provider", "metadata": {"name": name}, "spec": {"provider": provider}})
    assert applied.status_code == 200, applied.content


def judged_suite(judge: dict[str, Any] | None, cases: list[dict[str, Any]] = JUDGED_CASES) -> dict[str, Any]:
    manifest = suite_manifest(copy.deepcopy(cases))
    if judge is not None:
        manifest["spec"]["judge"] = judge
    return manifest


def start(persona: Persona) -> EvalRun:
    suite = TestSuite.objects.get(account=persona.account, name="support_golden")
    run = services.eval_run_start(account=persona.account, suite=suite, user=persona.user)
    run.refresh_from_db()
    return run


def results_of(persona: Persona, run: EvalRun) -> dict[str, dict[str, Any]]:
    detail = persona.client.get(f"/api/v1/evals/support_golden/runs/{run.pk}/").json()["data"]
    return {result["case"]: result for result in detail["results"]}


def test_the_judge_samples_each_answer_k_times_and_reports_their_mean_and_spread(
    upstream: OpenAIStub, owner: Persona
) -> None:
    judge = ScriptedJudge(
        golden_upstream,
        **{
            PRICE_ANSWER: [verdict(0.6), verdict(0.8), verdict(1.0)],
            # The first call's reply is prose: that sample is asked once more.
            RETURNS_ANSWER: ["The answer is fine, I'd say 0.9.", verdict(0.9), verdict(0.6), verdict(0.3)],
            # Never the JSON asked for: each sample asks twice, then the case is an error.
            COLOUR_ANSWER: ["Score: 0.2", '```json\n{"score": 0.2}\n```', '{"score": 7}', '{"verdict": 1}'],
        },
    )
    upstream.respond_with(judge)
    apply(owner, chatbot_manifest())
    assert apply(owner, judged_suite(judge_section())).status_code == 200

    run = start(owner)

    assert run.status == "error"
    assert (run.cases, run.passed, run.failed, run.errors) == (3, 1, 1, 1)
    found = results_of(owner, run)
    price, returns, colour = found["price"], found["returns"], found["colour"]
    assert (price["passed"], price["score"], price["scores"]) == (True, 0.8, {"judge": 0.8})
    assert sorted(price["samples"]["judge"]) == [0.6, 0.8, 1.0]
    assert price["spread"] == {"judge": 0.2}
    assert price["details"]["judge"].startswith("mean 0.800, spread 0.200 over 3 samples: ok | ok | ok")
    assert (returns["passed"], returns["score"], returns["scores"]) == (False, 0.6, {"judge": 0.6})
    assert sorted(returns["samples"]["judge"]) == [0.3, 0.6, 0.9]
    assert returns["spread"] == {"judge": 0.3}
    assert colour["passed"] is None
    assert colour["score"] is None
    assert colour["scores"] == {}
    assert colour["answer"] == COLOUR_ANSWER
    assert colour["error"].startswith("502 The judge's reply was not the JSON asked for, twice: ")
    assert judge.asked == {PRICE_ANSWER: 3, RETURNS_ANSWER: 4, COLOUR_ANSWER: 6}

    # The judge saw the rubric, the case's own criteria, the question and the reference answer.
    judge_calls = [request for request in upstream.chat_requests if is_judge_call(request)]
    returns_prompt = next(r.messages[1]["content"] for r in judge_calls if RETURNS_ANSWER in r.messages[1]["content"])
    assert returns_prompt == (
        "Rubric:\nThe answer states the price in dollars and is polite.\n\n"
        "For this question also:\nIt names the return period.\n\n"
        "The user's messages, in order:\n- Tell me about returns.\n\n"
        f"The chatbot's answer to grade:\n{RETURNS_ANSWER}"
    )
    colour_prompt = next(r.messages[1]["content"] for r in judge_calls if COLOUR_ANSWER in r.messages[1]["content"])
    assert "A reference answer (a good answer need not repeat it word for word):\nTeal." in colour_prompt
    assert {(r.body["model"], "max_tokens" in r.body, "temperature" in r.body) for r in judge_calls} == {
        ("gpt-4o-mini", False, False)
    }

    # Every judge call (13, the malformed ones too) is charged to the account as a turn is.
    judged = Charge.objects.filter(account=owner.account, turn_id__isnull=True)
    assert judged.count() == 13
    assert set(judged.values_list("kind", "channel", "provider", "model", "chatbot_name")) == {
        ("completion", "evaluation", "openai", "gpt-4o-mini", "support")
    }
    assert all(charge.cost > Decimal(0) and charge.total_tokens > 0 for charge in judged)
    assert UsageEvent.objects.filter(account=owner.account, key__startswith=f"judge-{run.pk}-").count() == 13
    assert Charge.objects.filter(account=owner.account, turn_id__isnull=False).count() == 3


def test_a_judge_on_the_accounts_own_provider_scores_on_a_one_to_five_scale(
    upstream: OpenAIStub, owner: Persona
) -> None:
    upstream.respond_with(golden_upstream)
    with OpenAIStub() as grader:
        grader.respond_with(ScriptedJudge(golden_upstream, **{PRICE_ANSWER: [verdict(4), verdict(5), verdict(3)]}))
        own_provider(owner, grader.url)
        apply(owner, chatbot_manifest())
        judge = judge_section(provider="grader", scale="1-5", temperature=0.9)
        assert apply(owner, judged_suite(judge, JUDGED_CASES[:1])).status_code == 200

        run = start(owner)

        assert (run.status, run.passed, run.errors) == ("passed", 1, 0)
        price = results_of(owner, run)["price"]
        assert price["scores"] == {"judge": 0.75}
        assert sorted(price["samples"]["judge"]) == [0.5, 0.75, 1.0]
        assert price["spread"] == {"judge": 0.25}
        asked = grader.chat_requests
        assert len(asked) == 3
        assert {(r.authorization, r.body["model"], r.body["temperature"]) for r in asked} == {
            ("Bearer sk-g", "stub-model", 0.9)
        }
        assert "a number from 1 to 5" in asked[0].messages[0]["content"]
    assert not any(is_judge_call(request) for request in upstream.chat_requests)
    judged = Charge.objects.filter(account=owner.account, turn_id__isnull=True)
    assert set(judged.values_list("provider", "model")) == {("grader", "stub-model")}
    assert judged.count() == 3


def test_a_judge_whose_provider_was_deleted_errors_its_cases_and_asks_no_one(
    upstream: OpenAIStub, owner: Persona
) -> None:
    upstream.respond_with(golden_upstream)
    own_provider(owner, upstream.url)
    apply(owner, chatbot_manifest())
    assert apply(owner, judged_suite(judge_section(provider="grader"), JUDGED_CASES[:1])).status_code == 200
    assert owner.client.delete("/api/v1/cli/delete/Provider/grader/").status_code == 200

    run = start(owner)

    assert (run.status, run.errors) == ("error", 1)
    assert results_of(owner, run)["price"]["error"] == "400 The judge's provider 'grader' no longer exists."
    assert not any(is_judge_call(request) for request in upstream.chat_requests)


@pytest.mark.parametrize(
    ("judge", "cases", "loc", "message"),
    [
        (judge_section(provider="grader"), JUDGED_CASES, "spec.judge.provider", "'grader' is none"),
        (judge_section(provider="offline"), JUDGED_CASES, "spec.judge.provider", "the offline model cannot judge"),
        (
            judge_section(model="my-own-model"),
            JUDGED_CASES,
            "spec.judge.model",
            "model 'my-own-model' has no price on this platform",
        ),
        (judge_section(samples=0), JUDGED_CASES, "spec.judge.samples", "greater than or equal to 1"),
        (judge_section(samples=11), JUDGED_CASES, "spec.judge.samples", "less than or equal to 10"),
        (judge_section(scale="1-10"), JUDGED_CASES, "spec.judge.scale", "Input should be"),
        ({"samples": 3}, JUDGED_CASES, "spec.judge.rubric", "Field required"),
        (None, JUDGED_CASES, "spec", "the case 'price' names the judge scorer: give the suite a judge"),
    ],
)
def test_a_bad_judge_is_refused_at_its_field_path_and_nothing_is_stored(
    upstream: OpenAIStub,
    owner: Persona,
    judge: dict[str, Any] | None,
    cases: list[dict[str, Any]],
    loc: str,
    message: str,
) -> None:
    apply(owner, chatbot_manifest())

    response = apply(owner, judged_suite(judge, cases))

    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert any(error["loc"] == loc and message in error["msg"] for error in errors), errors
    assert not TestSuite.objects.filter(account=owner.account).exists()


def test_another_accounts_provider_is_as_unknown_to_a_judge_as_a_name_nobody_has(
    upstream: OpenAIStub, owner: Persona, outsider: Persona
) -> None:
    own_provider(outsider, upstream.url, key="sk-o")
    apply(owner, chatbot_manifest())

    theirs = apply(owner, judged_suite(judge_section(provider="grader")))
    nobodys = apply(owner, judged_suite(judge_section(provider="nobodys")))

    assert theirs.status_code == nobodys.status_code == 400
    assert theirs.json()["errors"] == [
        {"loc": "spec.judge.provider", "msg": "must be openai or a Provider of your account; 'grader' is none"}
    ]
    assert nobodys.json()["errors"] == [
        {"loc": "spec.judge.provider", "msg": "must be openai or a Provider of your account; 'nobodys' is none"}
    ]


def test_the_judge_section_is_part_of_the_suites_version(upstream: OpenAIStub, owner: Persona) -> None:
    apply(owner, chatbot_manifest())
    apply(owner, judged_suite(judge_section()))
    apply(owner, judged_suite(judge_section(samples=5)))

    described = owner.client.get("/api/v1/cli/describe/TestSuite/support_golden/").json()["data"]

    assert described["spec"]["judge"] == {
        "provider": None,
        "model": None,
        "rubric": judge_section()["rubric"],
        "samples": 5,
        "scale": "0-1",
        "temperature": None,
    }
    assert described["status"]["version"] == 2
    suite = TestSuite.objects.get(account=owner.account)
    assert [version.spec["judge"]["samples"] for version in suite.versions.all()] == [5, 3]


@pytest.mark.parametrize(
    ("reply", "scale", "value"),
    [
        ('{"score": 0.25, "reason": "vague"}', "0-1", 0.25),
        ('{"score": 1}', "0-1", 1.0),
        ('{"score": 2, "reason": "weak"}', "1-5", 0.25),
        ('{"score": 5}', "1-5", 1.0),
    ],
)
def test_a_verdict_is_read_onto_zero_to_one(reply: str, scale: str, value: float) -> None:
    assert read_verdict(reply, scale).value == value


@pytest.mark.parametrize(
    ("reply", "scale", "problem"),
    [
        ("0.8", "0-1", 'not an object with a "score"'),
        ("The score is 0.8", "0-1", "not JSON"),
        ('```json\n{"score": 0.8}\n```', "0-1", "not JSON"),
        ('{"score": "high"}', "0-1", "the score is not a number: 'high'"),
        ('{"score": true}', "0-1", "the score is not a number: True"),
        ('{"score": 1.5}', "0-1", "the score 1.5 is outside 0 to 1"),
        ('{"score": 0}', "1-5", "the score 0 is outside 1 to 5"),
        ('{"score": NaN}', "0-1", "the score is not a number: nan"),
    ],
)
def test_a_malformed_verdict_is_never_read_as_a_score(reply: str, scale: str, problem: str) -> None:
    with pytest.raises(MalformedVerdict, match=problem.replace("(", r"\(")):
        read_verdict(reply, scale)
